"""Landing sensor: new files in the landing zone -> runs of exactly the bronze partitions they touch.

Every tick lists ``raw/<stream>/`` for the contract's streams and ``reference/`` (key, size,
ETag, last-modified; no object is read for that), compares the listing with the **ledger** of
files already seen and

- requests one run per (stream, plant, landing date) touched by new files:
  ``asset_selection=[bronze/<stream>]``, ``partition_key=MultiPartitionKey(date, plant)``
  plus the ``dagster/partition/date`` and ``dagster/partition/plant`` tags;
- requests ``reference/<entity>`` for new master-data snapshots, and adds the plants named
  in new ``reference/plants`` snapshots to the ``plant`` dynamic partitions (in the same
  ``SensorResult``, so they exist before the runs for them are created);
- records a file whose content equals a file already processed (same size and S3 ETag, or
  same size and sha256 on a local folder) as a ``duplicate`` and requests nothing for it;
- records a file whose partition was materialized by a run started after it landed (e.g. by
  ``manufacturing-assets run``) as ``already_ingested`` and requests nothing for it.

Downstream layers (silver D-1..D+1, quarantine, gold, marts) follow through the asset graph:
their assets carry :func:`plant_day_automation_condition`, evaluated by the automation
condition sensor (``plant_day_automation``), so a late file for an old date recomputes that
date's bronze, then every silver date whose window includes it, then their gold.

The ledger is an append-only Delta table under the lake root (``_system/landing_ledger``):
local or ``s3://``, it grows without bound, unlike a sensor cursor. The cursor only holds the
number of the last tick whose result Dagster accepted; ledger rows of a later tick (a tick
that wrote the ledger and then died) are replayed with the same run keys, and Dagster
drops run requests whose run key it has already seen. See ``docs/ingestion.md``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import socket
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from dagster import (
    AddDynamicPartitionsRequest,
    AssetKey,
    AssetRecordsFilter,
    DagsterInstance,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from manufacturing_assets.contract import REFERENCE_ENTITIES, STREAMS
from manufacturing_assets.ingest.readers import parse_landing_key
from manufacturing_assets.partitions import (
    DATE_DIMENSION,
    PLANT_DIMENSION,
    date_partitions,
    partition_key,
)
from manufacturing_assets.resources.landing_zone import LandedObject, LandingZone
from manufacturing_assets.resources.ledger import (
    ALREADY_INGESTED,
    CHANGED,
    DUPLICATE,
    HASHED,
    IGNORED,
    LEDGER_SCHEMA,
    NEW,
    OUT_OF_RANGE,
    PROCESSED,
    REQUESTED,
    LandingLedger,
    ledger_uri,
)

log = logging.getLogger(__name__)

LANDING_SENSOR_NAME = "landing_sensor"
# Listed concurrently (one ListObjectsV2 stream per prefix on S3); other keys are not looked at.
LISTED_PREFIXES = (*(f"raw/{s}/" for s in STREAMS), "reference/")
BRONZE_KEYS = {s: AssetKey(["bronze", s]) for s in STREAMS}
REFERENCE_KEYS = {e: AssetKey(["reference", e]) for e in REFERENCE_ENTITIES}


# ---------------------------------------------------------------- automation downstream


# ---------------------------------------------------------------- the ledger


# ---------------------------------------------------------------- one tick


@dataclass
class TickPlan:
    """What one tick decided: run requests, new plants and the ledger rows to append."""

    run_requests: list[RunRequest]
    new_plants: list[str]
    rows: pl.DataFrame
    waiting: dict[str, int]  # reason -> files not recorded yet (retried next tick)
    tick: int
    listed: int
    replayed: int = 0

    def summary(self) -> str:
        counts = self.rows.group_by("status").len().sort("status") if self.rows.height else None
        parts = [f"{self.listed} objects listed"]
        if counts is not None:
            parts.append(", ".join(f"{n} {s}" for s, n in counts.iter_rows()))
        if self.new_plants:
            parts.append(f"new plants {self.new_plants}")
        if self.replayed:
            parts.append(f"{self.replayed} run request(s) replayed from an unfinished tick")
        for reason, n in sorted(self.waiting.items()):
            parts.append(f"{n} file(s) waiting: {reason}")
        parts.append(f"{len(self.run_requests)} run request(s)")
        return "; ".join(parts)


def _listing(landing: LandingZone) -> pl.DataFrame:
    """Every object under LISTED_PREFIXES: metadata only (key, size, ETag, last-modified)."""
    if landing.is_s3:
        landing._s3()  # create the (thread-safe) boto3 client once, before the threads
    with ThreadPoolExecutor(len(LISTED_PREFIXES)) as pool:
        parts = list(pool.map(lambda p: list(landing.list_objects(p)), LISTED_PREFIXES))
    objects: list[LandedObject] = [o for part in parts for o in part]
    return pl.DataFrame(
        {
            "key": [o.key for o in objects],
            "size": [o.size for o in objects],
            "etag": [o.etag for o in objects],
            "last_modified": [
                datetime.fromtimestamp(o.last_modified, UTC).replace(tzinfo=None) for o in objects
            ],
        },
        schema={
            "key": pl.String,
            "size": pl.Int64,
            "etag": pl.String,
            "last_modified": pl.Datetime("us"),
        },
    ).with_columns(pl.col("last_modified").dt.replace_time_zone("UTC"))


def _digest(parts: Iterable[str]) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


def _sha256_fingerprint(landing: LandingZone, key: str, size: int) -> str | None:
    try:
        data = landing.read_bytes(key)
    except Exception:  # noqa: BLE001 (vanished object: cannot be compared)
        return None
    return f"{size}:sha256:{hashlib.sha256(data).hexdigest()}"


def _plants_in_snapshot(landing: LandingZone, key: str) -> list[str]:
    """plant ids of a ``reference/plants`` snapshot (empty when it cannot be read)."""
    try:
        frame = pl.read_csv(landing.read_bytes(key), infer_schema=False)
    except Exception as exc:  # noqa: BLE001 (bad snapshot: reported by the reference asset)
        log.warning("cannot read plants snapshot %s: %s", key, exc)
        return []
    if "plant_id" not in frame.columns:
        return []
    ids = frame["plant_id"].str.strip_chars().drop_nulls().unique().to_list()
    return sorted(p for p in ids if p and _valid_plant_key(p))


def _valid_plant_key(plant: str) -> bool:
    return not any(c in plant for c in "|,[]") and plant.strip() == plant and bool(plant)


@functools.lru_cache(maxsize=65_536)
def _partition_str(plant: str, day: date) -> str:
    return str(partition_key(plant, day))  # "YYYY-MM-DD|PLANT" (MultiPartitionKey is slow)


def _target(f: dict[str, Any]) -> tuple[AssetKey, str | None]:
    """The asset (and partition) a landed file feeds."""
    if f["kind"] == "raw":
        return BRONZE_KEYS[f["stream"]], _partition_str(f["plant_id"], f["landing_date"])
    return REFERENCE_KEYS[f["stream"]], None


def _already_ingested(
    instance: DagsterInstance, files: list[dict[str, Any]], page: int = 5_000
) -> set[str]:
    """Keys of files whose asset partition was materialized by a run started after they landed.

    Happens when the sensor is switched on over a landing zone already processed by
    `manufacturing-assets run`, a manual materialization or a backfill. One event-log query
    per asset (only materializations after the earliest candidate landed) and one run query.
    """
    by_asset: dict[AssetKey, list[dict[str, Any]]] = defaultdict(list)
    for f in files:
        by_asset[_target(f)[0]].append(f)
    runs_of: dict[tuple[AssetKey, str | None], list[str]] = defaultdict(list)
    for asset_key, group in by_asset.items():
        partitions = sorted({p for p in (_target(f)[1] for f in group) if p is not None})
        records_filter = AssetRecordsFilter(
            asset_key=asset_key,
            asset_partitions=partitions or None,
            after_timestamp=min(f["last_modified"] for f in group).timestamp(),
        )
        cursor = None
        while True:
            result = instance.fetch_materializations(records_filter, limit=page, cursor=cursor)
            for record in result.records:
                runs_of[(asset_key, record.partition_key)].append(record.run_id)
            if not result.has_more:
                break
            cursor = result.cursor
    if not runs_of:
        return set()
    run_ids = sorted({r for runs in runs_of.values() for r in runs})
    starts = {
        r.dagster_run.run_id: r.start_time
        for r in instance.get_run_records(RunsFilter(run_ids=run_ids))
    }
    done: set[str] = set()
    for f in files:
        landed = f["last_modified"].timestamp()
        if any((starts.get(r) or 0.0) > landed for r in runs_of.get(_target(f), [])):
            done.add(f["key"])
    return done


def _bronze_request(
    stream: str, plant: str, day: str, keys_etags: Sequence[tuple[str, str]]
) -> RunRequest:
    run_key = f"bronze/{stream}/{day}|{plant}/{_digest(f'{k}@{e}' for k, e in keys_etags)}"
    return RunRequest(
        run_key=run_key,
        asset_selection=[BRONZE_KEYS[stream]],
        partition_key=partition_key(plant, day),
        tags={
            f"dagster/partition/{DATE_DIMENSION}": day,
            f"dagster/partition/{PLANT_DIMENSION}": plant,
            "landing/files": str(len(keys_etags)),
            "landing/stream": stream,
        },
    )


def _reference_request(entity: str, keys_etags: Sequence[tuple[str, str]]) -> RunRequest:
    run_key = f"reference/{entity}/{_digest(f'{k}@{e}' for k, e in keys_etags)}"
    return RunRequest(
        run_key=run_key,
        asset_selection=[REFERENCE_KEYS[entity]],
        tags={"landing/files": str(len(keys_etags)), "landing/entity": entity},
    )


def _requests_for(rows: list[dict[str, Any]]) -> dict[str, RunRequest]:
    """Group requested ledger rows into run requests; stamps ``run_key`` on each row."""
    raw: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    ref: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["kind"] == "raw":
            raw[(row["stream"], row["plant_id"], row["landing_date"].isoformat())].append(row)
        else:
            ref[row["stream"]].append(row)
    requests: dict[str, RunRequest] = {}
    for (stream, plant, day), group in sorted(raw.items()):
        req = _bronze_request(stream, plant, day, sorted((r["key"], r["etag"]) for r in group))
        for r in group:
            r["run_key"] = req.run_key
        requests[req.run_key] = req  # type: ignore[index]
    for entity, group in sorted(ref.items()):
        req = _reference_request(entity, sorted((r["key"], r["etag"]) for r in group))
        for r in group:
            r["run_key"] = req.run_key
        requests[req.run_key] = req  # type: ignore[index]
    return requests


def _replay(unacked: pl.DataFrame, known_plants: set[str]) -> list[RunRequest]:
    """Run requests of ledger rows written by ticks the cursor never acknowledged."""
    rows = unacked.to_dicts()
    by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r["kind"] == "raw" and r["plant_id"] not in known_plants:
            continue
        by_key[r["run_key"]].append(r)
    out = []
    for run_key, group in by_key.items():
        first = group[0]
        pairs = sorted((r["key"], r["etag"]) for r in group)
        if first["kind"] == "raw":
            req = _bronze_request(
                first["stream"], first["plant_id"], first["landing_date"].isoformat(), pairs
            )
        else:
            req = _reference_request(first["stream"], pairs)
        out.append(req.with_replaced_attrs(run_key=run_key))
    return out


def plan_tick(
    landing: LandingZone,
    ledger: pl.DataFrame,
    instance: DagsterInstance,
    acked_tick: int | None,
    now: datetime | None = None,
) -> TickPlan:
    """Decide one tick (pure apart from reading the listing, a few objects and the instance)."""
    now = now or datetime.now(UTC)
    tick = max(acked_tick or 0, int(ledger["tick"].max() or 0) if ledger.height else 0) + 1
    listing = _listing(landing)

    # Latest state of every key already in the ledger (bookkeeping rows excluded).
    seen = (
        ledger.filter(pl.col("status") != HASHED)
        .group_by("key")
        .agg(pl.col("etag").sort_by("tick").last().alias("seen_etag"))
    )
    fresh = listing.join(seen, on="key", how="left").filter(
        pl.col("seen_etag").is_null() | (pl.col("seen_etag") != pl.col("etag"))
    )

    known_plants = set(instance.get_dynamic_partitions(PLANT_DIMENSION))
    last_day = date_partitions.get_last_partition_key() or "9999-12-31"
    first_day = date_partitions.start.date().isoformat()

    rows: list[dict[str, Any]] = []
    waiting: dict[str, int] = defaultdict(int)
    candidates: list[dict[str, Any]] = []  # raw files that may be processed
    reference_rows: list[dict[str, Any]] = []
    plants_snapshots: list[str] = []

    def row(obj: dict[str, Any], **values: Any) -> dict[str, Any]:
        base = {c: None for c in LEDGER_SCHEMA}
        base.update(
            key=obj["key"],
            size=obj["size"],
            etag=obj["etag"],
            last_modified=obj["last_modified"],
            first_seen=now,
            tick=tick,
        )
        base.update(values)
        return base

    for obj in fresh.iter_rows(named=True):
        status = CHANGED if obj["seen_etag"] is not None else NEW
        key = obj["key"]
        if key.startswith("reference/"):
            parts = key.split("/")
            entity = parts[1] if len(parts) == 4 else None
            if (
                entity not in REFERENCE_ENTITIES
                or not parts[2].startswith("snapshot_date=")
                or not key.endswith(".csv")
            ):
                rows.append(row(obj, kind="other", status=IGNORED, detail="not a snapshot key"))
                continue
            r = row(obj, kind="reference", stream=entity, status=status)
            reference_rows.append(r)
            if entity == "plants":
                plants_snapshots.append(key)
            continue
        parsed = parse_landing_key(key)
        if parsed is None or parsed.stream not in STREAMS:
            detail = "not raw/<stream>/plant=/date=/<file>" if parsed is None else "unknown stream"
            rows.append(row(obj, kind="other", status=IGNORED, detail=detail))
            continue
        day = parsed.landing_date.isoformat()
        info = dict(
            kind="raw",
            stream=parsed.stream,
            plant_id=parsed.plant_id,
            landing_date=parsed.landing_date,
        )
        if day < first_day or not _valid_plant_key(parsed.plant_id):
            detail = f"date before {first_day}" if day < first_day else "invalid plant id"
            rows.append(row(obj, status=OUT_OF_RANGE, detail=detail, **info))
            continue
        if day > last_day:
            waiting[f"date after {last_day}"] += 1
            continue
        candidates.append(row(obj, status=status, **info))

    # Plants: every plant of a new plants snapshot; if raw files name an unknown plant, also
    # the plants of the latest snapshot (master data may have landed before the ledger).
    new_plants: set[str] = set()
    for key in plants_snapshots:
        new_plants.update(_plants_in_snapshot(landing, key))
    if any(c["plant_id"] not in known_plants | new_plants for c in candidates):
        snapshots = listing.filter(pl.col("key").str.starts_with("reference/plants/"))["key"]
        latest = max(snapshots.to_list(), default=None)
        if latest and latest not in plants_snapshots:
            new_plants.update(_plants_in_snapshot(landing, latest))
    # Plants of runs replayed from an unacknowledged tick: that tick added them (its partition
    # request was lost with it), so add them again.
    unacked = (
        ledger.filter((pl.col("tick") > acked_tick) & pl.col("status").is_in(REQUESTED))
        if acked_tick is not None
        else ledger.clear()
    )
    new_plants.update(p for p in unacked["plant_id"].drop_nulls().unique().to_list())
    new_plants -= known_plants
    known_plants |= new_plants
    ready = []
    for c in candidates:
        if c["plant_id"] in known_plants:
            ready.append(c)
        else:
            waiting[f"plant {c['plant_id']} not in master data"] += 1

    # Duplicates: same size and content as a processed file (earlier tick, or earlier key now).
    processed = ledger.filter(pl.col("status").is_in(PROCESSED))
    fingerprints: dict[str, str] = {}
    if landing.is_s3:
        for c in ready:
            c["fingerprint"] = f"{c['size']}:etag:{c['etag']}"
        wanted = [c["fingerprint"] for c in ready]
        for fp, key in (
            processed.filter(pl.col("fingerprint").is_in(wanted))
            .select("fingerprint", "key")
            .iter_rows()
        ):
            fingerprints.setdefault(fp, key)
    else:
        # A local ETag is size+mtime: hash only files whose size collides with another file.
        sizes = pl.Series([c["size"] for c in ready], dtype=pl.Int64)
        batch_counts = sizes.value_counts()
        colliding = set(batch_counts.filter(pl.col("count") > 1).to_series(0).to_list())
        old = processed.filter(
            pl.col("size").is_in(sizes.unique().to_list()) & (pl.col("size") > 0)
        )
        colliding |= set(old["size"].to_list())
        hashed_old = (
            ledger.filter(pl.col("fingerprint").is_not_null())
            .group_by("key", "etag")
            .agg(pl.col("fingerprint").last())
        )
        known_fp = {(k, e): fp for k, e, fp in hashed_old.iter_rows()}
        for key, etag, size, lm in old.select("key", "etag", "size", "last_modified").iter_rows():
            fp = known_fp.get((key, etag))
            if fp is None:
                fp = _sha256_fingerprint(landing, key, size)
                if fp is None:
                    continue
                known_fp[(key, etag)] = fp
                rows.append(
                    row(
                        {"key": key, "size": size, "etag": etag, "last_modified": lm},
                        kind="raw",
                        fingerprint=fp,
                        status=HASHED,
                    )
                )
            fingerprints.setdefault(fp, key)
        for c in ready:
            if c["size"] in colliding and c["size"] > 0:
                c["fingerprint"] = _sha256_fingerprint(landing, c["key"], c["size"])

    originals: list[dict[str, Any]] = []
    for c in sorted(ready, key=lambda c: c["key"]):
        fp = c["fingerprint"]
        if fp is not None and c["size"] > 0:
            first = fingerprints.get(fp)
            if first is not None and first != c["key"]:
                c.update(status=DUPLICATE, duplicate_of=first, detail="same size and content")
                rows.append(c)
                continue
            fingerprints.setdefault(fp, c["key"])
        originals.append(c)

    done = (
        _already_ingested(instance, originals + reference_rows)
        if ready or reference_rows
        else set()
    )
    for c in originals + reference_rows:
        if c["key"] in done:
            c.update(
                status=ALREADY_INGESTED,
                detail="asset materialized by a run started after it landed",
            )
    to_request = [c for c in originals + reference_rows if c["status"] in REQUESTED]
    requests = _requests_for(to_request)
    rows.extend(originals)
    rows.extend(reference_rows)

    replay = _replay(unacked, known_plants)
    for req in replay:
        requests.setdefault(req.run_key, req)  # type: ignore[arg-type]

    frame = pl.DataFrame(rows, schema=LEDGER_SCHEMA) if rows else pl.DataFrame(schema=LEDGER_SCHEMA)
    return TickPlan(
        run_requests=list(requests.values()),
        new_plants=sorted(new_plants),
        rows=frame,
        waiting=dict(waiting),
        tick=tick,
        listed=listing.height,
        replayed=len(replay),
    )


def _parse_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        return int(json.loads(cursor)["acked_tick"])
    except (ValueError, KeyError, TypeError):
        return None


def evaluate_landing(
    context: SensorEvaluationContext, landing: LandingZone, ledger: LandingLedger
) -> SensorResult:
    """The landing sensor's evaluation (also used by the benchmark)."""
    started = time.perf_counter()
    acked = _parse_cursor(context.cursor)
    state = ledger.read()
    plan = plan_tick(landing, state, context.instance, acked)
    ledger.append(plan.rows)
    summary = f"{plan.summary()} ({time.perf_counter() - started:.2f}s)"
    context.log.info(summary)
    # Acknowledge this tick (or, with nothing written, everything in the ledger so far).
    cursor = json.dumps({"acked_tick": plan.tick if plan.rows.height else plan.tick - 1})
    dynamic = (
        [AddDynamicPartitionsRequest(PLANT_DIMENSION, plan.new_plants)] if plan.new_plants else []
    )
    if not plan.run_requests:
        return SensorResult(skip_reason=summary, cursor=cursor, dynamic_partitions_requests=dynamic)
    return SensorResult(
        run_requests=plan.run_requests, cursor=cursor, dynamic_partitions_requests=dynamic
    )


