"""Bronze: every landed record, as landed, with lineage. Partition = plant x landing date."""

from collections.abc import Iterator
from datetime import UTC, datetime

import polars as pl
from dagster import AssetExecutionContext, AssetsDefinition, BackfillPolicy, MetadataValue, asset

from manufacturing_assets.assets.common import BRONZE_PARTITION_EXPR, OWNERS
from manufacturing_assets.contract import STREAMS
from manufacturing_assets.ingest.readers import bronze_columns, concat_bronze, read_landed_file
from manufacturing_assets.io_managers.delta import FrameChunks
from manufacturing_assets.partitions import plant_date_partitions, plants_and_dates
from manufacturing_assets.resources.landing_zone import LandingZone

CHUNK_ROWS = 500_000  # rows per Delta commit of a big bronze partition


def iter_bronze(
    landing: LandingZone,
    stream: str,
    plants_dates: dict,
    ingested_at: datetime,
    stats: dict,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[pl.DataFrame]:
    """Bronze rows of every file landed for the given plants and dates, in chunks of about
    ``chunk_rows`` (whole files); never raises on bad content. ``stats`` is filled in as
    files are read (files, unreadable files, empty partitions, unparsed records)."""
    stats.update(files=[], unreadable={}, empty_partitions=[], unparsed_records=0)
    pending: list[pl.DataFrame] = []
    size = 0
    for plant, days in plants_dates.items():
        for day in days:
            prefix = f"raw/{stream}/plant={plant}/date={day.isoformat()}/"
            objects = list(landing.list_objects(prefix))
            if not objects:
                stats["empty_partitions"].append(f"{plant}/{day}")
            for obj in objects:
                data = landing.read_bytes(obj.key)
                frame = read_landed_file(stream, obj.key, data, plant, day, ingested_at)
                del data
                errors = frame["parse_error"]
                stats["unparsed_records"] += int(errors.is_not_null().sum())
                if frame.height == 1 and (errors[0] or "").startswith("file unreadable"):
                    stats["unreadable"][obj.key] = errors[0]
                stats["files"].append(obj.key)
                pending.append(frame)
                size += frame.height
                if size >= chunk_rows:
                    yield concat_bronze(pending, stream)
                    pending, size = [], 0
    if pending:
        yield concat_bronze(pending, stream)


def read_bronze(
    landing: LandingZone, stream: str, plants_dates: dict, ingested_at: datetime
) -> tuple[pl.DataFrame, dict]:
    """All of :func:`iter_bronze` in one frame (tests, small partitions)."""
    stats: dict = {}
    chunks = list(iter_bronze(landing, stream, plants_dates, ingested_at, stats))
    return concat_bronze(chunks, stream), stats


def build_bronze_asset(stream: str) -> AssetsDefinition:
    @asset(
        key=["bronze", stream],
        group_name="bronze",
        partitions_def=plant_date_partitions,
        backfill_policy=BackfillPolicy.single_run(),
        owners=OWNERS,
        tags={"layer": "bronze", "stream": stream},
        kinds={"polars", "delta"},
        metadata={"partition_expr": BRONZE_PARTITION_EXPR},
        description=(
            f"Raw `{stream}` records exactly as landed under `raw/{stream}/plant=/date=/` "
            "(JSON lines, gzipped JSON lines, CSV or parquet), one row per record, with lineage "
            "(source file key, content hash, line number, ingestion time). Fields are kept as "
            "text; unreadable lines and files are kept with `parse_error`. "
            "Partitioned by plant x landing date (the `date=` folder)."
        ),
    )
    def _bronze(context: AssetExecutionContext, landing: LandingZone) -> FrameChunks:
        plants_dates = plants_and_dates(context.partition_keys)
        stats: dict = {}

        def report() -> dict:
            """Runs after the last chunk is written (files are read while writing)."""
            for key, error in stats["unreadable"].items():
                context.log.error(f"{landing.describe(key)}: {error} (kept as one bronze row)")
            for part in stats["empty_partitions"]:
                context.log.warning(f"no {stream} files landed for {part}: partition is empty")
            return {
                "files_read": len(stats["files"]),
                "unreadable_files": MetadataValue.json(stats["unreadable"]),
                "empty_partitions": MetadataValue.json(stats["empty_partitions"]),
                "unparsed_records": stats["unparsed_records"],
                "landing_zone": landing.describe(f"raw/{stream}/"),
            }

        # written chunk by chunk by the IO manager: a 10M-row day never sits in memory whole
        chunks = iter_bronze(landing, stream, plants_dates, datetime.now(UTC), stats)
        return FrameChunks(chunks, bronze_columns(stream), report)

    return _bronze


bronze_assets = [build_bronze_asset(stream) for stream in STREAMS]
