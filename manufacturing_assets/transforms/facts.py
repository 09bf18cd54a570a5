"""Star-schema facts (contract 6.4): silver/gold rows with the surrogate keys of the
dimension versions valid on their production date (contract 7: the latest snapshot on
or before the date; a date before a key's first snapshot takes its first version).

Pure Narwhals (Polars and PySpark). Every fact has the partition columns ``plant_id`` and
``production_date``, ``date_sk`` (``yyyymmdd``), the natural keys it was joined on (kept so
a missing dimension member is visible) and the surrogate keys; measures are cast to fixed
types so the marts' schema does not drift with upstream widenings.
"""

from __future__ import annotations

from dataclasses import dataclass

import narwhals as nw

from manufacturing_assets.contract import METRIC_RANGES, SHOT_MEASURES
from manufacturing_assets.transforms.common import Frame, text
from manufacturing_assets.transforms.dimensions import as_of_join, date_key

DATE = "production_date"
MACHINE_KEYS = (
    "plant_id",
    "production_date",
    "date_sk",
    "machine_id",
    "line_id",
    "plant_sk",
    "machine_sk",
    "line_sk",
)
SENSOR_STATS = tuple(f"{m}_{s}" for m in METRIC_RANGES for s in ("avg", "min", "max"))


@dataclass
class Dimensions:
    """The SCD2 dimension frames a fact joins (``mold``/``part`` only for shots)."""

    plant: Frame
    line: Frame
    machine: Frame
    mold: Frame | None = None
    part: Frame | None = None


def with_machine_keys(frame: Frame, dims: Dimensions) -> Frame:
    """``date_sk``, ``plant_sk``, ``machine_sk``, the machine version's ``line_id`` and that
    line's ``line_sk``, all as of the row's production date."""
    frame = frame.with_columns(date_key(DATE).alias("date_sk"))
    frame = as_of_join(frame, dims.plant, "plant_id", DATE, {"plant_sk": "plant_sk"})
    frame = as_of_join(
        frame, dims.machine, "machine_id", DATE, {"machine_sk": "machine_sk", "line_id": "line_id"}
    )
    return as_of_join(frame, dims.line, "line_id", DATE, {"line_sk": "line_sk"})


def _floats(*names: str) -> list[nw.Expr]:
    return [nw.col(n).cast(nw.Float64()).alias(n) for n in names]


def _ints(*names: str) -> list[nw.Expr]:
    return [nw.col(n).cast(nw.Int64()).alias(n) for n in names]


def fact_shot(shots: Frame, dims: Dimensions) -> Frame:
    """One row per silver shot: machine keys plus ``mold_sk`` (the shot's mold), ``part_id``
    and ``part_sk`` (the mold version's part), ``parts`` (that version's cavities: parts
    made by the shot; null when the mold is unresolved) and ``ideal_cycle_time_s``."""
    assert dims.mold is not None and dims.part is not None, "fact_shot needs dim_mold, dim_part"
    base = shots.select(
        nw.col("plant_id"),
        nw.col(DATE),
        nw.col("shot_id"),
        nw.col("machine_id"),
        nw.col("ts"),
        text("mold_id").alias("mold_id"),
        nw.col("mold_source").cast(nw.String()),
        nw.col("is_resolved").cast(nw.Boolean()),
        *_floats(*SHOT_MEASURES),
        nw.col("flags").cast(nw.String()),
    )
    frame = with_machine_keys(base, dims)
    frame = as_of_join(
        frame,
        dims.mold,
        "mold_id",
        DATE,
        {
            "mold_sk": "mold_sk",
            "part_id": "part_id",
            "cavities": "parts",
            "ideal_cycle_time_s": "ideal_cycle_time_s",
        },
    )
    frame = as_of_join(frame, dims.part, "part_id", DATE, {"part_sk": "part_sk"})
    return frame.select(
        *MACHINE_KEYS,
        "shot_id",
        "ts",
        "mold_id",
        "part_id",
        "mold_sk",
        "part_sk",
        "mold_source",
        "is_resolved",
        *SHOT_MEASURES,
        nw.col("parts").cast(nw.Int64()),
        nw.col("ideal_cycle_time_s").cast(nw.Float64()),
        "flags",
    ).sort("plant_id", DATE, "machine_id", "ts", "shot_id")


def fact_machine_state(intervals: Frame, dims: Dimensions) -> Frame:
    """One row per silver machine-state interval (clipped at plant-local midnight)."""
    base = intervals.select(
        nw.col("plant_id"),
        nw.col(DATE),
        nw.col("machine_id"),
        nw.col("state").cast(nw.String()),
        nw.col("reason_code").cast(nw.String()),
        nw.col("start_ts"),
        nw.col("end_ts"),
        *_floats("duration_s"),
        nw.col("carried_over").cast(nw.Boolean()),
    )
    return (
        with_machine_keys(base, dims)
        .select(
            *MACHINE_KEYS,
            "state",
            "reason_code",
            "start_ts",
            "end_ts",
            "duration_s",
            "carried_over",
        )
        .sort("plant_id", DATE, "machine_id", "start_ts")
    )


def fact_sensor_hourly(hourly: Frame, dims: Dimensions) -> Frame:
    """One row per ``gold/sensor_hourly`` row (plant, machine, UTC hour, production date)."""
    base = hourly.select(
        nw.col("plant_id"),
        nw.col(DATE),
        nw.col("machine_id"),
        nw.col("hour_start_utc"),
        *_ints("readings", "valid_readings"),
        *_floats(*SENSOR_STATS, "vibration_mm_s_p95"),
    )
    return (
        with_machine_keys(base, dims)
        .select(
            *MACHINE_KEYS,
            "hour_start_utc",
            "readings",
            "valid_readings",
            *SENSOR_STATS,
            "vibration_mm_s_p95",
        )
        .sort("plant_id", DATE, "machine_id", "hour_start_utc")
    )


OEE_FLOATS = (
    "planned_time_s",
    "run_time_s",
    "availability",
    "ideal_time_s",
    "performance",
    "quality",
    "oee",
)
OEE_INTS = ("shots", "unresolved_shots", "total_parts", "rejected_parts", "good_parts")
OEE_MEASURES = (
    "planned_time_s",
    "run_time_s",
    "availability",
    "shots",
    "unresolved_shots",
    "total_parts",
    "ideal_time_s",
    "performance",
    "rejected_parts",
    "good_parts",
    "quality",
    "oee",
)


def fact_oee_daily(oee: Frame, dims: Dimensions) -> Frame:
    """One row per ``gold/oee_daily`` row (plant, machine, production date)."""
    base = oee.select(
        nw.col("plant_id"),
        nw.col(DATE),
        nw.col("machine_id"),
        *_floats(*OEE_FLOATS),
        *_ints(*OEE_INTS),
    )
    return (
        with_machine_keys(base, dims)
        .select(*MACHINE_KEYS, *OEE_MEASURES)
        .sort("plant_id", DATE, "machine_id")
    )
