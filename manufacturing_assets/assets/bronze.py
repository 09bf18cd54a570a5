"""Bronze: every landed record, as landed, with lineage. Partition = plant x landing date."""

from datetime import UTC, datetime

import polars as pl
from dagster import AssetExecutionContext, AssetsDefinition, BackfillPolicy, MetadataValue, asset

from manufacturing_assets.assets.common import BRONZE_PARTITION_EXPR, OWNERS
from manufacturing_assets.contract import STREAMS
from manufacturing_assets.ingest.readers import concat_bronze, read_landed_file
from manufacturing_assets.partitions import plant_date_partitions, plants_and_dates
from manufacturing_assets.resources.landing_zone import LandingZone


def read_bronze(
    landing: LandingZone, stream: str, plants_dates: dict, ingested_at: datetime
) -> tuple[pl.DataFrame, dict]:
    """Read every file landed for the given plants and dates; never raises on bad content."""
    frames: list[pl.DataFrame] = []
    files: list[str] = []
    unreadable: dict[str, str] = {}
    empty: list[str] = []
    for plant, days in plants_dates.items():
        for day in days:
            prefix = f"raw/{stream}/plant={plant}/date={day.isoformat()}/"
            objects = list(landing.list_objects(prefix))
            if not objects:
                empty.append(f"{plant}/{day}")
            for obj in objects:
                frame = read_landed_file(
                    stream, obj.key, landing.read_bytes(obj.key), plant, day, ingested_at
                )
                if frame.height == 1 and (frame["parse_error"][0] or "").startswith(
                    "file unreadable"
                ):
                    unreadable[obj.key] = frame["parse_error"][0]
                frames.append(frame)
                files.append(obj.key)
    stats = {"files": files, "unreadable": unreadable, "empty_partitions": empty}
    return concat_bronze(frames, stream), stats


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
    def _bronze(context: AssetExecutionContext, landing: LandingZone) -> pl.DataFrame:
        plants_dates = plants_and_dates(context.partition_keys)
        frame, stats = read_bronze(landing, stream, plants_dates, datetime.now(UTC))
        for key, error in stats["unreadable"].items():
            context.log.error(f"{landing.describe(key)}: {error} (kept as one bronze row)")
        for part in stats["empty_partitions"]:
            context.log.warning(f"no {stream} files landed for {part}: partition is empty")
        context.add_output_metadata(
            {
                "files_read": len(stats["files"]),
                "unreadable_files": MetadataValue.json(stats["unreadable"]),
                "empty_partitions": MetadataValue.json(stats["empty_partitions"]),
                "unparsed_records": int(frame["parse_error"].is_not_null().sum()),
                "landing_zone": landing.describe(f"raw/{stream}/"),
            }
        )
        return frame

    return _bronze


bronze_assets = [build_bronze_asset(stream) for stream in STREAMS]
