"""Sensor readings: bronze -> silver + quarantine, silver -> gold ``sensor_hourly``.

Pure Narwhals; runs on Polars and PySpark. Contract sections 3.1, 5, 6.1 and 7.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import narwhals as nw

from manufacturing_assets.contract import (
    CORE_METRICS,
    METRIC_PREFIX,
    METRIC_RANGES,
    SENSOR_STATUSES,
    SENTINELS,
)
from manufacturing_assets.transforms.common import (
    Frame,
    accepted_rows,
    classify,
    ensure_columns,
    flags_expr,
    for_dates,
    keep_first_delivery,
    plant_mismatch,
    quarantine_rows,
    standard_checks,
    text,
    with_event_time,
)
from manufacturing_assets.transforms.sums import exact_mean, exact_mean_parts

# A number only if it is a decimal literal (an exponent is tolerated: JSON numbers may
# be rendered that way) whose value a double holds; anything else non-empty is `unparseable`.
DECIMAL_RE = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
DEDUP_KEY = ("device_id", "ts")
SILVER_KEY_COLUMNS = (
    "plant_id",
    "production_date",
    "device_id",
    "machine_id",
    "ts",
    "firmware",
    "status",
)


@dataclass
class SilverResult:
    silver: Frame
    quarantine: Frame
    extra_metrics: list[str]  # unknown metric keys promoted to columns


def metric_keys(columns: Sequence[str]) -> tuple[list[str], list[str]]:
    """(core metrics, unknown metric keys) present among the bronze columns."""
    keys = [c[len(METRIC_PREFIX) :] for c in columns if c.startswith(METRIC_PREFIX)]
    extra = sorted(k for k in keys if k not in CORE_METRICS and k != "temperature_f")
    return list(CORE_METRICS), extra


def _metric_columns(frame: Frame, metric: str, raw: str, fahrenheit: str | None = None) -> Frame:
    """Order of operations of contract section 7: parse, sentinel (as sent), convert.

    Adds ``metric`` (Float64) and ``_unparseable__<metric>`` / ``_sentinel__<metric>``.
    Built in stages so every expression refers to columns, not to copies of expressions.
    """
    is_num = f"_isnum__{metric}"
    sent = f"_sent__{metric}"
    frame = frame.with_columns(
        nw.when(nw.col(raw).str.contains(DECIMAL_RE))
        .then(nw.col(raw).cast(nw.Float64()))
        .alias(sent)
    )
    # a decimal literal beyond the range of a double (1e309) is no number either
    frame = frame.with_columns(nw.col(sent).is_finite().fill_null(False).alias(is_num))
    frame = frame.with_columns(
        nw.when(nw.col(is_num)).then(nw.col(sent)).alias(sent),
        (~nw.col(raw).is_null() & ~nw.col(is_num)).alias(f"_unparseable__{metric}"),
    )
    frame = frame.with_columns(
        nw.col(sent).is_in(list(SENTINELS)).fill_null(False).alias(f"_sentinel__{metric}")
    )
    value = (
        nw.when(nw.col(f"_sentinel__{metric}"))
        .then(nw.lit(None, nw.Float64()))
        .otherwise(nw.col(sent))
    )
    if fahrenheit is not None:
        value = nw.when(nw.col(fahrenheit)).then((value - 32.0) * 5.0 / 9.0).otherwise(value)
    return frame.with_columns(value.alias(metric)).drop(is_num, sent)


def silver_sensor_readings(bronze: Frame, tz: str, dates: Sequence[date]) -> SilverResult:
    """Validate, conform and split the bronze readings of one plant.

    ``bronze`` holds the landing folders D-1..D+1 of every date D in ``dates``; the result
    keeps the records whose production date is in ``dates`` (contract section 2).
    Re-deliveries are removed from ``silver``; ``deliveries`` says how many copies of each
    reading arrived, so ``sum(deliveries) - rows`` is the number removed.
    """
    _, extra = metric_keys(bronze.collect_schema().names())
    metric_cols = [METRIC_PREFIX + m for m in (*CORE_METRICS, "temperature_f", *extra)]
    fields = ["device_id", "machine_id", "ts", "firmware", "status", "record_plant_id"]
    bronze = ensure_columns(bronze, metric_cols + fields)
    frame = with_event_time(bronze, "ts", tz)
    frame = classify(frame, standard_checks("device_id", "missing_device_id", "ts"))
    frame = for_dates(frame, dates)
    quarantine = quarantine_rows(frame)

    rows = accepted_rows(frame).drop("raw_payload", "parse_error", "reason", "detail")
    rows = rows.with_columns(*[text(c).alias(c) for c in metric_cols + fields])
    rows = keep_first_delivery(rows, ["device_id", "ts_utc"])
    rows = rows.with_columns(
        (
            nw.col(METRIC_PREFIX + "temperature_c").is_null()
            & ~nw.col(METRIC_PREFIX + "temperature_f").is_null()
        )
        .fill_null(False)
        .alias("temperature_from_f")
    )
    rows = rows.with_columns(
        nw.when(nw.col("temperature_from_f"))
        .then(nw.col(METRIC_PREFIX + "temperature_f"))
        .otherwise(nw.col(METRIC_PREFIX + "temperature_c"))
        .alias("_raw__temperature_c")
    )
    rows = _metric_columns(rows, "temperature_c", "_raw__temperature_c", "temperature_from_f")
    for m in (*CORE_METRICS[1:], *extra):
        rows = _metric_columns(rows, m, METRIC_PREFIX + m)
    rows = rows.with_columns(
        *[
            (~nw.col(m).is_null() & ~nw.col(m).is_between(lo, hi, closed="both"))
            .fill_null(False)
            .alias(f"_range__{m}")
            for m, (lo, hi) in METRIC_RANGES.items()
        ],
        (
            ~nw.col("status").is_in(list(SENSOR_STATUSES)).fill_null(False)
            | nw.col("status").is_null()
        ).alias("_invalid_status"),
        plant_mismatch().alias("_plant_mismatch"),
    )
    flags: list[tuple[str, nw.Expr]] = []
    for m in (*CORE_METRICS, *extra):
        flags.append((f"unparseable:{m}", nw.col(f"_unparseable__{m}")))
        flags.append((f"sentinel:{m}", nw.col(f"_sentinel__{m}")))
        if m in METRIC_RANGES:
            flags.append((f"out_of_range:{m}", nw.col(f"_range__{m}")))
    flags.append(("invalid_status", nw.col("_invalid_status")))
    flags.append(("plant_mismatch", nw.col("_plant_mismatch")))
    any_out = nw.lit(False)
    for m in METRIC_RANGES:
        any_out = any_out | nw.col(f"_range__{m}")

    silver = rows.select(
        nw.col("plant_id"),
        nw.col("production_date"),
        nw.col("device_id"),
        nw.col("machine_id"),
        nw.col("ts_utc").alias("ts"),
        nw.col("firmware"),
        nw.col("status"),
        nw.col("temperature_from_f"),
        *[nw.col(m) for m in (*CORE_METRICS, *extra)],
        (~any_out).alias("is_valid"),
        flags_expr(flags).alias("flags"),
        nw.col("deliveries"),
        nw.col("record_plant_id"),
        nw.col("landing_date"),
        nw.col("source"),
        nw.col("file_hash"),
        nw.col("line_number"),
        nw.col("ingested_at"),
    )
    return SilverResult(silver=silver, quarantine=quarantine, extra_metrics=extra)


def gold_sensor_hourly(silver: Frame) -> Frame:
    """Contract 6.1: per plant, machine and UTC hour (and production date, which differs
    from the hour start's date only where an hour spans local midnight)."""
    in_range = {
        m: nw.when(nw.col(m).is_between(lo, hi, closed="both")).then(nw.col(m))
        for m, (lo, hi) in METRIC_RANGES.items()
    }
    frame = silver.with_columns(
        nw.col("ts").dt.truncate("1h").alias("hour_start_utc"),
        nw.col("is_valid").cast(nw.Int64()).alias("_valid"),
        *[expr.alias(f"_{m}") for m, expr in in_range.items()],
    )
    keys = ["plant_id", "production_date", "machine_id", "hour_start_utc"]
    aggs: list[nw.Expr] = [
        nw.len().cast(nw.Int64()).alias("readings"),
        nw.col("_valid").sum().cast(nw.Int64()).alias("valid_readings"),
    ]
    columns = [*keys, "readings", "valid_readings"]
    # means from order-independent sums (sums.py): bit-identical on every run and engine
    for m in METRIC_RANGES:
        aggs += [
            *exact_mean_parts(nw.col(f"_{m}"), f"{m}_avg"),
            nw.col(f"_{m}").min().alias(f"{m}_min"),
            nw.col(f"_{m}").max().alias(f"{m}_max"),
        ]
        columns += [f"{m}_avg", f"{m}_min", f"{m}_max"]
    aggs.append(
        nw.col("_vibration_mm_s").quantile(0.95, interpolation="linear").alias("vibration_mm_s_p95")
    )
    columns.append("vibration_mm_s_p95")
    return (
        frame.group_by(*keys)
        .agg(*aggs)
        .with_columns(*[exact_mean(f"{m}_avg") for m in METRIC_RANGES])
        .select(*columns)
        .sort(*keys)
    )
