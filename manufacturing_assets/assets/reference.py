"""Reference (master) data: every daily snapshot of the eight entities, as landed."""

import polars as pl
from dagster import AssetExecutionContext, AssetsDefinition, MetadataValue, asset

from manufacturing_assets.assets.common import OWNERS
from manufacturing_assets.contract import REFERENCE_ENTITIES
from manufacturing_assets.ingest.reference import read_reference
from manufacturing_assets.resources.landing_zone import LandingZone


def build_reference_asset(entity: str) -> AssetsDefinition:
    columns = ", ".join(f"`{c}`" for c in REFERENCE_ENTITIES[entity])

    @asset(
        key=["reference", entity],
        group_name="reference",
        owners=OWNERS,
        tags={"layer": "bronze", "domain": "master_data"},
        kinds={"polars", "delta"},
        description=(
            f"Every daily snapshot of master data `{entity}` ({columns}) from "
            f"`reference/{entity}/snapshot_date=/`, one row per snapshot row, with `snapshot_date` "
            "and lineage. Re-reading is idempotent; dimensions with history are built from it."
        ),
    )
    def _reference(context: AssetExecutionContext, landing: LandingZone) -> pl.DataFrame:
        frame, errors = read_reference(landing, entity)
        for key, error in errors.items():
            context.log.error(f"{landing.describe(key)}: cannot be read: {error}")
        context.add_output_metadata(
            {
                "snapshots": frame["snapshot_date"].n_unique(),
                "unreadable_snapshots": MetadataValue.json(errors),
            }
        )
        return frame

    return _reference


reference_assets = [build_reference_asset(e) for e in REFERENCE_ENTITIES]