def build_landing_sensor(default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED):
    @sensor(
        name=LANDING_SENSOR_NAME,
        minimum_interval_seconds=30,
        default_status=default_status,
        target=[*BRONZE_KEYS.values(), *REFERENCE_KEYS.values()],
        description=(
            "Lists the landing zone, records every object in the ledger (<lake>/_system/"
            "landing_ledger) and requests bronze/<stream> for each plant x landing date touched by "
            "new files, reference/<entity> for new snapshots; adds new plants as partitions; "
            "re-deliveries of the same content are recorded as duplicates and not processed."
        ),
    )
    def landing_sensor(
        context: SensorEvaluationContext, landing: LandingZone, landing_ledger: LandingLedger
    ) -> SensorResult:
        return evaluate_landing(context, landing, landing_ledger)

    return landing_sensor


landing_sensor = build_landing_sensor()


# ---------------------------------------------------------------- benchmark


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on 127.0.0.1:{port}") from None
            time.sleep(0.1)


def _bench_files(n_files: int, plants: Sequence[str]) -> list[tuple[str, bytes]]:
    """``n_files`` small distinct files over 4 streams x plants x dates x 5 batches."""
    out = []
    per_day = len(STREAMS) * len(plants) * 5
    for i in range(n_files):
        day = date.fromordinal(date(2024, 1, 1).toordinal() + i // per_day).isoformat()
        rest = i % per_day
        stream = STREAMS[rest % len(STREAMS)]
        plant = plants[(rest // len(STREAMS)) % len(plants)]
        batch = rest // (len(STREAMS) * len(plants))
        body = json.dumps({"machine_id": f"{plant}-M001", "ts": f"{day}T00:00:00", "i": i})
        out.append((f"raw/{stream}/plant={plant}/date={day}/b{batch:02d}.jsonl", body.encode()))
    return out


def _bench_one(landing: LandingZone, ledger: LandingLedger, n_files: int) -> dict[str, Any]:
    from dagster import build_sensor_context, instance_for_test

    plants = ["P01", "P02", "P03", "P04", "P05"]
    files = _bench_files(n_files, plants)
    t0 = time.perf_counter()
    if landing.is_s3:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda kv: landing.write_bytes(*kv), files))
    else:  # plain writes: LandingZone.write_bytes fsyncs every file (slow, not what is measured)
        for key, data in files:
            path = os.path.join(landing.root, key)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(data)
    write_s = time.perf_counter() - t0
    with instance_for_test() as instance:
        instance.add_dynamic_partitions(PLANT_DIMENSION, plants)
        resources = {"landing": landing, "landing_ledger": ledger}

        def tick(cursor: str | None) -> tuple[SensorResult, float]:
            ctx = build_sensor_context(instance=instance, cursor=cursor, resources=resources)
            start = time.perf_counter()
            result = landing_sensor(ctx)
            return result, time.perf_counter() - start

        t0 = time.perf_counter()
        listed = sum(1 for _ in landing.list_objects("raw/"))
        list_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        _listing(landing)
        listing_s = time.perf_counter() - t0
        first, first_s = tick(None)
        second, second_s = tick(first.cursor)
        landing.write_bytes("raw/shots/plant=P01/date=2024-01-02/late.jsonl", b'{"late": 1}\n')
        third, third_s = tick(second.cursor)
    return {
        "files": n_files,
        "write_s": round(write_s, 2),
        "list_raw_sequential_s": round(list_s, 2),
        "list_parallel_s": round(listing_s, 2),  # what a tick spends listing
        "listed": listed,
        "first_tick_s": round(first_s, 2),
        "first_tick_run_requests": len(first.run_requests or []),
        "idle_tick_s": round(second_s, 2),
        "idle_tick_run_requests": len(second.run_requests or []),
        "late_file_tick_s": round(third_s, 2),
        "late_file_tick_run_requests": len(third.run_requests or []),
    }


def benchmark_landing_sensor(
    n_files: int = 10_000, backends: Sequence[str] = ("local", "s3")
) -> dict[str, dict[str, Any]]:
    """Time landing-sensor ticks over ``n_files`` new objects, on a local folder and moto S3.

    Per backend: the first tick (every file new), an idle tick (nothing new) and a tick with
    one late file. The S3 run starts a ``moto`` server process on a free 127.0.0.1 port (landing zone
    and ledger on it) and stops it afterwards.
    """
    results: dict[str, dict[str, Any]] = {}
    if "local" in backends:
        with tempfile.TemporaryDirectory() as tmp:
            landing = LandingZone(root=os.path.join(tmp, "landing"))
            ledger = LandingLedger(uri=ledger_uri(os.path.join(tmp, "lake")))
            results["local"] = _bench_one(landing, ledger, n_files)
    if "s3" in backends:
        import subprocess
        import sys

        import boto3

        # moto in its own process (as S3 would be), not sharing this interpreter's GIL.
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_for_port(port)
            endpoint = f"http://127.0.0.1:{port}"
            creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
            boto3.client(
                "s3", endpoint_url=endpoint, region_name="us-east-1", **creds
            ).create_bucket(Bucket="bench")
            landing = LandingZone(
                root="s3://bench/landing", endpoint_url=endpoint, region_name="us-east-1", **creds
            )
            ledger = LandingLedger(
                uri=ledger_uri("s3://bench/lake"),
                storage_options={
                    "AWS_ENDPOINT_URL": endpoint,
                    "AWS_ALLOW_HTTP": "true",
                    "AWS_REGION": "us-east-1",
                    "AWS_ACCESS_KEY_ID": "testing",
                    "AWS_SECRET_ACCESS_KEY": "testing",
                },
            )
            results["s3"] = _bench_one(landing, ledger, n_files)
        finally:
            server.terminate()
            server.wait(timeout=30)
    return results


if __name__ == "__main__":  # python -m manufacturing_assets.sensors.landing [n_files]
    import sys

    print(
        json.dumps(
            benchmark_landing_sensor(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000), indent=2
        )
    )
