"""Which landing-zone keys the platform can route, and why the others cannot.

A landed object is routed by its key alone (data contract section 2)::

    raw/<stream>/plant=<plant_id>/date=<YYYY-MM-DD>/<file>   -> bronze/<stream> [date|plant]
    reference/<entity>/snapshot_date=<YYYY-MM-DD>/<entity>.csv -> reference/<entity>

Every other key under the landing root is **unroutable**: :func:`route` names the reason
(unknown stream folder, with the closest known name for a typo; a plant or date folder that
does not parse; a file outside those layouts). The landing sensor records them in its ledger
(``status = ignored``, ``detail`` = the reason) and reports them through the ``landing_zone``
check ``unroutable_files``; ``manufacturing-assets run`` prints them with
:func:`unroutable_files`. Nothing is ever dropped without a word.

Plant ids become partition keys and landing paths, so they must match
:data:`PLANT_ID_PATTERN` (no path characters, no separators of multi-partition keys); the
same rule guards master data (``ingest/reference.py``), the sensor's dynamic partitions and
bronze's landing paths (``stages/plants.require_safe_plant_ids``).

Pure functions over keys and one listing; no Dagster.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime

import polars as pl

from manufacturing_assets.contract import REFERENCE_ENTITIES, STREAMS
from manufacturing_assets.resources.landing_zone import LandedObject, LandingZone, RefusedObject

# A plant id is a partition key and a folder name: letters, digits, '_' and '-', 1-32
# characters, starting with a letter or digit. Nothing else ('/', '.', '%', '|', ',', blanks)
# can ever name a partition or a landing path.
PLANT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
_PLANT_ID_RE = re.compile(PLANT_ID_PATTERN)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Written by the platform itself into the landing zone (Kafka landing: offsets ledger and
# dead letters, ``kafka/files.py``); not deliveries, never listed. Files directly at the
# landing root (e.g. the sample generator's ``manifest.json``) are not deliveries either.
PLATFORM_PREFIXES = ("ledger/", "deadletter/")
RAW_LAYOUT = "raw/<stream>/plant=<plant_id>/date=<YYYY-MM-DD>/<file>"
REFERENCE_LAYOUT = "reference/<entity>/snapshot_date=<YYYY-MM-DD>/<entity>.csv"


def is_safe_plant_id(value: object) -> bool:
    """True when ``value`` may be a plant partition key and a landing folder name."""
    return isinstance(value, str) and _PLANT_ID_RE.fullmatch(value) is not None


def plant_id_problem(value: object) -> str | None:
    """Why ``value`` is not a valid plant id (None when it is)."""
    if is_safe_plant_id(value):
        return None
    if not isinstance(value, str) or not value.strip():
        return "plant id is empty"
    return f"plant id {value!r} does not match {PLANT_ID_PATTERN}"


@dataclass(frozen=True)
class RawRoute:
    stream: str
    plant_id: str
    landing_date: date
    name: str


@dataclass(frozen=True)
class SnapshotRoute:
    entity: str
    snapshot_date: date


@dataclass(frozen=True)
class Unroutable:
    reason: str


Route = RawRoute | SnapshotRoute | Unroutable


def _closest(value: str, known: Iterable[str]) -> str:
    match = difflib.get_close_matches(value, list(known), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _folder_value(folder: str, name: str) -> str | None:
    """``'plant=P01'`` -> ``'P01'`` for ``name='plant'``; None when the folder is not one."""
    prefix = f"{name}="
    return folder[len(prefix) :] if folder.startswith(prefix) else None


def _date_problem(folder: str, name: str) -> tuple[date | None, str | None]:
    value = _folder_value(folder, name)
    if value is None:
        return None, f"expected a {name}=<YYYY-MM-DD> folder, found {folder!r}"
    if not _DATE_RE.fullmatch(value):
        return None, f"{name} folder {folder!r} is not {name}=<YYYY-MM-DD>"
    try:
        return date.fromisoformat(value), None
    except ValueError:
        return None, f"{name} folder {folder!r} is not a calendar date"


def route_raw(key: str) -> RawRoute | Unroutable:
    parts = key.split("/")
    stream = parts[1] if len(parts) > 2 else None
    if stream is not None and stream not in STREAMS:
        return Unroutable(f"unknown stream folder 'raw/{stream}/'{_closest(stream, STREAMS)}")
    if len(parts) != 5 or not parts[4]:
        return Unroutable(f"not {RAW_LAYOUT}")
    assert stream is not None
    plant = _folder_value(parts[2], "plant")
    if plant is None:
        return Unroutable(f"expected a plant=<plant_id> folder, found {parts[2]!r}")
    problem = plant_id_problem(plant)
    if problem:
        return Unroutable(f"{problem} (folder {parts[2]!r})")
    day, problem = _date_problem(parts[3], "date")
    if problem or day is None:
        return Unroutable(problem or "no date")
    return RawRoute(stream, plant, day, parts[4])


def route_reference(key: str) -> SnapshotRoute | Unroutable:
    parts = key.split("/")
    entity = parts[1] if len(parts) > 2 else None
    if entity is not None and entity not in REFERENCE_ENTITIES:
        hint = _closest(entity, REFERENCE_ENTITIES)
        return Unroutable(f"unknown master-data entity folder 'reference/{entity}/'{hint}")
    if len(parts) != 4 or entity is None:
        return Unroutable(f"not {REFERENCE_LAYOUT}")
    day, problem = _date_problem(parts[2], "snapshot_date")
    if problem or day is None:
        return Unroutable(problem or "no date")
    if parts[3] != f"{entity}.csv":
        return Unroutable(f"a {entity} snapshot file is named {entity}.csv, found {parts[3]!r}")
    return SnapshotRoute(entity, day)


def route(key: str) -> Route:
    """Where the object at ``key`` goes, or why it cannot go anywhere."""
    if key.startswith("raw/"):
        return route_raw(key)
    if key.startswith("reference/"):
        return route_reference(key)
    top = key.split("/", 1)[0]
    return Unroutable(f"not under raw/ or reference/{_closest(top, ('raw', 'reference'))}")


# ---------------------------------------------------------------- listing


def _s3_children(landing: LandingZone, prefix: str) -> tuple[list[str], list[LandedObject]]:
    """Sub-folders and objects directly under ``prefix`` (one delimited S3 listing)."""
    rest = landing.root[len("s3://") :]
    bucket, _, base = rest.partition("/")
    base = (base.strip("/") + "/") if base.strip("/") else ""
    folders: list[str] = []
    objects: list[LandedObject] = []
    paginator = landing._s3().get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=base + prefix, Delimiter="/"):
        folders += [p["Prefix"][len(base) :] for p in page.get("CommonPrefixes", [])]
        for item in page.get("Contents", []):
            objects.append(
                LandedObject(
                    key=item["Key"][len(base) :],
                    size=int(item["Size"]),
                    etag=str(item.get("ETag", "")).strip('"'),
                    last_modified=item["LastModified"].timestamp(),
                )
            )
    return folders, objects


def _delivered(key: str) -> bool:
    return "/" in key and not key.startswith(PLATFORM_PREFIXES)


def _list_objects(
    landing: LandingZone, refused: list[tuple[str, str]] | None = None
) -> list[LandedObject]:
    """Every object in a folder of the landing zone except the platform's own
    (``PLATFORM_PREFIXES``); files directly at the root are not deliveries. ``refused``
    receives ``(key, reason)`` of the local entries the landing zone does not read
    (symbolic links, FIFOs ...: ``LandingZone.list_objects``).

    S3: the folders under the root and under ``raw/`` are found with two delimited listings,
    then listed concurrently (one ListObjectsV2 stream per stream folder, ``reference/`` and
    any other folder). A local folder is walked once.
    """
    if not landing.is_s3:
        skipped: list[RefusedObject] = []
        objects = [o for o in landing.list_objects("", refused=skipped) if _delivered(o.key)]
        if refused is not None:
            refused += [(r.key, r.reason) for r in skipped if _delivered(r.key)]
        return objects
    landing._s3()  # create the (thread-safe) boto3 client once, before the threads
    top, _root_files = _s3_children(landing, "")
    found: list[LandedObject] = []
    prefixes = [p for p in top if p not in PLATFORM_PREFIXES and p != "raw/"]
    if "raw/" in top:
        raw_folders, raw_files = _s3_children(landing, "raw/")
        prefixes += raw_folders
        found += raw_files
    with ThreadPoolExecutor(max(1, min(16, len(prefixes)))) as pool:
        parts = list(pool.map(lambda p: list(landing.list_objects(p)), prefixes))
    return sorted([*found, *(o for part in parts for o in part)], key=lambda o: o.key)


def list_landing_zone(
    landing: LandingZone, refused: list[tuple[str, str]] | None = None
) -> pl.DataFrame:
    """Every delivered object: metadata only (key, size, ETag, last-modified); nothing read.
    ``refused``: receives ``(key, reason)`` of entries a local landing zone does not read."""
    objects = _list_objects(landing, refused)
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


def unroutable_keys(keys: Iterable[str]) -> list[tuple[str, str]]:
    """``(key, reason)`` of every key in ``keys`` that cannot be routed, in key order."""
    out = []
    for key in sorted(keys):
        r = route(key)
        if isinstance(r, Unroutable):
            out.append((key, r.reason))
    return out


def unroutable_files(landing: LandingZone, start_date: str | None = None) -> list[tuple[str, str]]:
    """``(key, reason)`` of every delivered file the platform cannot route, in key order
    (and of every entry a local landing zone refuses to read: symbolic links ...).

    ``start_date`` (``YYYY-MM-DD``, e.g. ``partitions.START_DATE``): raw files whose landing
    date is before it are listed too (no partition exists for them).
    """
    refused: list[tuple[str, str]] = []
    listing = list_landing_zone(landing, refused)
    out = unroutable_keys(listing["key"].to_list()) + refused
    if start_date:
        for key in listing["key"].to_list():
            r = route(key)
            if isinstance(r, RawRoute) and r.landing_date.isoformat() < start_date:
                out.append((key, before_start_reason(start_date)))
    return sorted(out)


def before_start_reason(start_date: str) -> str:
    return f"landing date before the first date partition {start_date} (MA_START_DATE)"


def describe(unroutable: list[tuple[str, str]], limit: int = 20) -> list[str]:
    """Lines ``key: reason`` for logs and summaries (at most ``limit``, then a count)."""
    lines = [f"{key}: {reason}" for key, reason in unroutable[:limit]]
    if len(unroutable) > limit:
        lines.append(f"... and {len(unroutable) - limit} more")
    return lines
