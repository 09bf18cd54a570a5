"""Gold production tables: OEE, run rate, losses. Partition = plant x production date.

Master data is joined in the version valid for each production date (the latest snapshot
with snapshot_date <= D; contract 7), through `transforms.master_data.reference_for_dates`.
"""

from datetime import date
from typing import Any

import polars as pl
from dagster import AssetExecutionContext, AssetIn, BackfillPolicy, asset

from manufacturing_assets.assets.common import OWNERS, PARTITION_EXPR, model_table_schema
from manufacturing_assets.assets.production_silver import (
    SILVER_EVENTS,
    SILVER_INSPECTIONS,
    SILVER_INTERVALS,
    SILVER_SHOTS,
    reference_frame,
)
from manufacturing_assets.assets.silver import require_timezones
from manufacturing_assets.automation import plant_day_automation_condition
from manufacturing_assets.checks.production_models import (
    GoldLossDaily,
    GoldOeeDaily,
    GoldRunRateHourly,
)
from manufacturing_assets.partitions import plant_date_partitions, plants_and_dates
from manufacturing_assets.resources.engine import EngineResource
from manufacturing_assets.transforms.master_data import reference_for_dates
from manufacturing_assets.transforms.oee import (
    gold_loss_daily,
    gold_oee_daily,
    gold_run_rate_hourly,
    machine_days,
)

_UTC = pl.Datetime("us", "UTC")
GOLD_OEE_DAILY_SCHEMA: dict[str, pl.DataType] = {
    "plant_id": pl.String(),
    "production_date": pl.Date(),
    "machine_id": pl.String(),
    "planned_time_s": pl.Float64(),
    "run_time_s": pl.Float64(),
    "availability": pl.Float64(),
    "shots": pl.Int64(),
    "unresolved_shots": pl.Int64(),
    "total_parts": pl.Int64(),
    "ideal_time_s": pl.Float64(),
    "performance": pl.Float64(),
    "rejected_parts": pl.Int64(),
    "good_parts": pl.Int64(),
    "quality": pl.Float64(),
    "oee": pl.Float64(),
}
GOLD_RUN_RATE_HOURLY_SCHEMA: dict[str, pl.DataType] = {
    "plant_id": pl.String(),
    "production_date": pl.Date(),
    "machine_id": pl.String(),
    "hour_start_utc": _UTC,
    "shots": pl.Int64(),
    "running_s": pl.Float64(),
    "run_rate_per_h": pl.Float64(),
    "ideal_rate_per_h": pl.Float64(),
    "mold_id": pl.String(),
}
GOLD_LOSS_DAILY_SCHEMA: dict[str, pl.DataType] = {
    "plant_id": pl.String(),
    "production_date": pl.Date(),
    "machine_id": pl.String(),
    "planned_time_s": pl.Float64(),
    "run_time_s": pl.Float64(),
    "mold_id": pl.String(),
    "part_id": pl.String(),
    "cavities": pl.Int64(),
    "ideal_cycle_time_s": pl.Float64(),
    "unit_cost": pl.Float64(),
    "unit_price": pl.Float64(),
    "rejected_parts": pl.Int64(),
    "scrap_cost": pl.Float64(),
    "downtime_margin_loss": pl.Float64(),
}

# Silver frames a gold transformation may receive empty (table or partition absent).
_SILVER_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "intervals": {
        "plant_id": pl.String(),
        "production_date": pl.Date(),
        "machine_id": pl.String(),
        "state": pl.String(),
        "reason_code": pl.String(),
        "start_ts": _UTC,
        "end_ts": _UTC,
        "duration_s": pl.Float64(),
        "carried_over": pl.Boolean(),
    },
    "events": {
        "plant_id": pl.String(),
        "production_date": pl.Date(),
        "machine_id": pl.String(),
        "ts": _UTC,
        "state": pl.String(),
    },
    "shots": {
        "plant_id": pl.String(),
        "production_date": pl.Date(),
        "machine_id": pl.String(),
        "ts": _UTC,
        "mold_id": pl.String(),
        "is_resolved": pl.Boolean(),
    },
    "inspections": {
        "plant_id": pl.String(),
        "production_date": pl.Date(),
        "machine_id": pl.String(),
        "hour_start": _UTC,
        "part_id": pl.String(),
        "rejected_count": pl.Int64(),
    },
    "oee": GOLD_OEE_DAILY_SCHEMA,
}


