"""The `manufacturing_assets` code location."""

from __future__ import annotations

from dagster import AssetSelection, DefaultSensorStatus, Definitions, define_asset_job

from manufacturing_assets.assets.bronze import bronze_assets
from manufacturing_assets.assets.gold import sensor_hourly
from manufacturing_assets.assets.reference import reference_assets
from manufacturing_assets.assets.silver import silver_sensor_readings_asset
from manufacturing_assets.checks.quality import quality_checks
from manufacturing_assets.environment import Settings, build_resources
from manufacturing_assets.kafka.landing import kafka_landing_job
from manufacturing_assets.partitions import plant_date_partitions
from manufacturing_assets.sensors.check_alerts import check_failure_alerts
from manufacturing_assets.sensors.landing import build_automation_sensor, build_landing_sensor

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

# Ingestion sensors (docs/ingestion.md): RUNNING unless MA_INGESTION_SENSORS=stopped. Files
# already materialized (e.g. by `manufacturing-assets run`) are recorded, not re-run.
_settings = Settings.from_env()
_sensor_status = (
    DefaultSensorStatus.STOPPED
    if _settings.ingestion_sensors == "stopped"
    else DefaultSensorStatus.RUNNING
)
ingestion_sensors = [build_landing_sensor(_sensor_status), build_automation_sensor(_sensor_status)]
# Kafka (docs/kafka.md): only when KAFKA_BOOTSTRAP_SERVERS is set (resource `kafka`).
kafka_jobs = [kafka_landing_job] if _settings.kafka_enabled else []

defs = Definitions(
    assets=[*reference_assets, *partitioned_assets],
    asset_checks=quality_checks,
    jobs=[plant_day_job, reference_job, *kafka_jobs],
    sensors=[check_failure_alerts, *ingestion_sensors],
    resources=build_resources(),
)
