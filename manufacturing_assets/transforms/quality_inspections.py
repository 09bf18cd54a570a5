"""Quality inspections: bronze -> silver + quarantine (contract sections 3.4, 5 and 7).

Pure Narwhals; runs on Polars and PySpark. One row per machine, hour and part;
``hour_start`` plays the role of ``ts`` (missing_ts / unparseable_ts / out_of_window) and
its plant-local date is the production date.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import narwhals as nw

from manufacturing_assets.transforms.common import (
    Frame,
    accepted_rows,
    classify,
    ensure_columns,
    flags_expr,
    for_dates,
    plant_mismatch,
    quarantine_rows,
    standard_checks,
    text,
    with_event_time,
)
from manufacturing_assets.transforms.machine_events import dedupe
from manufacturing_assets.transforms.master_data import parse_int

COUNT_COLUMNS = ("inspected_count", "rejected_count")


@dataclass
class SilverResult:
    silver: Frame
    quarantine: Frame


def _count_check(column: str) -> tuple[nw.Expr, nw.Expr]:
    """(invalid, detail) of one count: missing, not an integer, or negative."""
    raw = text(column)
    value, not_int = parse_int(raw)
    invalid = raw.is_null() | not_int | (value < 0).fill_null(False)
    detail = (
        nw.when(raw.is_null())
        .then(nw.lit(f"field '{column}' is missing"))
        .when(not_int)
        .then(nw.concat_str(nw.lit(f"field '{column}' is not an integer: "), raw))
        .otherwise(nw.concat_str(nw.lit(f"field '{column}' is negative: "), raw))
    )
    return invalid, detail


def silver_quality_inspections(bronze: Frame, tz: str, dates: Sequence[date]) -> SilverResult:
    """Validate, conform and split the bronze inspections of one plant.

    Quarantine reasons in contract order: malformed_record, missing_machine_id,
    missing_part_id, missing_ts (hour_start), unparseable_ts, out_of_window, invalid_count
    (a count that is missing, not an integer -- ``12`` and ``12.0`` are integers, ``2.5``
    is not -- or negative). Re-deliveries: one row per (machine_id, hour_start instant,
    part_id), the first copy in file-key order. ``rejected_count > inspected_count`` is
    kept and flagged ``rejected_exceeds_inspected``.
    """
    bronze = ensure_columns(
        bronze,
        [
            "machine_id",
            "hour_start",
            "part_id",
            *COUNT_COLUMNS,
            "defect_code",
            "record_plant_id",
            "raw_payload",
        ],
    )
    frame = with_event_time(bronze, "hour_start", tz)
    checks = standard_checks("part_id", "missing_part_id", "hour_start")
    inspected_bad, inspected_why = _count_check("inspected_count")
    rejected_bad, rejected_why = _count_check("rejected_count")
    checks.append(
        (
            "invalid_count",
            inspected_bad | rejected_bad,
            nw.when(inspected_bad).then(inspected_why).otherwise(rejected_why),
        )
    )
    frame = classify(frame, checks)
    frame = for_dates(frame, dates)
    quarantine = quarantine_rows(frame)

    rows = accepted_rows(frame).with_columns(
        text("machine_id").alias("machine_id"), text("part_id").alias("part_id")
    )
    rows = dedupe(rows, ["machine_id", "ts_utc", "part_id"])
    inspected = parse_int(text("inspected_count"))[0]
    rejected = parse_int(text("rejected_count"))[0]
    flags = flags_expr(
        [
            ("rejected_exceeds_inspected", rejected > inspected),
            ("plant_mismatch", plant_mismatch()),
        ]
    )
    silver = rows.select(
        nw.col("plant_id"),
        nw.col("production_date"),
        nw.col("machine_id"),
        nw.col("ts_utc").alias("hour_start"),
        nw.col("part_id"),
        inspected.alias("inspected_count"),
        rejected.alias("rejected_count"),
        text("defect_code").alias("defect_code"),
        flags.alias("flags"),
        nw.col("deliveries"),
        text("record_plant_id").alias("record_plant_id"),
        nw.col("landing_date"),
        nw.col("source"),
        nw.col("file_hash"),
        nw.col("line_number"),
        nw.col("ingested_at"),
    )
    return SilverResult(silver=silver, quarantine=quarantine)
