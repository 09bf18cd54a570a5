"""Gold production tables: ``oee_daily``, ``run_rate_hourly``, ``loss_daily``.

Pure Narwhals; runs on Polars and PySpark. Contract sections 6.2, 6.3 and 7. Every
function works on one plant (``tz``) and any number of production dates; master data
comes as the typed snapshot valid for each production date
(``master_data.reference_for_dates``), joined on ``production_date`` + key.

Ratios are null where the denominator is 0 (``_ratio`` divides by null instead of 0, so
Spark in ANSI mode never sees a division by zero). Sums of doubles (times, costs) go
through ``sums.exact_sum``: the same bits on every run, for any row order, on both engines.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import narwhals as nw

from manufacturing_assets.transforms.common import Frame
from manufacturing_assets.transforms.machine_events import (
    calendar_frame,
    hours_frame,
    seconds_between,
)
from manufacturing_assets.transforms.shots import in_days
from manufacturing_assets.transforms.sums import exact_sum

DAY_KEY = ["plant_id", "production_date", "machine_id"]
HOUR_KEY = [*DAY_KEY, "hour_start_utc"]

OEE_COLUMNS = (
    *DAY_KEY,
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
RUN_RATE_COLUMNS = (
    *HOUR_KEY,
    "shots",
    "running_s",
    "run_rate_per_h",
    "ideal_rate_per_h",
    "mold_id",
)
LOSS_COLUMNS = (
    *DAY_KEY,
    "planned_time_s",
    "run_time_s",
    "mold_id",
    "part_id",
    "cavities",
    "ideal_cycle_time_s",
    "unit_cost",
    "unit_price",
    "rejected_parts",
    "scrap_cost",
    "downtime_margin_loss",
)


def _ratio(num: nw.Expr, den: nw.Expr) -> nw.Expr:
    """``num / den`` as Float64; null when ``den`` is 0 or null."""
    safe = nw.when(den != 0).then(den.cast(nw.Float64()))
    return num.cast(nw.Float64()) / safe


def _int_sum(expr: nw.Expr) -> nw.Expr:
    """Sum as Int64, 0 over no rows or only nulls (same on both engines)."""
    return expr.cast(nw.Int64()).fill_null(0).sum().cast(nw.Int64())


def _float_sum(expr: nw.Expr) -> nw.Expr:
    """Sum as Float64, 0.0 over no rows or only nulls; the same bits whatever the order
    of the rows and the engine (``transforms/sums.py``)."""
    return exact_sum(expr)


def _keys(frame: Frame, keys: Sequence[str]) -> Frame:
    return frame.select(*[nw.col(k) for k in keys])


def _one_per(frame: Frame, keys: Sequence[str], columns: Sequence[str]) -> Frame:
    """One master-data row per key (the first in the snapshot file if a key repeats), so a
    duplicated row can never multiply facts in a join."""
    names = frame.collect_schema().names()
    order = ["line_number"] if "line_number" in names else list(columns)
    return frame.unique(list(keys), keep="first", order_by=order).select(*keys, *columns)


def _mounted_longest(assignments: Frame, windows: Frame, keys: Sequence[str]) -> Frame:
    """The mold mounted longest within each window (contract 7, "mounted most of the
    day"; ties: the later ``valid_from``): ``keys + [mounted_mold_id]``.

    ``assignments``: overlapping-the-day intervals from ``shots.in_days``; ``windows``:
    ``keys`` (including ``production_date`` and ``machine_id``) + ``win_start, win_end``.
    """
    overlap = (
        windows.join(
            assignments.select(
                "production_date", "machine_id", "mold_id", "valid_from", "valid_to"
            ),
            on=["production_date", "machine_id"],
            how="inner",
        )
        .with_columns(
            nw.max_horizontal("valid_from", "win_start").alias("_from"),
            nw.min_horizontal(nw.col("valid_to").fill_null(nw.col("win_end")), "win_end").alias(
                "_to"
            ),
        )
        .filter(nw.col("_to") > nw.col("_from"))
        .with_columns(seconds_between(nw.col("_from"), nw.col("_to")).alias("_overlap_s"))
    )
    per_mold = overlap.group_by(*keys, "mold_id").agg(
        _float_sum(nw.col("_overlap_s")).alias("_mounted_s"),
        nw.col("valid_from").max().alias("_latest_from"),
    )
    return per_mold.unique(
        list(keys), keep="last", order_by=["_mounted_s", "_latest_from", "mold_id"]
    ).select(*keys, nw.col("mold_id").alias("mounted_mold_id"))


def machine_days(events: Frame, shots: Frame, inspections: Frame) -> Frame:
    """``plant_id, production_date, machine_id`` with any silver machine event, shot or
    inspection: the rows of ``oee_daily`` and ``loss_daily`` (contract 7) and the machines
    of ``run_rate_hourly``."""
    return nw.concat(
        [_keys(f, DAY_KEY) for f in (events, shots, inspections)], how="vertical"
    ).unique(DAY_KEY)


def _state_seconds(intervals: Frame) -> Frame:
    state = nw.col("state")
    return intervals.group_by(*DAY_KEY).agg(
        _float_sum(nw.when(state == "RUNNING").then(nw.col("duration_s"))).alias("run_time_s"),
        _float_sum(nw.when(state == "PLANNED_STOP").then(nw.col("duration_s"))).alias(
            "planned_stop_s"
        ),
    )


def gold_oee_daily(
    intervals: Frame,
    events: Frame,
    shots: Frame,
    inspections: Frame,
    molds: Frame,
    tz: str,
    dates: Sequence[date],
) -> Frame:
    """Contract 6.2 per plant, machine and production date.

    One row per (plant, machine, date) with a silver machine event, shot or inspection.
    ``planned_time_s`` = the day's length (UTC instants between local midnights) minus
    PLANNED_STOP time; ``run_time_s`` = RUNNING time (from ``silver/machine_state_intervals``;
    a machine without intervals that day counts as IDLE all day). Every shot counts in
    ``shots`` (whatever the machine state); ``total_parts`` and ``ideal_time_s`` add the
    cavities and ideal cycle time of each resolved shot's mold (molds snapshot of the
    date; an unresolved shot, or a mold missing from master data, adds nothing).
    """
    calendar = calendar_frame(intervals, tz, dates)
    machines = machine_days(events, shots, inspections)

    mold_facts = _one_per(molds, ["production_date", "mold_id"], ["cavities", "ideal_cycle_time_s"])
    shot_rows = shots.select(*DAY_KEY, "mold_id", "is_resolved").join(
        mold_facts, on=["production_date", "mold_id"], how="left"
    )
    resolved = nw.col("is_resolved")
    shot_agg = shot_rows.group_by(*DAY_KEY).agg(
        nw.len().cast(nw.Int64()).alias("shots"),
        _int_sum(~resolved).alias("unresolved_shots"),
        _int_sum(nw.when(resolved).then(nw.col("cavities"))).alias("total_parts"),
        _float_sum(nw.when(resolved).then(nw.col("ideal_cycle_time_s"))).alias("ideal_time_s"),
    )
    rejects = inspections.group_by(*DAY_KEY).agg(
        _int_sum(nw.col("rejected_count")).alias("rejected_parts")
    )
    frame = (
        machines.join(calendar, on="production_date", how="inner")
        .join(_state_seconds(intervals), on=DAY_KEY, how="left")
        .join(shot_agg, on=DAY_KEY, how="left")
        .join(rejects, on=DAY_KEY, how="left")
        .with_columns(
            (nw.col("day_length_s") - nw.col("planned_stop_s").fill_null(0.0)).alias(
                "planned_time_s"
            ),
            nw.col("run_time_s").fill_null(0.0),
            nw.col("shots").fill_null(0),
            nw.col("unresolved_shots").fill_null(0),
            nw.col("total_parts").fill_null(0),
            nw.col("ideal_time_s").fill_null(0.0),
            nw.col("rejected_parts").fill_null(0),
        )
        .with_columns(
            _ratio(nw.col("run_time_s"), nw.col("planned_time_s")).alias("availability"),
            _ratio(nw.col("ideal_time_s"), nw.col("run_time_s")).alias("performance"),
            (nw.col("total_parts") - nw.col("rejected_parts")).alias("good_parts"),
        )
        .with_columns(_ratio(nw.col("good_parts"), nw.col("total_parts")).alias("quality"))
        .with_columns(
            (nw.col("availability") * nw.col("performance") * nw.col("quality")).alias("oee")
        )
    )
    return frame.select(*OEE_COLUMNS).sort(*DAY_KEY)


def gold_run_rate_hourly(
    intervals: Frame,
    shots: Frame,
    molds: Frame,
    assignments: Frame,
    tz: str,
    dates: Sequence[date],
    machines: Frame | None = None,
) -> Frame:
    """Contract 6.3 per plant, machine, UTC hour and production date.

    A row for every hour with RUNNING time or shots of the machine-days in ``machines``
    (``plant_id, production_date, machine_id``; :func:`machine_days`, the machines of
    ``oee_daily``: a machine silent all day keeps its carried-over state in the
    intervals but gets no gold rows; None: every machine of ``intervals``). ``running_s``: seconds of the hour
    (cut to the plant-local day) in RUNNING; ``run_rate_per_h`` = shots / running_s x 3600
    (null when running_s = 0); ``ideal_rate_per_h`` = 3600 / ideal_cycle_time_s of the
    mold with the most resolved shots in the hour (ties: the mold whose last shot is
    later), or, without a resolved shot, of the mold mounted longest in the hour (null if
    none). ``mold_id`` is the mold used.
    """
    hours = hours_frame(intervals, tz, dates)
    if machines is not None:
        intervals = intervals.join(_keys(machines, DAY_KEY), on=DAY_KEY, how="inner")
    running = (
        intervals.filter(nw.col("state") == "RUNNING")
        .join(hours, on="production_date", how="inner")
        .filter((nw.col("start_ts") < nw.col("seg_end")) & (nw.col("end_ts") > nw.col("seg_start")))
        .with_columns(
            seconds_between(
                nw.max_horizontal("start_ts", "seg_start"),
                nw.min_horizontal("end_ts", "seg_end"),
            ).alias("_run_s")
        )
        .group_by(*HOUR_KEY)
        .agg(_float_sum(nw.col("_run_s")).alias("running_s"))
    )
    shot_rows = shots.with_columns(nw.col("ts").dt.truncate("1h").alias("hour_start_utc"))
    shot_counts = shot_rows.group_by(*HOUR_KEY).agg(nw.len().cast(nw.Int64()).alias("shots"))
    shot_mold = (
        shot_rows.filter(~nw.col("mold_id").is_null())
        .group_by(*HOUR_KEY, "mold_id")
        .agg(nw.len().alias("_n"), nw.col("ts").max().alias("_last_ts"))
        .unique(HOUR_KEY, keep="last", order_by=["_n", "_last_ts", "mold_id"])
        .select(*HOUR_KEY, nw.col("mold_id").alias("shot_mold_id"))
    )
    rows = nw.concat([_keys(running, HOUR_KEY), _keys(shot_counts, HOUR_KEY)], how="vertical")
    rows = rows.unique(HOUR_KEY)
    windows = rows.join(hours, on=["production_date", "hour_start_utc"], how="inner").select(
        *HOUR_KEY, nw.col("seg_start").alias("win_start"), nw.col("seg_end").alias("win_end")
    )
    mounted = _mounted_longest(
        in_days(assignments, calendar_frame(intervals, tz, dates)), windows, HOUR_KEY
    )
    ideal = _one_per(molds, ["production_date", "mold_id"], ["ideal_cycle_time_s"])
    frame = (
        rows.join(running, on=HOUR_KEY, how="left")
        .join(shot_counts, on=HOUR_KEY, how="left")
        .join(shot_mold, on=HOUR_KEY, how="left")
        .join(mounted, on=HOUR_KEY, how="left")
        .with_columns(
            nw.col("running_s").fill_null(0.0),
            nw.col("shots").fill_null(0),
            nw.coalesce(nw.col("shot_mold_id"), nw.col("mounted_mold_id")).alias("mold_id"),
        )
        .join(ideal, on=["production_date", "mold_id"], how="left")
        .with_columns(
            (_ratio(nw.col("shots"), nw.col("running_s")) * 3600.0).alias("run_rate_per_h"),
            _ratio(nw.lit(3600.0), nw.col("ideal_cycle_time_s")).alias("ideal_rate_per_h"),
        )
    )
    return frame.select(*RUN_RATE_COLUMNS).sort(*HOUR_KEY)


def gold_loss_daily(
    oee: Frame,
    inspections: Frame,
    molds: Frame,
    parts: Frame,
    mold_parts: Frame,
    assignments: Frame,
    tz: str,
    dates: Sequence[date],
) -> Frame:
    """Contract 6.3 per plant, machine and production date (the rows of ``oee_daily``).

    ``mold_id``: the mold mounted most of the plant-local day (longest total overlap of
    its assignment intervals with the day; ties: later ``valid_from``), its part from
    ``mold_parts`` and their master data of the date. ``scrap_cost`` charges each
    inspection row's rejects at that row's part ``unit_cost`` (a part missing from master
    data charges 0). ``downtime_margin_loss`` = (planned_time_s - run_time_s) /
    ideal_cycle_time_s x cavities x (unit_price - unit_cost); null without a mounted mold
    or with master data missing.
    """
    calendar = calendar_frame(oee, tz, dates)
    windows = (
        _keys(oee, DAY_KEY)
        .join(calendar, on="production_date", how="inner")
        .select(
            *DAY_KEY, nw.col("day_start").alias("win_start"), nw.col("day_end").alias("win_end")
        )
    )
    mounted = _mounted_longest(in_days(assignments, calendar), windows, DAY_KEY)
    part_of = mold_parts.select("production_date", "mold_id", "part_id").unique(
        ["production_date", "mold_id"], keep="first", order_by=["part_id"]
    )
    prices = _one_per(parts, ["production_date", "part_id"], ["unit_cost", "unit_price"])
    scrap = (
        inspections.select(*DAY_KEY, "part_id", "rejected_count")
        .join(prices, on=["production_date", "part_id"], how="left")
        .group_by(*DAY_KEY)
        .agg(
            _float_sum(nw.col("rejected_count").cast(nw.Float64()) * nw.col("unit_cost")).alias(
                "scrap_cost"
            )
        )
    )
    frame = (
        oee.select(*DAY_KEY, "planned_time_s", "run_time_s", "rejected_parts")
        .join(mounted, on=DAY_KEY, how="left")
        .rename({"mounted_mold_id": "mold_id"})
        .join(part_of, on=["production_date", "mold_id"], how="left")
        .join(
            _one_per(molds, ["production_date", "mold_id"], ["cavities", "ideal_cycle_time_s"]),
            on=["production_date", "mold_id"],
            how="left",
        )
        .join(prices, on=["production_date", "part_id"], how="left")
        .join(scrap, on=DAY_KEY, how="left")
        .with_columns(nw.col("scrap_cost").fill_null(0.0))
        .with_columns(
            (
                _ratio(
                    nw.col("planned_time_s") - nw.col("run_time_s"), nw.col("ideal_cycle_time_s")
                )
                * nw.col("cavities").cast(nw.Float64())
                * (nw.col("unit_price") - nw.col("unit_cost"))
            ).alias("downtime_margin_loss")
        )
    )
    return frame.select(*LOSS_COLUMNS).sort(*DAY_KEY)
