"""The `manufacturing_assets` code location."""

from __future__ import annotations

from dagster import AssetSelection, DefaultSensorStatus, Definitions, define_asset_job

from manufacturing_assets.assets.bronze import bronze_assets
from manufacturing_assets.assets.gold import sensor_hourly
from manufacturing_assets.assets.marts import wired_marts
from manufacturing_assets.assets.production_gold import production_gold_assets
from manufacturing_assets.assets.production_silver import production_silver_assets
from manufacturing_assets.assets.reference import reference_assets
from manufacturing_assets.assets.silver import silver_sensor_readings_asset
from manufacturing_assets.checks.production_models import production_checks
from manufacturing_assets.checks.quality import quality_checks
from manufacturing_assets.environment import Settings, build_resources
from manufacturing_assets.kafka.landing import kafka_landing_job
from manufacturing_assets.partitions import plant_date_partitions
from manufacturing_assets.sensors.automation import build_automation_sensor
from manufacturing_assets.sensors.check_alerts import check_failure_alerts
from manufacturing_assets.sensors.kafka_lag import build_kafka_lag_sensor, kafka_topic_specs
from manufacturing_assets.sensors.landing import build_landing_sensor

partitioned_assets = [
    *bronze_assets,
    silver_sensor_readings_asset,
    sensor_hourly,
    *production_silver_assets,
    *production_gold_assets,
]
# Star schema: every dimension, and each fact whose silver/gold input is defined above.
mart_assets, mart_checks = wired_marts([*reference_assets, *partitioned_assets])

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

# Ingestion sensors (docs/ingestion.md): STOPPED unless MA_INGESTION_SENSORS=running (set it
# in deployments); `dagster dev` never starts writing to the lake on its own.
_settings = Settings.from_env()
_sensor_status = (
    DefaultSensorStatus.RUNNING
    if _settings.ingestion_sensors == "running"
    else DefaultSensorStatus.STOPPED
)
ingestion_sensors = [build_landing_sensor(_sensor_status), build_automation_sensor(_sensor_status)]
# Kafka (docs/kafka.md): only when KAFKA_BOOTSTRAP_SERVERS is set (resource `kafka`).
kafka_jobs = [kafka_landing_job] if _settings.kafka_enabled else []
kafka_settings = _settings.kafka_settings()
if kafka_settings is not None:  # lag sensor + the kafka/<topic> assets it observes
    ingestion_sensors.append(
        build_kafka_lag_sensor(kafka_landing_job, default_status=_sensor_status)
    )
kafka_assets = kafka_topic_specs(kafka_settings) if kafka_settings is not None else []

defs = Definitions(
    assets=[*reference_assets, *partitioned_assets, *mart_assets, *kafka_assets],
    asset_checks=[*quality_checks, *production_checks, *mart_checks],
    jobs=[plant_day_job, reference_job, *kafka_jobs],
    sensors=[check_failure_alerts, *ingestion_sensors],
    resources=build_resources(),
)
