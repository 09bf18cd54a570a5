"""Bronze stage: the landed files of a run's plants and dates -> bronze rows with lineage.

Files are read (``ingest/readers.py``) and yielded in chunks of whole files, so a partition
bigger than memory is written chunk by chunk; bad content never raises (it becomes rows
with ``parse_error``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import polars as pl

from manufacturing_assets.ingest.readers import concat_bronze, read_landed_file
from manufacturing_assets.profiling import Stopwatch
from manufacturing_assets.resources.landing_zone import LandingZone

CHUNK_ROWS = 500_000  # rows per Delta commit of a big bronze partition


def iter_bronze(
    landing: LandingZone,
    stream: str,
    plants_dates: dict[str, list[date]],
    ingested_at: datetime,
    stats: dict,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[pl.DataFrame]:
    """Bronze rows of every file landed for the given plants and dates, in chunks of about
    ``chunk_rows`` (whole files); never raises on bad content. ``stats`` is filled in as
    files are read (files, unreadable files, files with no records, truncated files, empty
    partitions, unparsed records; seconds reading and parsing files in ``stopwatch``)."""
    stats.update(
        files=[],
        unreadable={},
        empty_files=[],
        truncated={},
        empty_partitions=[],
        unparsed_records=0,
    )
    watch = stats.setdefault("stopwatch", Stopwatch())
    pending: list[pl.DataFrame] = []
    size = 0
    for plant, days in plants_dates.items():
        for day in days:
            prefix = f"raw/{stream}/plant={plant}/date={day.isoformat()}/"
            objects = list(landing.list_objects(prefix))
            if not objects:
                stats["empty_partitions"].append(f"{plant}/{day}")
            for obj in objects:
                with watch.phase("read_files"):
                    data = landing.read_bytes(obj.key)
                with watch.phase("parse"):
                    frame = read_landed_file(stream, obj.key, data, plant, day, ingested_at)
                del data
                errors = frame["parse_error"]
                stats["unparsed_records"] += int(errors.is_not_null().sum())
                if frame.height == 1 and (errors[0] or "").startswith("file unreadable"):
                    stats["unreadable"][obj.key] = errors[0]
                elif frame.height == 0:  # zero bytes, a CSV header only, a zero-row parquet ...
                    stats["empty_files"].append(obj.key)
                else:
                    tail = errors.filter(errors.str.starts_with("truncated gzip"))
                    if tail.len():
                        stats["truncated"][obj.key] = tail[0]
                stats["files"].append(obj.key)
                pending.append(frame)
                size += frame.height
                if size >= chunk_rows:
                    yield concat_bronze(pending, stream)
                    pending, size = [], 0
    if pending:
        yield concat_bronze(pending, stream)


def read_bronze(
    landing: LandingZone, stream: str, plants_dates: dict[str, list[date]], ingested_at: datetime
) -> tuple[pl.DataFrame, dict]:
    """All of :func:`iter_bronze` in one frame (tests, small partitions)."""
    stats: dict = {}
    chunks = list(iter_bronze(landing, stream, plants_dates, ingested_at, stats))
    return concat_bronze(chunks, stream), stats
