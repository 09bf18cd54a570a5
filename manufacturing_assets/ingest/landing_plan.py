"""Landing tick planner: the landing zone's listing + the ledger -> run requests and ledger rows.

One tick lists ``raw/<stream>/`` for the contract's streams and ``reference/`` (key, size,
ETag, last-modified; no object is read for that), compares the listing with the **ledger** of
files already seen (``resources/ledger.py``) and

- requests one run per (stream, plant, landing date) touched by new files:
  ``asset_selection=[bronze/<stream>]``, ``partition_key=MultiPartitionKey(date, plant)``
  plus the ``dagster/partition/date`` and ``dagster/partition/plant`` tags;
- requests ``reference/<entity>`` for new master-data snapshots, and names the plants of new
  ``reference/plants`` snapshots as new ``plant`` dynamic partitions (the sensor adds them in
  the same ``SensorResult``, so they exist before the runs for them are created);
- records a file whose content equals a file already processed (same size and S3 ETag, or
  same size and sha256 on a local folder) as a ``duplicate`` and requests nothing for it;
- records a file whose partition was materialized by a run started after it landed (e.g. by
  ``manufacturing-assets run``) as ``already_ingested`` and requests nothing for it.

Ledger rows of a tick the sensor's cursor never acknowledged (a tick that wrote the ledger
and then died) are replayed with the same run keys; Dagster drops run requests whose run key
it has already seen.

Pure logic over the landing zone, the ledger frame and the instance's records (dynamic
partitions, materializations, runs): no sensor context, no asset definitions. The landing
sensor (``sensors/landing.py``) calls :func:`plan_tick` once per tick. See
``docs/ingestion.md``.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, RunRequest, RunsFilter

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
)

log = logging.getLogger(__name__)

# Listed concurrently (one ListObjectsV2 stream per prefix on S3); other keys are not looked at.
LISTED_PREFIXES = (*(f"raw/{s}/" for s in STREAMS), "reference/")
BRONZE_KEYS = {s: AssetKey(["bronze", s]) for s in STREAMS}
REFERENCE_KEYS = {e: AssetKey(["reference", e]) for e in REFERENCE_ENTITIES}


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


def list_landing_zone(landing: LandingZone) -> pl.DataFrame:
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
    listing = list_landing_zone(landing)

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