def _of_plant(frame: pl.DataFrame, kind: str, plant: str) -> pl.DataFrame:
    """The plant's rows with at least the columns gold needs (empty when absent)."""
    schema = _SILVER_SCHEMAS[kind]
    if not frame.width:
        return pl.DataFrame(schema=schema)
    frame = frame.filter(pl.col("plant_id") == plant)
    return frame.select(list(schema)).cast(schema)  # type: ignore[arg-type]


def _per_plant(
    context: AssetExecutionContext,
    plants: pl.DataFrame,
    schema: dict[str, pl.DataType],
    build: Any,
) -> pl.DataFrame:
    """Run ``build(plant, tz, dates)`` for every plant of the run and stack the results."""
    targets = plants_and_dates(context.partition_keys)
    tzs = require_timezones(plants, list(targets))
    out = [build(plant, tzs[plant], dates) for plant, dates in targets.items()]
    frame = pl.concat(out, how="vertical_relaxed") if out else pl.DataFrame(schema=schema)
    return frame.cast(schema)  # type: ignore[arg-type]


def _master(engine: EngineResource, frame: pl.DataFrame, entity: str, dates: list[date], tz: str):
    return reference_for_dates(engine.lazy(reference_frame(frame, entity)), dates, tz)


_GOLD = {
    "group_name": "gold",
    "automation_condition": plant_day_automation_condition(),
    "partitions_def": plant_date_partitions,
    "backfill_policy": BackfillPolicy.single_run(),
    "owners": OWNERS,
    "kinds": {"polars", "delta"},
}


@asset(
    key=["gold", "oee_daily"],
    ins={
        "intervals": AssetIn(key=SILVER_INTERVALS.path),
        "events": AssetIn(key=SILVER_EVENTS.path),
        "shots": AssetIn(key=SILVER_SHOTS.path),
        "inspections": AssetIn(key=SILVER_INSPECTIONS.path),
        "molds": AssetIn(key=["reference", "molds"]),
        "plants": AssetIn(key=["reference", "plants"]),
    },
    tags={"layer": "gold", "domain": "production"},
    metadata={
        "partition_expr": PARTITION_EXPR,
        "dagster/column_schema": model_table_schema(GoldOeeDaily),
    },
    description=(
        "OEE per plant, machine and production date (contract 6.2, 7): planned time (day length "
        "in UTC instants minus PLANNED_STOP), run time, availability, shots (unresolved ones "
        "counted apart), total parts (mold cavities), ideal time, performance (not capped), "
        "rejected/good parts, quality and OEE; null ratios where a denominator is 0. One row per "
        "machine with a silver event, shot or inspection that day."
    ),
    **_GOLD,
)
def oee_daily(
    context: AssetExecutionContext,
    engine: EngineResource,
    intervals: pl.DataFrame,
    events: pl.DataFrame,
    shots: pl.DataFrame,
    inspections: pl.DataFrame,
    molds: pl.DataFrame,
    plants: pl.DataFrame,
) -> pl.DataFrame:
    def build(plant: str, tz: str, dates: list[date]) -> pl.DataFrame:
        return engine.collect(
            gold_oee_daily(
                engine.lazy(_of_plant(intervals, "intervals", plant)),
                engine.lazy(_of_plant(events, "events", plant)),
                engine.lazy(_of_plant(shots, "shots", plant)),
                engine.lazy(_of_plant(inspections, "inspections", plant)),
                _master(engine, molds, "molds", dates, tz),
                tz,
                dates,
            )
        )

    return _per_plant(context, plants, GOLD_OEE_DAILY_SCHEMA, build)


