"""Master data assets (`reference/<entity>`): every daily snapshot, as landed."""

import polars as pl
from dagster import AssetExecutionContext, AssetsDefinition, MetadataValue, asset

from manufacturing_assets.assets.policies import table_asset
from manufacturing_assets.catalogue.reference import REFERENCE
from manufacturing_assets.ingest.reference import read_reference
from manufacturing_assets.resources.landing_zone import LandingZone


def build_reference_asset(entity: str) -> AssetsDefinition:
    @asset(**table_asset(REFERENCE[entity]))
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


reference_assets = [build_reference_asset(e) for e in REFERENCE]
