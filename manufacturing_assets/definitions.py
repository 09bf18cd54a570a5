"""The `manufacturing_assets` code location."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job

from manufacturing_assets.assets.bronze import bronze_assets
from manufacturing_assets.assets.gold import sensor_hourly
from manufacturing_assets.assets.reference import reference_assets
from manufacturing_assets.assets.silver import silver_sensor_readings_asset
from manufacturing_assets.checks.quality import quality_checks
from manufacturing_assets.environment import build_resources
from manufacturing_assets.partitions import plant_date_partitions
from manufacturing_assets.sensors.check_alerts import check_failure_alerts

partitioned_assets = [*bronze_assets, silver_sensor_readings_asset, sensor_hourly]

plant_day_job = define_asset_job(
    "plant_day_job",
    selection=AssetSelection.groups("bronze", "silver", "quarantine", "gold"),
    partitions_def=plant_date_partitions,
    description="Bronze -> silver -> gold for plant x day partitions (materialize or backfill).",
)
reference_job = define_asset_job(
    "reference_job",
    selection=AssetSelection.groups("reference"),
    description="Re-read every master-data snapshot.",
)

defs = Definitions(
    assets=[*reference_assets, *partitioned_assets],
    asset_checks=quality_checks,
    jobs=[plant_day_job, reference_job],
    sensors=[check_failure_alerts],
    resources=build_resources(),
)