@asset(
    key=["gold", "run_rate_hourly"],
    ins={
        "intervals": AssetIn(key=SILVER_INTERVALS.path),
        "events": AssetIn(key=SILVER_EVENTS.path),
        "shots": AssetIn(key=SILVER_SHOTS.path),
        "inspections": AssetIn(key=SILVER_INSPECTIONS.path),
        "molds": AssetIn(key=["reference", "molds"]),
        "mold_assignments": AssetIn(key=["reference", "mold_assignments"]),
        "plants": AssetIn(key=["reference", "plants"]),
    },
    tags={"layer": "gold", "domain": "production"},
    metadata={
        "partition_expr": PARTITION_EXPR,
        "dagster/column_schema": model_table_schema(GoldRunRateHourly),
    },
    description=(
        "Run rate per plant, machine and UTC hour (one row per hour and production date; "
        "contract 6.3, 7): shots, seconds in RUNNING, shots per running hour, and the ideal rate "
        "of the mold with the most shots in the hour (else the mold mounted longest in it). "
        "Machines with a silver event, shot or inspection that day (as gold/oee_daily)."
    ),
    **_GOLD,
)
def run_rate_hourly(
    context: AssetExecutionContext,
    engine: EngineResource,
    intervals: pl.DataFrame,
    events: pl.DataFrame,
    shots: pl.DataFrame,
    inspections: pl.DataFrame,
    molds: pl.DataFrame,
    mold_assignments: pl.DataFrame,
    plants: pl.DataFrame,
) -> pl.DataFrame:
    def build(plant: str, tz: str, dates: list[date]) -> pl.DataFrame:
        shot_rows = engine.lazy(_of_plant(shots, "shots", plant))
        machines = machine_days(
            engine.lazy(_of_plant(events, "events", plant)),
            shot_rows,
            engine.lazy(_of_plant(inspections, "inspections", plant)),
        )
        return engine.collect(
            gold_run_rate_hourly(
                engine.lazy(_of_plant(intervals, "intervals", plant)),
                shot_rows,
                _master(engine, molds, "molds", dates, tz),
                _master(engine, mold_assignments, "mold_assignments", dates, tz),
                tz,
                dates,
                machines,
            )
        )

    return _per_plant(context, plants, GOLD_RUN_RATE_HOURLY_SCHEMA, build)


@asset(
    key=["gold", "loss_daily"],
    ins={
        "oee": AssetIn(key=["gold", "oee_daily"]),
        "inspections": AssetIn(key=SILVER_INSPECTIONS.path),
        "molds": AssetIn(key=["reference", "molds"]),
        "parts": AssetIn(key=["reference", "parts"]),
        "mold_parts": AssetIn(key=["reference", "mold_parts"]),
        "mold_assignments": AssetIn(key=["reference", "mold_assignments"]),
        "plants": AssetIn(key=["reference", "plants"]),
    },
    tags={"layer": "gold", "domain": "production"},
    metadata={
        "partition_expr": PARTITION_EXPR,
        "dagster/column_schema": model_table_schema(GoldLossDaily),
    },
    description=(
        "Losses per plant, machine and production date (contract 6.3, 7): scrap cost (each "
        "inspection row's rejects at its part's unit cost) and downtime margin loss "
        "((planned - run) / ideal cycle time x cavities x margin) of the mold mounted most of "
        "the day. Same rows as gold/oee_daily."
    ),
    **_GOLD,
)
def loss_daily(
    context: AssetExecutionContext,
    engine: EngineResource,
    oee: pl.DataFrame,
    inspections: pl.DataFrame,
    molds: pl.DataFrame,
    parts: pl.DataFrame,
    mold_parts: pl.DataFrame,
    mold_assignments: pl.DataFrame,
    plants: pl.DataFrame,
) -> pl.DataFrame:
    def build(plant: str, tz: str, dates: list[date]) -> pl.DataFrame:
        return engine.collect(
            gold_loss_daily(
                engine.lazy(_of_plant(oee, "oee", plant)),
                engine.lazy(_of_plant(inspections, "inspections", plant)),
                _master(engine, molds, "molds", dates, tz),
                _master(engine, parts, "parts", dates, tz),
                _master(engine, mold_parts, "mold_parts", dates, tz),
                _master(engine, mold_assignments, "mold_assignments", dates, tz),
                tz,
                dates,
            )
        )

    return _per_plant(context, plants, GOLD_LOSS_DAILY_SCHEMA, build)


production_gold_assets = [oee_daily, run_rate_hourly, loss_daily]
