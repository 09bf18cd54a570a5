"""Landing tick planner: the landing zone's listing + the ledger -> run requests and ledger rows.

One tick lists the landing zone (``ingest/routing.list_landing_zone``: key, size, ETag,
last-modified; no object is read for that), compares the listing with the **ledger** of
files already seen (``resources/ledger.py``) and

- requests one run per (stream, plant, landing date) touched by new files:
  ``asset_selection=[bronze/<stream>]``, ``partition_key=MultiPartitionKey(date, plant)``
  plus the ``dagster/partition/date`` and ``dagster/partition/plant`` tags;
- requests ``reference/<entity>`` for new master-data snapshots, and names the plants of new
  *accepted* ``reference/plants`` snapshots as new ``plant`` dynamic partitions (the sensor
  adds them in the same ``SensorResult``, so they exist before the runs for them are created);
- records a file whose content equals a file already processed (same size and S3 ETag, or
  same size and sha256 on a local folder) as a ``duplicate`` and requests nothing for it;
- records a file whose exact content the lake already holds under its key (``source`` and
  ``file_hash`` of ``bronze/<stream>`` or ``reference/<entity>``: e.g. processed by
  ``manufacturing-assets run`` before the sensor was switched on) as ``already_ingested``;
- records a file the platform cannot route (``ingest/routing.py``) as ``ignored`` with the
  reason, and lists every such file of the landing zone in :attr:`TickPlan.unroutable`.

"New or changed" is decided by key and content identity only, never by timestamps: a late
file whose modification time is older than the last run of its partition (``rsync -a``,
``cp -p``, ``tar``, S3 copy tools) is processed like any other new file.

Ledger rows of a tick the sensor's cursor never acknowledged (a tick that wrote the ledger
and then died) are replayed with the same run keys; Dagster drops run requests whose run key
it has already seen.

Pure logic over the landing zone, the ledger frame, the lake's lineage columns and the
instance's dynamic partitions: no sensor context, no asset definitions. The landing sensor
(``sensors/landing.py``) calls :func:`plan_tick` once per tick. See ``docs/ingestion.md``.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from dagster import AssetKey, DagsterInstance, RunRequest

from manufacturing_assets.contract import REFERENCE_ENTITIES, STREAMS
from manufacturing_assets.ingest.reference import accepted_plant_ids
from manufacturing_assets.ingest.routing import (
    RawRoute,
    SnapshotRoute,
    Unroutable,
    before_start_reason,
    is_safe_plant_id,
    list_landing_zone,
    route,
)
from manufacturing_assets.io_managers.delta import scan_delta
from manufacturing_assets.partitions import (
    DATE_DIMENSION,
    PLANT_DIMENSION,
    date_partitions,
    partition_key,
)
from manufacturing_assets.resources.landing_zone import LandingZone
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

__all__ = ["BRONZE_KEYS", "REFERENCE_KEYS", "Lake", "TickPlan", "list_landing_zone", "plan_tick"]

BRONZE_KEYS = {s: AssetKey(["bronze", s]) for s in STREAMS}
REFERENCE_KEYS = {e: AssetKey(["reference", e]) for e in REFERENCE_ENTITIES}
# A known key listed again with another ETag but the same content (a local file whose
# modification time alone changed): recorded so the new ETag is known, nothing to run.
UNCHANGED = "unchanged"
# Rows whose fingerprint is the content processed under their key.
KNOWN_CONTENT = (*PROCESSED, UNCHANGED, HASHED)
# At most this many objects are read per tick to compare them with the lake (S3: one GET
# each); the others wait for the next tick, so a tick stays far inside the sensor timeout
# when the sensor is first switched on over a big landing zone already processed.
MAX_LAKE_COMPARISONS = 2_000
LAKE_READ_THREADS = 16


@dataclass(frozen=True)
class Lake:
    """Where the lake's tables are (``<root>/<layer>/<table>``, the Delta IO manager's layout)
    and how to open them. The planner reads only the lineage columns ``source`` and
    ``file_hash`` of ``bronze/<stream>`` and ``reference/<entity>``."""

    root: str
    storage_options: Mapping[str, str] = field(default_factory=dict)

    def table_uri(self, layer: str, name: str) -> str:
        return f"{self.root.rstrip('/')}/{layer}/{name}"


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
    # every file of the landing zone the platform cannot route, now, and every local entry
    # the landing zone does not read (symbolic links ...): (key, reason)
    unroutable: list[tuple[str, str]] = field(default_factory=list)
    # plants snapshots read this tick and refused: key -> problems (no partitions from them)
    refused_plants: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> str:
        counts = self.rows.group_by("status").len().sort("status") if self.rows.height else None
        parts = [f"{self.listed} objects listed"]
        if counts is not None:
            parts.append(", ".join(f"{n} {s}" for s, n in counts.iter_rows()))
        if self.new_plants:
            parts.append(f"new plants {self.new_plants}")
        for key in sorted(self.refused_plants):
            parts.append(f"plants snapshot {key} refused (no new plants from it)")
        if self.replayed:
            parts.append(f"{self.replayed} run request(s) replayed from an unfinished tick")
        for reason, n in sorted(self.waiting.items()):
            parts.append(f"{n} file(s) waiting: {reason}")
        if self.unroutable:
            parts.append(f"{len(self.unroutable)} file(s) in the landing zone cannot be routed")
        parts.append(f"{len(self.run_requests)} run request(s)")
        return "; ".join(parts)


def _digest(parts: Iterable[str]) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


def _sha256_hex(landing: LandingZone, key: str) -> str | None:
    try:
        data = landing.read_bytes(key)
    except Exception:  # noqa: BLE001 (vanished or unreadable object: cannot be compared)
        return None
    return hashlib.sha256(data).hexdigest()


def _sha256_fingerprint(landing: LandingZone, key: str, size: int) -> str | None:
    digest = _sha256_hex(landing, key)
    return None if digest is None else f"{size}:sha256:{digest}"


@functools.lru_cache(maxsize=65_536)
def _partition_str(plant: str, day: date) -> str:
    return str(partition_key(plant, day))  # "YYYY-MM-DD|PLANT" (MultiPartitionKey is slow)


def _table_of(f: dict[str, Any]) -> tuple[str, str]:
    """The lake table a landed file feeds: ``(layer, name)``."""
    return ("bronze", f["stream"]) if f["kind"] == "raw" else ("reference", f["stream"])


def _lake_hashes(lake: Lake, files: list[dict[str, Any]]) -> dict[str, set[str]]:
    """key -> the ``file_hash`` values the lake holds under that key (its ``source``).

    One partition-pruned scan of the two lineage columns per table; a table that does not
    exist holds nothing; a table that cannot be read is logged and holds nothing (the files
    are then processed: a run too many, never a file lost)."""
    by_table: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for f in files:
        by_table[_table_of(f)].append(f)
    held: dict[str, set[str]] = defaultdict(set)
    for (layer, name), group in sorted(by_table.items()):
        uri = lake.table_uri(layer, name)
        predicate = pl.col("source").is_in(sorted({f["key"] for f in group}))
        if layer == "bronze":
            predicate = (
                pl.col("plant_id").is_in(sorted({f["plant_id"] for f in group}))
                & pl.col("landing_date").is_in(sorted({f["landing_date"] for f in group}))
                & predicate
            )
        try:
            scan = scan_delta(uri, lake.storage_options)
            if scan is None:
                continue
            found = scan.filter(predicate).select("source", "file_hash").unique().collect()
        except Exception as exc:  # noqa: BLE001 (unreadable table: process the files)
            log.warning("cannot compare landed files with %s (%s): they are processed", uri, exc)
            continue
        for key, file_hash in found.iter_rows():
            if file_hash is not None:
                held[key].add(file_hash)
    return held


def _compare_with_lake(
    landing: LandingZone, lake: Lake, files: list[dict[str, Any]], waiting: dict[str, int]
) -> list[dict[str, Any]]:
    """Mark files whose exact content the lake holds under their key ``already_ingested``
    (their run would change nothing); a known key with other content becomes ``changed``.
    Returns the files decided this tick (files beyond ``MAX_LAKE_COMPARISONS`` wait)."""
    held = _lake_hashes(lake, files) if files else {}
    to_hash = [
        f
        for f in files
        if f["key"] in held and not (f["fingerprint"] or "").startswith(f"{f['size']}:sha256:")
    ]
    deferred = {f["key"] for f in to_hash[MAX_LAKE_COMPARISONS:]}
    to_hash = to_hash[:MAX_LAKE_COMPARISONS]
    if deferred:
        waiting["content compared with the lake on the next tick"] += len(deferred)
    with ThreadPoolExecutor(LAKE_READ_THREADS) as pool:
        digests = dict(
            zip(
                [f["key"] for f in to_hash],
                pool.map(lambda f: _sha256_hex(landing, f["key"]), to_hash),
                strict=True,
            )
        )
    decided = []
    for f in files:
        if f["key"] in deferred:
            continue
        decided.append(f)
        if f["key"] not in held:
            continue
        fp = f["fingerprint"] or ""
        digest = fp.split(":sha256:", 1)[1] if ":sha256:" in fp else digests.get(f["key"])
        layer, name = _table_of(f)
        if digest is not None and digest in held[f["key"]]:
            f.update(
                status=ALREADY_INGESTED,
                detail=f"{layer}/{name} already holds this content under this key (file_hash)",
            )
        else:
            f.update(
                status=CHANGED,
                detail=f"{layer}/{name} holds other content under this key: processed again",
            )
    return decided


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


def _unroutable(routes: dict[str, Any], first_day: str) -> list[tuple[str, str]]:
    """(key, reason) of every listed file that cannot become part of a partition."""
    out = []
    for key, where in routes.items():
        if isinstance(where, Unroutable):
            out.append((key, where.reason))
        elif isinstance(where, RawRoute) and where.landing_date.isoformat() < first_day:
            out.append((key, before_start_reason(first_day)))
    return sorted(out)


def plan_tick(
    landing: LandingZone,
    ledger: pl.DataFrame,
    instance: DagsterInstance,
    acked_tick: int | None,
    now: datetime | None = None,
    lake: Lake | None = None,
) -> TickPlan:
    """Decide one tick (pure apart from reading the listing, a few objects, the lake's lineage
    columns and the instance's dynamic partitions). ``lake``: where to look for files already
    ingested (None: nowhere, every new file is processed)."""
    now = now or datetime.now(UTC)
    tick = max(acked_tick or 0, int(ledger["tick"].max() or 0) if ledger.height else 0) + 1
    refused: list[tuple[str, str]] = []  # local entries not read (symbolic links ...)
    listing = list_landing_zone(landing, refused)
    routes = {key: route(key) for key in listing["key"].to_list()}

    # Latest state of every key already in the ledger (bookkeeping rows excluded), and the
    # content last known under each key.
    seen = (
        ledger.filter(pl.col("status") != HASHED)
        .group_by("key")
        .agg(pl.col("etag").sort_by("tick").last().alias("seen_etag"))
    )
    fresh = listing.join(seen, on="key", how="left").filter(
        pl.col("seen_etag").is_null() | (pl.col("seen_etag") != pl.col("etag"))
    )
    content_of_key = dict(
        ledger.filter(pl.col("status").is_in(KNOWN_CONTENT) & pl.col("fingerprint").is_not_null())
        .sort("tick")
        .group_by("key")
        .agg(pl.col("fingerprint").last())
        .iter_rows()
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
        where = routes[obj["key"]]
        if isinstance(where, Unroutable):
            rows.append(row(obj, kind="other", status=IGNORED, detail=where.reason))
            continue
        if isinstance(where, SnapshotRoute):
            r = row(obj, kind="reference", stream=where.entity, status=status)
            reference_rows.append(r)
            if where.entity == "plants":
                plants_snapshots.append(obj["key"])
            continue
        info = dict(
            kind="raw",
            stream=where.stream,
            plant_id=where.plant_id,
            landing_date=where.landing_date,
        )
        day = where.landing_date.isoformat()
        if day < first_day:
            rows.append(
                row(obj, status=OUT_OF_RANGE, detail=before_start_reason(first_day), **info)
            )
            continue
        if day > last_day:
            waiting[f"date after {last_day}"] += 1
            continue
        candidates.append(row(obj, status=status, **info))

    # Plants: every plant of a new *accepted* plants snapshot; if raw files name an unknown
    # plant, also the plants of the latest accepted snapshot (master data may have landed
    # before the ledger). A refused snapshot adds no plant (the previous one stays in force).
    new_plants: set[str] = set()
    refused_plants: dict[str, list[str]] = {}

    def plants_of(key: str) -> list[str] | None:
        ids, problems = accepted_plant_ids(landing, key)
        if problems:
            refused_plants[key] = [str(p) for p in problems]
            return None
        return ids

    for key in plants_snapshots:
        new_plants.update(plants_of(key) or [])
    if any(c["plant_id"] not in known_plants | new_plants for c in candidates):
        snapshots = sorted(
            (k for k, w in routes.items() if isinstance(w, SnapshotRoute) and w.entity == "plants"),
            key=lambda k: (routes[k].snapshot_date, k),
            reverse=True,
        )
        for key in snapshots:
            if key in plants_snapshots:
                if key not in refused_plants:
                    break  # the newest accepted snapshot was read above
                continue
            ids = plants_of(key)
            if ids is not None:
                new_plants.update(ids)
                break
    # Plants of runs replayed from an unacknowledged tick: that tick added them (its partition
    # request was lost with it), so add them again.
    unacked = (
        ledger.filter((pl.col("tick") > acked_tick) & pl.col("status").is_in(REQUESTED))
        if acked_tick is not None
        else ledger.clear()
    )
    new_plants.update(p for p in unacked["plant_id"].drop_nulls().unique().to_list())
    new_plants = {p for p in new_plants if is_safe_plant_id(p)} - known_plants
    known_plants |= new_plants
    ready = []
    for c in candidates:
        if c["plant_id"] in known_plants:
            ready.append(c)
        else:
            waiting[f"plant {c['plant_id']} not in master data"] += 1

    # Content identity: S3 size + ETag (MD5 of a single-part upload); locally sha256 of every
    # new or changed file (its ETag is size + mtime, which says nothing about the content).
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
        for c in ready:
            c["fingerprint"] = _sha256_fingerprint(landing, c["key"], c["size"])
        # Processed files recorded without a hash whose size equals a new file's: hash them
        # once (a `hashed` bookkeeping row) so duplicates of them are recognized.
        sizes = sorted({c["size"] for c in ready if c["size"] > 0})
        old = processed.filter(pl.col("size").is_in(sizes))
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

    originals: list[dict[str, Any]] = []
    for c in sorted(ready, key=lambda c: c["key"]):
        fp = c["fingerprint"]
        if c["status"] == CHANGED and fp is not None and content_of_key.get(c["key"]) == fp:
            c.update(status=UNCHANGED, detail="same content as already processed under this key")
            rows.append(c)
            continue
        if fp is not None and c["size"] > 0:
            first = fingerprints.get(fp)
            if first is not None and first != c["key"]:
                c.update(status=DUPLICATE, duplicate_of=first, detail="same size and content")
                rows.append(c)
                continue
            fingerprints.setdefault(fp, c["key"])
        originals.append(c)

    # Already in the lake under the same key with the same content (processed before the
    # sensor was switched on, by `manufacturing-assets run`, a backfill ...): no run.
    for r in reference_rows:
        if not landing.is_s3:
            r["fingerprint"] = _sha256_fingerprint(landing, r["key"], r["size"])
    decided = (
        _compare_with_lake(landing, lake, originals + reference_rows, waiting)
        if lake is not None
        else originals + reference_rows
    )
    to_request = [c for c in decided if c["status"] in REQUESTED]
    requests = _requests_for(to_request)
    rows.extend(decided)

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
        unroutable=sorted(_unroutable(routes, first_day) + refused),
        refused_plants=refused_plants,
    )
