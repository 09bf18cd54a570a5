"""Table-level rules of the quality contract: what one column's type and range cannot say.

Each rule is a pandera check over the whole frame (``pandera.polars``), added to the
catalogue's column contract by ``checks/contracts.py``. Keyed by table (``layer/name``).
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from manufacturing_assets.contract import METRIC_RANGES, SENSOR_STATUSES

TOLERANCE = 1e-6


def _rule(error: str):
    """Decorator: a frame-level pandera check named after the function."""

    def wrap(fn):
        return pa.Check(lambda data: fn(data.lazyframe), error=error, name=fn.__name__)

    return wrap


# ---------------------------------------------------------------- silver


@_rule("is_valid must be false exactly when a metric is out of range")
def is_valid_matches_ranges(frame: pl.LazyFrame) -> pl.LazyFrame:
    out = pl.lit(False)
    for m, (lo, hi) in METRIC_RANGES.items():
        out = out | (pl.col(m).is_not_null() & ~pl.col(m).is_between(lo, hi)).fill_null(False)
    return frame.select(pl.col("is_valid") == ~out)


@_rule("status outside active/idle/faulty must be flagged invalid_status")
def invalid_status_flagged(frame: pl.LazyFrame) -> pl.LazyFrame:
    ok = pl.col("status").is_in(list(SENSOR_STATUSES)).fill_null(False)
    return frame.select(ok | pl.col("flags").str.contains("invalid_status"))


@_rule("is_resolved must equal mold_id is not null, flagged otherwise")
def resolution_consistent(frame: pl.LazyFrame) -> pl.LazyFrame:
    resolved = pl.col("mold_id").is_not_null()
    flagged = pl.col("flags").str.contains("unresolved_mold")
    return frame.select(
        (pl.col("is_resolved") == resolved)
        & (flagged == ~resolved)
        & (pl.col("mold_source").is_null() == ~resolved)
    )


@_rule("intervals of a machine-day must not overlap and sum to <= 90,000 s")
def day_total(frame: pl.LazyFrame) -> pl.LazyFrame:
    total = pl.col("duration_s").sum().over("plant_id", "production_date", "machine_id")
    return frame.select(total <= 90_000 + TOLERANCE)


@_rule("duration_s must equal end_ts - start_ts")
def duration_matches(frame: pl.LazyFrame) -> pl.LazyFrame:
    span = (pl.col("end_ts") - pl.col("start_ts")).dt.total_microseconds() / 1e6
    return frame.select((span - pl.col("duration_s")).abs() < TOLERANCE)


# ---------------------------------------------------------------- gold


@_rule("valid_readings must not exceed readings")
def valid_le_total(frame: pl.LazyFrame) -> pl.LazyFrame:
    return frame.select(pl.col("valid_readings") <= pl.col("readings"))


@_rule("min <= avg <= max for every metric")
def ordered_stats(frame: pl.LazyFrame) -> pl.LazyFrame:
    ok = pl.lit(True)
    for m in METRIC_RANGES:
        ok = ok & (
            (pl.col(f"{m}_min") <= pl.col(f"{m}_avg") + 1e-9)
            & (pl.col(f"{m}_avg") <= pl.col(f"{m}_max") + 1e-9)
        ).fill_null(True)
    return frame.select(ok)


@_rule("ratios must match their definitions (contract 6.2, 7)")
def oee_ratios(frame: pl.LazyFrame) -> pl.LazyFrame:
    def same(col: str, expected: pl.Expr) -> pl.Expr:
        c = pl.col(col)
        return (c.is_null() & expected.is_null()) | ((c - expected).abs() <= TOLERANCE)

    def ratio(num: str, den: str) -> pl.Expr:
        return pl.when(pl.col(den) != 0).then(pl.col(num) / pl.col(den))

    a = ratio("run_time_s", "planned_time_s")
    p = ratio("ideal_time_s", "run_time_s")
    q = ratio("good_parts", "total_parts")
    return frame.select(
        same("availability", a)
        & same("performance", p)
        & same("quality", q)
        & same("oee", a * p * q)
        & (pl.col("good_parts") == pl.col("total_parts") - pl.col("rejected_parts"))
        & (pl.col("unresolved_shots") <= pl.col("shots"))
        & (pl.col("run_time_s") <= pl.col("planned_time_s") + TOLERANCE)
    )


@_rule("a row needs RUNNING time or shots")
def has_activity(frame: pl.LazyFrame) -> pl.LazyFrame:
    return frame.select((pl.col("running_s") > 0) | (pl.col("shots") > 0))


# ---------------------------------------------------------------- marts


@_rule("valid_to must be after valid_from")
def positive_interval(frame: pl.LazyFrame) -> pl.LazyFrame:
    return frame.select((pl.col("valid_to") > pl.col("valid_from")).fill_null(True))


@_rule("is_current must be true exactly when valid_to is null")
def current_is_open(frame: pl.LazyFrame) -> pl.LazyFrame:
    return frame.select(pl.col("is_current") == pl.col("valid_to").is_null())


@_rule("date_sk must be yyyymmdd of date")
def sk_is_date(frame: pl.LazyFrame) -> pl.LazyFrame:
    return frame.select(pl.col("date_sk") == pl.col("date").dt.strftime("%Y%m%d").cast(pl.Int64))


@_rule("date_sk must be yyyymmdd of production_date")
def date_sk_matches(frame: pl.LazyFrame) -> pl.LazyFrame:
    return frame.select(
        pl.col("date_sk") == pl.col("production_date").dt.strftime("%Y%m%d").cast(pl.Int64)
    )


SCD2_RULES = [positive_interval, current_is_open]
FACT_RULES = [date_sk_matches]

RULES: dict[str, list[pa.Check]] = {
    "silver/sensor_readings": [is_valid_matches_ranges, invalid_status_flagged],
    "silver/shots": [resolution_consistent],
    "silver/machine_state_intervals": [day_total, duration_matches],
    "gold/sensor_hourly": [valid_le_total, ordered_stats],
    "gold/oee_daily": [oee_ratios],
    "gold/run_rate_hourly": [has_activity],
    **{
        f"marts/dim_{d}": SCD2_RULES
        for d in ("plant", "line", "machine", "mold", "part", "company")
    },
    "marts/dim_date": [sk_is_date],
    **{
        f"marts/{f}": FACT_RULES
        for f in ("fact_shot", "fact_machine_state", "fact_sensor_hourly", "fact_oee_daily")
    },
}
