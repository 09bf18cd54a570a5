"""Gold: the numbers plant engineers read. Partition = plant x production date."""

import polars as pl
from dagster import AssetExecutionContext, AssetIn, BackfillPolicy, asset

from manufacturing_assets.assets.common import OWNERS, PARTITION_EXPR, model_table_schema
from manufacturing_assets.automation import plant_day_automation_condition
from manufacturing_assets.checks.models import GoldSensorHourly
from manufacturing_assets.partitions import plant_date_partitions
from manufacturing_assets.resources.engine import EngineResource
from manufacturing_assets.transforms.sensor_readings import gold_sensor_hourly


@asset(
    key=["gold", "sensor_hourly"],
    group_name="gold",
    automation_condition=plant_day_automation_condition(),
    ins={"silver": AssetIn(key=["silver", "sensor_readings"])},
    partitions_def=plant_date_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    owners=OWNERS,
    tags={"layer": "gold", "domain": "sensors"},
    kinds={"polars", "delta"},
    metadata={
        "partition_expr": PARTITION_EXPR,
        "dagster/column_schema": model_table_schema(GoldSensorHourly),
    },
    description=(
        "Hourly sensor statistics per plant, machine and UTC hour (contract 6.1): `readings`, "
        "`valid_readings`, avg/min/max of every metric over its in-range values, and the 95th "
        "percentile of vibration (linear interpolation)."
    ),
)
def sensor_hourly(
    context: AssetExecutionContext, engine: EngineResource, silver: pl.LazyFrame
) -> pl.DataFrame:
    # lazy: only the columns the aggregation needs are read from the silver table
    if not silver.collect_schema().names() or silver.select(pl.len()).collect().item() == 0:
        context.log.warning("silver sensor readings are empty for this partition")
        return pl.DataFrame(schema=GOLD_SENSOR_HOURLY_SCHEMA)
    return engine.collect(gold_sensor_hourly(engine.lazy(silver)))


GOLD_SENSOR_HOURLY_SCHEMA: dict[str, pl.DataType] = {
    "plant_id": pl.String(),
    "production_date": pl.Date(),
    "machine_id": pl.String(),
    "hour_start_utc": pl.Datetime("us", "UTC"),
    "readings": pl.Int64(),
    "valid_readings": pl.Int64(),
    **{
        f"{m}_{s}": pl.Float64()
        for m in ("temperature_c", "humidity_pct", "pressure_bar", "vibration_mm_s")
        for s in ("avg", "min", "max")
    },
    "vibration_mm_s_p95": pl.Float64(),
}
