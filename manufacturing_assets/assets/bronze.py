"""Bronze assets (`bronze/<stream>`): every landed record, with lineage.
Partition = plant x landing date; the stage is ``stages/bronze.py``."""

from datetime import UTC, datetime

from dagster import AssetExecutionContext, AssetsDefinition, MetadataValue, asset

from manufacturing_assets.assets.policies import table_asset
from manufacturing_assets.assets.runner import check_run_carries_its_range
from manufacturing_assets.catalogue.bronze import BRONZE
from manufacturing_assets.io_managers.delta import FrameChunks
from manufacturing_assets.partitions import plants_and_dates
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets.stages.bronze import iter_bronze
from manufacturing_assets.stages.plants import require_safe_plant_ids


def build_bronze_asset(stream: str) -> AssetsDefinition:
    table = BRONZE[stream]

    @asset(**table_asset(table))
    def _bronze(context: AssetExecutionContext, landing: LandingZone) -> FrameChunks:
        stats: dict = {}

        def report() -> dict:
            """Runs after the last chunk is written (files are read while writing)."""
            for key, error in stats["unreadable"].items():  # bad input, not a failure
                context.log.warning(f"{landing.describe(key)}: {error} (kept as one bronze row)")
            for key in stats.get("empty_files", []):
                context.log.warning(f"{landing.describe(key)}: empty file, no records")
            for key in stats.get("truncated", []):
                context.log.warning(f"{landing.describe(key)}: truncated, complete lines kept")
            for part in stats["empty_partitions"]:
                context.log.warning(f"no {stream} files landed for {part}: partition is empty")
            return {
                "files_read": len(stats["files"]),
                "unreadable_files": MetadataValue.json(stats["unreadable"]),
                "empty_partitions": MetadataValue.json(stats["empty_partitions"]),
                "unparsed_records": stats["unparsed_records"],
                "empty_files": MetadataValue.json(stats.get("empty_files", [])),
                "truncated_files": MetadataValue.json(stats.get("truncated", [])),
                "landing_zone": landing.describe(f"raw/{stream}/"),
                **stats["stopwatch"].metadata(),  # seconds_read_files, seconds_parse
            }

        # written chunk by chunk by the IO manager: a 10M-row day never sits in memory whole
        check_run_carries_its_range(context)
        plants_dates = plants_and_dates(context.partition_keys)
        require_safe_plant_ids(plants_dates)  # before any landing path is built from them
        chunks = iter_bronze(landing, stream, plants_dates, datetime.now(UTC), stats)
        return FrameChunks(chunks, table.schema, report)

    return _bronze


bronze_assets = [build_bronze_asset(stream) for stream in BRONZE]
