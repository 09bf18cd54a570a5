"""Master data assets (`reference/<entity>`): every accepted daily snapshot, as landed.

A snapshot is validated as a whole when read (``ingest/reference.py``); a refused one is
logged (file, line, field), left out of the table (the previous snapshot stays in force) and
fails the in-step check ``valid_snapshots`` (``checks/master_data.py``, ERROR, not blocking).
"""

from collections.abc import Iterator

from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetExecutionContext,
    AssetsDefinition,
    MetadataValue,
    Output,
    asset,
)

from manufacturing_assets.assets.policies import table_asset
from manufacturing_assets.catalogue.reference import REFERENCE
from manufacturing_assets.checks.master_data import (
    VALID_SNAPSHOTS,
    master_data_check_result,
    master_data_check_spec,
    refused_lines,
)
from manufacturing_assets.ingest.reference import read_reference_snapshots
from manufacturing_assets.resources.landing_zone import LandingZone


def build_reference_asset(entity: str) -> AssetsDefinition:
    @asset(**table_asset(REFERENCE[entity]), check_specs=[master_data_check_spec(entity)])
    def _reference(
        context: AssetExecutionContext, landing: LandingZone
    ) -> Iterator[Output | AssetCheckResult]:
        snapshots = read_reference_snapshots(landing, entity)
        for line in refused_lines(snapshots):
            context.log.error(landing.describe(line))
        yield Output(
            snapshots.frame,
            metadata={
                "snapshots": len(snapshots.accepted),
                "refused_snapshots": MetadataValue.json(snapshots.errors()),
            },
        )
        if AssetCheckKey(context.asset_key, VALID_SNAPSHOTS) in context.selected_asset_check_keys:
            yield master_data_check_result(snapshots)

    return _reference


reference_assets = [build_reference_asset(e) for e in REFERENCE]
