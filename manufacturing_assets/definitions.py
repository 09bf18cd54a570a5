"""The `manufacturing_assets` code location: ``defs``.

Assets by layer (``assets/``), the checks that are not evaluated inside an asset step
(dimensions, ``checks/dimensions.py``), jobs, sensors, and the resources of the
environment (``environment.py``, the one place environment variables are read).
"""

from __future__ import annotations

import sys

from dagster import (
    AssetSelection,
    DefaultSensorStatus,
    Definitions,
    build_column_schema_change_checks,
    define_asset_job,
    multiprocess_executor,
)

from manufacturing_assets.assets.bronze import bronze_assets
from manufacturing_assets.assets.gold import gold_assets
from manufacturing_assets.assets.marts import mart_assets
from manufacturing_assets.assets.ops import ops_assets
from manufacturing_assets.assets.reference import reference_assets
from manufacturing_assets.assets.silver import silver_assets
from manufacturing_assets.assets.warehouse import warehouse_assets
from manufacturing_assets.checks.dimensions import dimension_checks
from manufacturing_assets.checks.health import health_checks
from manufacturing_assets.checks.landing_zone import landing_zone_spec, unroutable_files_check
from manufacturing_assets.environment import Settings, build_resources, warehouse_backend
from manufacturing_assets.kafka.job import kafka_landing_job
from manufacturing_assets.ops.freshness import with_freshness
from manufacturing_assets.ops.replay_job import replay_job
from manufacturing_assets.partitions import plant_date_partitions
from manufacturing_assets.sensors.automation import build_automation_sensor
from manufacturing_assets.sensors.check_alerts import check_failure_alerts
from manufacturing_assets.sensors.data_quality import TARGET as DATA_QUALITY_KEYS
from manufacturing_assets.sensors.data_quality import build_data_quality_sensor
from manufacturing_assets.sensors.health import build_health_sensor
from manufacturing_assets.sensors.kafka_lag import build_kafka_lag_sensor, kafka_topic_specs
from manufacturing_assets.sensors.landing import build_landing_sensor

ASSETS = [
    *reference_assets,
    *bronze_assets,
    *silver_assets,
    # gold and marts declare how fresh they must be (ops/freshness.py)
    *with_freshness(gold_assets),
    *with_freshness(mart_assets),
    # gold and marts published to the SQL warehouse (MA_WAREHOUSE: kinds name the backend)
    *warehouse_assets(warehouse_backend()),
]
ASSET_CHECKS = dimension_checks()
# Schema change (docs/operations.md): Dagster's column-schema change check on every bronze and
# silver table, fed by the Delta IO manager's `dagster/column_schema` (the table's schema after
# the write): WARN naming the added/removed/retyped columns when the latest materialization's
# schema differs from the previous one. In the code location only (`build_defs`), not in
# `manufacturing-assets run`, whose summary lists the plant-day checks.
SCHEMA_CHANGE_CHECKS = build_column_schema_change_checks(assets=[*bronze_assets, *silver_assets])

plant_day_job = define_asset_job(
    "plant_day_job",
    selection=AssetSelection.groups("bronze", "silver", "quarantine", "gold"),
    partitions_def=plant_date_partitions,
    description="Bronze -> silver -> gold for plant x day partitions (materialize or backfill).",
)
data_quality_job = define_asset_job(
    "data_quality_job",
    selection=AssetSelection.assets(*DATA_QUALITY_KEYS),
    description="Append new check evaluations to ops/data_quality_results; publish it.",
)
reference_job = define_asset_job(
    "reference_job",
    selection=AssetSelection.groups("reference"),
    description="Re-read every master-data snapshot.",
)

# Runs launched from the UI or the daemon execute each step in a process of its own. With
# `forkserver` those processes fork from one that has already imported this code location
# (Dagster preloads the module the job was loaded from), instead of each importing Dagster,
# Polars, pandera and this package again: seconds per step saved on every run.
# (Windows has no forkserver: spawn there.)
step_processes = multiprocess_executor.configured(
    {"start_method": {"spawn": {}} if sys.platform == "win32" else {"forkserver": {}}},
    name="step_processes",
)


def assets_for(settings: Settings) -> list:
    """``ASSETS``; with ``MA_ENGINE=spark`` the plant x date transformation assets (bronze,
    silver, quarantine, intervals, gold) are their Spark twins (``assets/spark.py``: same
    keys, partitions, checks and policies; the body runs Spark plans and writes the Delta
    tables itself). Master data, dimensions, facts and warehouse assets stay as they are."""
    if settings.engine != "spark":
        return list(ASSETS)
    from manufacturing_assets.assets.spark import with_spark_assets

    return with_spark_assets(ASSETS)


def build_defs(settings: Settings | None = None) -> Definitions:
    """The code location for ``settings`` (default: the environment)."""
    settings = settings or Settings.from_env()
    # Ingestion sensors (docs/ingestion.md): STOPPED unless MA_INGESTION_SENSORS=running
    # (set it in deployments); `dagster dev` never starts writing to the lake on its own.
    status = (
        DefaultSensorStatus.RUNNING
        if settings.ingestion_sensors == "running"
        else DefaultSensorStatus.STOPPED
    )
    sensors = [check_failure_alerts, build_landing_sensor(status), build_automation_sensor(status)]
    jobs = [plant_day_job, reference_job, data_quality_job]
    # replay of dead letters and quarantine after a fix (ops/replay.py, playbooks/replay.md)
    jobs.append(replay_job)
    # operations (docs/operations.md): the data-quality history, appended by its own sensor;
    # plant health (stall, backlog, silent devices, late plant-days) as landing-zone checks
    sensors += [build_data_quality_sensor(status), build_health_sensor(settings, status)]
    # the landing zone (external) and its check `unroutable_files`, reported by the landing
    # sensor (checks/landing_zone.py); not in ASSETS: nothing materializes it
    assets: list = [*assets_for(settings), *ops_assets(settings.warehouse), landing_zone_spec]
    # Kafka (docs/kafka.md): only when KAFKA_BOOTSTRAP_SERVERS is set (resource `kafka`).
    kafka_settings = settings.kafka_settings()
    if kafka_settings is not None:
        jobs.append(kafka_landing_job)
        sensors.append(build_kafka_lag_sensor(kafka_landing_job, default_status=status))
        assets += kafka_topic_specs(kafka_settings)
    return Definitions(
        assets=assets,
        asset_checks=[
            *ASSET_CHECKS,
            unroutable_files_check,
            *health_checks,
            *SCHEMA_CHANGE_CHECKS,
        ],
        jobs=jobs,
        sensors=sensors,
        resources=build_resources(settings),
        executor=step_processes,
    )


defs = build_defs()
