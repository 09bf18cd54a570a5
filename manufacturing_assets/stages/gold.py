"""Gold stages: silver of one plant -> the numbers of contract section 6.

Master data is joined in the version valid for each production date (the latest snapshot
with snapshot_date <= D; contract 7) through ``transforms.master_data.reference_for_dates``.
Transformations: ``transforms/sensor_readings.py`` (6.1) and ``transforms/oee.py`` (6.2, 6.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import narwhals as nw
import polars as pl

from manufacturing_assets.catalogue.gold import GOLD, LOSS_DAILY, OEE_DAILY, RUN_RATE_HOURLY
from manufacturing_assets.stages.plants import Engine, PlantDays
from manufacturing_assets.transforms import oee
from manufacturing_assets.transforms.master_data import reference_for_dates
from manufacturing_assets.transforms.sensor_readings import gold_sensor_hourly

# the columns of each silver input the production gold transformations read
_READS = {
    "intervals": ["plant_id", "production_date", "machine_id", "state", "reason_code",
                  "start_ts", "end_ts", "duration_s", "carried_over"],
    "events": ["plant_id", "production_date", "machine_id", "ts", "state"],
    "shots": ["plant_id", "production_date", "machine_id", "ts", "mold_id", "is_resolved"],
    "inspections": ["plant_id", "production_date", "machine_id", "hour_start", "part_id",
                    "rejected_count"],
}  # fmt: skip


GOLD_BUCKET_ROWS = 2_000_000  # silver readings per hourly pass (the p95 holds its values)


def sensor_hourly(engine: Engine, silver: pl.LazyFrame) -> pl.DataFrame:
    """Hourly statistics of the silver readings given (lazy: only the columns the
    aggregation needs are read). On Polars a big partition is aggregated in machine
    buckets (every group lies in one bucket), so memory is that of one bucket."""
    rows = silver.select(pl.len()).collect().item()
    if rows == 0:
        return GOLD["sensor_hourly"].empty()
    buckets = -(-rows // GOLD_BUCKET_ROWS) if getattr(engine, "name", "polars") == "polars" else 1
    if buckets == 1:
        return engine.collect(gold_sensor_hourly(engine.lazy(silver)))
    bucket = pl.col("machine_id").fill_null("").hash(seed=7) % buckets
    parts = [
        engine.collect(gold_sensor_hourly(engine.lazy(silver.filter(bucket == k))))
        for k in range(buckets)
    ]
    keys = ["plant_id", "production_date", "machine_id", "hour_start_utc"]
    return pl.concat(parts).sort(keys)


@dataclass(frozen=True)
class ProductionSilver:
    """One plant's silver production tables (rows of the run's dates)."""

    intervals: pl.DataFrame
    events: pl.DataFrame
    shots: pl.DataFrame
    inspections: pl.DataFrame

    def lazy(self, engine: Engine, name: str) -> nw.LazyFrame[Any]:
        return engine.lazy(getattr(self, name).select(_READS[name]))


def _master(engine: Engine, frame: pl.DataFrame, plant: PlantDays) -> nw.LazyFrame[Any]:
    return reference_for_dates(engine.lazy(frame), list(plant.dates), plant.timezone)


def oee_daily(
    engine: Engine, silver: ProductionSilver, plant: PlantDays, molds: pl.DataFrame
) -> pl.DataFrame:
    result = oee.gold_oee_daily(
        silver.lazy(engine, "intervals"),
        silver.lazy(engine, "events"),
        silver.lazy(engine, "shots"),
        silver.lazy(engine, "inspections"),
        _master(engine, molds, plant),
        plant.timezone,
        list(plant.dates),
    )
    return OEE_DAILY.conform(engine.collect(result))


def run_rate_hourly(
    engine: Engine,
    silver: ProductionSilver,
    plant: PlantDays,
    molds: pl.DataFrame,
    mold_assignments: pl.DataFrame,
) -> pl.DataFrame:
    shots = silver.lazy(engine, "shots")
    machines = oee.machine_days(
        silver.lazy(engine, "events"), shots, silver.lazy(engine, "inspections")
    )
    result = oee.gold_run_rate_hourly(
        silver.lazy(engine, "intervals"),
        shots,
        _master(engine, molds, plant),
        _master(engine, mold_assignments, plant),
        plant.timezone,
        list(plant.dates),
        machines,
    )
    return RUN_RATE_HOURLY.conform(engine.collect(result))


def loss_daily(
    engine: Engine,
    oee_rows: pl.DataFrame,
    inspections: pl.DataFrame,
    master: dict[str, pl.DataFrame],
    plant: PlantDays,
) -> pl.DataFrame:
    """``master``: the reference tables molds, parts, mold_parts and mold_assignments."""
    result = oee.gold_loss_daily(
        engine.lazy(OEE_DAILY.conform(oee_rows)),
        engine.lazy(inspections.select(_READS["inspections"])),
        _master(engine, master["molds"], plant),
        _master(engine, master["parts"], plant),
        _master(engine, master["mold_parts"], plant),
        _master(engine, master["mold_assignments"], plant),
        plant.timezone,
        list(plant.dates),
    )
    return LOSS_DAILY.conform(engine.collect(result))
