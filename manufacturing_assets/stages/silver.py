"""Silver stages: bronze D-1..D+1 of one plant -> (silver, quarantine) for its dates, and
the machine state intervals derived from silver events (contract 2, 3, 5, 7).

Transformations: ``transforms/sensor_readings.py``, ``shots.py``, ``machine_events.py``,
``quality_inspections.py``. Each stage takes and returns Polars frames.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from manufacturing_assets.catalogue.bronze import BRONZE
from manufacturing_assets.catalogue.silver import MACHINE_STATE_INTERVALS
from manufacturing_assets.stages.plants import Engine, PlantDays
from manufacturing_assets.transforms import machine_events, quality_inspections, sensor_readings
from manufacturing_assets.transforms import shots as shot_transforms
from manufacturing_assets.transforms.master_data import reference_for_dates

SILVER_BUCKET_ROWS = 2_500_000  # bronze rows per silver pass; bigger partitions are split


@dataclass
class SilverOutput:
    """One silver pass: accepted rows, quarantined rows, unknown keys kept as columns."""

    silver: pl.DataFrame
    quarantine: pl.DataFrame
    extra_columns: list[str] = field(default_factory=list)


def device_buckets(n_rows: int, bucket_rows: int | None = None) -> int:
    return max(1, -(-n_rows // (bucket_rows or SILVER_BUCKET_ROWS)))


def device_bucket(buckets: int) -> pl.Expr:
    """A stable bucket per device (rows without a device share bucket of the empty id)."""
    return pl.col("device_id").fill_null("").hash(seed=7) % buckets


def silver_sensor_readings(
    engine: Engine, bronze: pl.LazyFrame, plant: PlantDays, bucket_rows: int | None = None
) -> Iterator[SilverOutput]:
    """Silver sensor readings of one plant, in device buckets when the partition is big
    (re-deliveries share a device, so buckets de-duplicate independently): bounded memory
    on any day. ``bronze`` is a lazy scan; only the columns the transformation needs are
    read."""
    rows = bronze.filter(pl.col("plant_id") == plant.plant)
    n_rows = rows.select(pl.len()).collect().item()
    if n_rows == 0:
        rows = BRONZE["sensor_readings"].empty().lazy()
    buckets = device_buckets(n_rows, bucket_rows)
    for k in range(buckets):
        part = rows.filter(device_bucket(buckets) == k) if buckets > 1 else rows
        result = sensor_readings.silver_sensor_readings(
            engine.lazy(part), plant.timezone, list(plant.dates)
        )
        yield SilverOutput(
            engine.collect(result.silver),
            engine.collect(result.quarantine),
            list(result.extra_metrics),
        )


def silver_shots(
    engine: Engine, bronze: pl.DataFrame, plant: PlantDays, mold_assignments: pl.DataFrame
) -> SilverOutput:
    """Shots with the mold resolved from the assignments snapshot valid on each date."""
    dates = list(plant.dates)
    assignments = reference_for_dates(engine.lazy(mold_assignments), dates, plant.timezone)
    result = shot_transforms.silver_shots(engine.lazy(bronze), plant.timezone, dates, assignments)
    return SilverOutput(
        engine.collect(result.silver),
        engine.collect(result.quarantine),
        list(result.extra_measures),
    )


def silver_machine_events(engine: Engine, bronze: pl.DataFrame, plant: PlantDays) -> SilverOutput:
    result = machine_events.silver_machine_events(
        engine.lazy(bronze), plant.timezone, list(plant.dates)
    )
    return SilverOutput(engine.collect(result.silver), engine.collect(result.quarantine))


def silver_quality_inspections(
    engine: Engine, bronze: pl.DataFrame, plant: PlantDays
) -> SilverOutput:
    result = quality_inspections.silver_quality_inspections(
        engine.lazy(bronze), plant.timezone, list(plant.dates)
    )
    return SilverOutput(engine.collect(result.silver), engine.collect(result.quarantine))


def silver_stats(frame: pl.DataFrame) -> dict[str, int]:
    """Counts a silver materialization reports: flagged rows, duplicates removed, and
    (where the table has them) invalid rows and unresolved shots."""
    if frame.is_empty():
        return {"flagged_rows": 0, "duplicates_removed": 0}
    stats = {
        "flagged_rows": int((frame["flags"] != "").sum()),
        "duplicates_removed": int(frame["deliveries"].sum() - frame.height),
    }
    if "is_valid" in frame.columns:
        stats["invalid_rows"] = int((~frame["is_valid"]).sum())
    if "is_resolved" in frame.columns:
        stats["unresolved_shots"] = int((~frame["is_resolved"]).sum())
    return stats


# ---------------------------------------------------------------- state intervals

EVENT_COLUMNS = ["plant_id", "production_date", "machine_id", "ts", "state", "reason_code"]


def last_events(events: pl.DataFrame) -> pl.DataFrame:
    """Each machine's last event (the state it is in after ``events``)."""
    return (
        events.select(EVENT_COLUMNS)
        .sort("machine_id", "ts")
        .group_by("machine_id", maintain_order=True)
        .last()
        .select(EVENT_COLUMNS)
    )


def _activity(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select("machine_id", "production_date").unique()


def machine_state_intervals(
    engine: Engine,
    events: pl.DataFrame,
    history: pl.DataFrame,
    shots: pl.DataFrame,
    inspections: pl.DataFrame,
    plant: PlantDays,
) -> pl.DataFrame:
    """State intervals of one plant's dates.

    ``events``: the plant's silver events of D-1..D; ``history``: each machine's last
    event before that window (:func:`last_events`; states carry over "however many days
    back", contract 3.3); ``shots``/``inspections``: the plant's silver rows of the dates
    (a machine with a shot or inspection gets a day even without events).
    """
    all_events = pl.concat(
        [history.select(EVENT_COLUMNS), events.select(EVENT_COLUMNS)], how="vertical_relaxed"
    )
    active = pl.concat([_activity(shots), _activity(inspections)]).unique()
    result = machine_events.machine_state_intervals(
        engine.lazy(all_events),
        engine.lazy(active),
        plant.plant,
        plant.timezone,
        list(plant.dates),
    )
    frame = MACHINE_STATE_INTERVALS.conform(engine.collect(result))
    return frame.sort("plant_id", "production_date", "machine_id", "start_ts")


def interval_stats(frame: pl.DataFrame) -> dict[str, Any]:
    return {
        "machines": frame.select("plant_id", "machine_id").n_unique() if frame.height else 0,
        "carried_over_intervals": int(frame["carried_over"].sum()) if frame.height else 0,
    }
