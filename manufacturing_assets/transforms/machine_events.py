"""Machine events: bronze -> silver + quarantine, and silver -> state intervals.

Pure Narwhals; runs on Polars and PySpark. Contract sections 3.3, 5 and 7.

Also the plant-day calendar every production table shares: the UTC bounds of plant-local
days (82,800 s on a spring-forward day, 90,000 s on a fall-back day; durations are
instants subtracted in UTC) and the UTC hours that overlap them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import narwhals as nw

from manufacturing_assets.contract import DEFAULT_STATE, MACHINE_STATES
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
from manufacturing_assets.transforms.native import is_spark

UTC_US = nw.Datetime("us", "UTC")
EVENT_COLUMNS = ("plant_id", "production_date", "machine_id", "ts", "state", "reason_code")


# ----------------------------------------------------------------------------- calendar


def day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """UTC instants of the plant-local midnights starting ``day`` and the next day.

    A midnight inside a DST gap maps to the first instant after the gap (the same rule as
    the event-time parser), so the day is exactly the instants whose local date is ``day``.
    """
    zone = ZoneInfo(tz)

    def midnight(d: date) -> datetime:
        return datetime.combine(d, time(0), tzinfo=zone).astimezone(UTC)

    return midnight(day), midnight(day + timedelta(days=1))


def frame_like(template: Frame, data: dict[str, list[Any]], schema: dict[str, Any]) -> Frame:
    """A small frame built from Python values on the same engine as ``template``."""
    eager = nw.from_dict(data, schema=schema, backend="polars")
    if is_spark(template):
        session = nw.to_native(template).sparkSession
        return eager.lazy(backend="pyspark", session=session)
    return eager.lazy()


def calendar_frame(template: Frame, tz: str, dates: Sequence[date]) -> Frame:
    """``production_date, day_start, day_end, day_length_s`` for every date."""
    days = sorted(set(dates))
    bounds = [day_bounds(d, tz) for d in days]
    return frame_like(
        template,
        {
            "production_date": days,
            "day_start": [b[0] for b in bounds],
            "day_end": [b[1] for b in bounds],
            "day_length_s": [(b[1] - b[0]).total_seconds() for b in bounds],
        },
        {
            "production_date": nw.Date(),
            "day_start": UTC_US,
            "day_end": UTC_US,
            "day_length_s": nw.Float64(),
        },
    )


def hours_frame(template: Frame, tz: str, dates: Sequence[date]) -> Frame:
    """``production_date, hour_start_utc, seg_start, seg_end``: every UTC hour overlapping
    each plant-local day, cut to the day (an hour spanning local midnight, possible in a
    zone with a fractional offset, gives one row per production date)."""
    rows: dict[str, list[Any]] = {k: [] for k in ("production_date", "hour_start_utc")}
    rows |= {"seg_start": [], "seg_end": []}
    for d in sorted(set(dates)):
        start, end = day_bounds(d, tz)
        hour = start.replace(minute=0, second=0, microsecond=0)
        while hour < end:
            rows["production_date"].append(d)
            rows["hour_start_utc"].append(hour)
            rows["seg_start"].append(max(hour, start))
            rows["seg_end"].append(min(hour + timedelta(hours=1), end))
            hour += timedelta(hours=1)
    schema = {"production_date": nw.Date(), "hour_start_utc": UTC_US}
    return frame_like(template, rows, schema | {"seg_start": UTC_US, "seg_end": UTC_US})


def epoch_us(expr: nw.Expr) -> nw.Expr:
    """Microseconds since 1970-01-01 of a UTC timestamp, as Int64.

    Narwhals has neither ``dt.timestamp`` nor duration totals on PySpark, so this is
    civil-calendar arithmetic on the UTC components (exact, same result on both engines).
    """
    y = expr.dt.year().cast(nw.Int64()) - 1
    leap_days = y // 4 - y // 100 + y // 400 - (1969 // 4 - 1969 // 100 + 1969 // 400)
    days = (y - 1969) * 365 + leap_days + expr.dt.ordinal_day().cast(nw.Int64()) - 1
    minutes = (days * 24 + expr.dt.hour().cast(nw.Int64())) * 60 + expr.dt.minute().cast(nw.Int64())
    return (
        minutes * 60_000_000
        + expr.dt.second().cast(nw.Int64()) * 1_000_000
        + expr.dt.microsecond().cast(nw.Int64())
    )


def seconds_between(start: nw.Expr, end: nw.Expr) -> nw.Expr:
    """``end - start`` in seconds (Float64), instants subtracted in UTC."""
    return (epoch_us(end) - epoch_us(start)).cast(nw.Float64()) / 1_000_000.0


# ----------------------------------------------------------------------------- silver


@dataclass
class SilverResult:
    silver: Frame
    quarantine: Frame


def dedupe(rows: Frame, keys: Sequence[str]) -> Frame:
    """Keep the first copy in (file key, line) order; ``deliveries`` counts the copies."""
    return rows.with_columns(
        nw.col("line_number").count().over(*keys).cast(nw.Int64()).alias("deliveries")
    ).unique(list(keys), keep="first", order_by=["source", "line_number"])


def silver_machine_events(bronze: Frame, tz: str, dates: Sequence[date]) -> SilverResult:
    """Validate, conform and split the bronze machine events of one plant.

    ``bronze`` holds the landing folders D-1..D+1 of every date D in ``dates``; the result
    keeps the records whose production date is in ``dates``. A state outside
    RUNNING/IDLE/DOWN/SETUP/PLANNED_STOP (exact spelling, surrounding blanks ignored) is
    quarantined as ``invalid_state``. Re-deliveries (same machine and ts instant) keep
    the first copy in file-key order.
    """
    bronze = ensure_columns(
        bronze, ["machine_id", "ts", "state", "reason_code", "record_plant_id", "raw_payload"]
    )
    frame = with_event_time(bronze, "ts", tz)
    state = text("state")
    checks = standard_checks(None, None, "ts")
    checks.append(
        (
            "invalid_state",
            ~state.is_in(list(MACHINE_STATES)).fill_null(False),
            nw.concat_str(
                nw.lit("field 'state' is not one of " + "/".join(MACHINE_STATES) + ": "),
                nw.col("state").cast(nw.String()).fill_null("<missing>"),
            ),
        )
    )
    frame = classify(frame, checks)
    frame = for_dates(frame, dates)
    quarantine = quarantine_rows(frame)

    rows = accepted_rows(frame).with_columns(text("machine_id").alias("_machine_id"))
    rows = dedupe(rows, ["_machine_id", "ts_utc"])
    silver = rows.select(
        nw.col("plant_id"),
        nw.col("production_date"),
        nw.col("_machine_id").alias("machine_id"),
        nw.col("ts_utc").alias("ts"),
        state.alias("state"),
        text("reason_code").alias("reason_code"),
        flags_expr([("plant_mismatch", plant_mismatch())]).alias("flags"),
        nw.col("deliveries"),
        text("record_plant_id").alias("record_plant_id"),
        nw.col("landing_date"),
        nw.col("source"),
        nw.col("file_hash"),
        nw.col("line_number"),
        nw.col("ingested_at"),
    )
    return SilverResult(silver=silver, quarantine=quarantine)


# ----------------------------------------------------------------------------- intervals


def machine_state_intervals(
    events: Frame,
    active: Frame,
    plant_id: str,
    tz: str,
    dates: Sequence[date],
) -> Frame:
    """State intervals per machine and plant-local day (contract 3.3 and 7).

    ``events``: silver machine events (``machine_id, production_date, ts, state,
    reason_code``) of ``dates`` and of every earlier day that may hold a machine's last
    state before a date in ``dates`` (the day before plus, for machines silent longer,
    at least their last older event). ``active``: ``machine_id, production_date`` of
    machines with a shot or an inspection on a date in ``dates``.

    A machine gets intervals for day D when it has an event, shot or inspection on D or
    any event before D (a known prior state). Each event starts an interval that lasts
    until the machine's next event, clipped at the day's end (the next plant-local
    midnight). The interval from local midnight to the day's first event carries the
    machine's last state before the day (``carried_over``; ``IDLE`` if it never
    reported). Zero-length intervals (an event exactly at midnight) are dropped.
    """
    calendar = calendar_frame(events, tz, dates)
    events = events.select(
        nw.col("machine_id").cast(nw.String()),
        nw.col("production_date"),
        nw.col("ts"),
        nw.col("state").cast(nw.String()),
        # an event's reason may be null: "" marks "no reason" so the fill below stops at
        # every event and only fills the midnight markers (null)
        nw.col("reason_code").cast(nw.String()).fill_null(""),
    )
    first_seen = events.group_by("machine_id").agg(nw.col("ts").min().alias("first_ts"))
    known = (
        first_seen.join(calendar, how="cross")
        .filter(nw.col("first_ts") < nw.col("day_end"))
        .select("machine_id", "production_date")
    )
    machine_days = nw.concat(
        [
            known,
            active.select(nw.col("machine_id").cast(nw.String()), nw.col("production_date")),
        ],
        how="vertical",
    ).unique(["machine_id", "production_date"])
    machine_days = machine_days.join(calendar, on="production_date", how="inner")
    markers = machine_days.select(
        nw.col("machine_id"),
        nw.col("production_date"),
        nw.col("day_start").alias("ts"),
        nw.lit(None, nw.String()).alias("state"),
        nw.lit(None, nw.String()).alias("reason_code"),
        nw.lit(0, nw.Int64()).alias("_kind"),
    )
    rows = nw.concat(
        [markers, events.with_columns(nw.lit(1, nw.Int64()).alias("_kind"))], how="vertical"
    )
    order = ["ts", "_kind"]
    rows = rows.with_columns(
        nw.col("state").fill_null(strategy="forward").over("machine_id", order_by=order),
        nw.col("reason_code")
        .fill_null(strategy="forward")
        .over("machine_id", order_by=order)
        .alias("_reason"),
        nw.col("ts").shift(-1).over("machine_id", order_by=order).alias("_next_ts"),
    )
    rows = rows.join(calendar, on="production_date", how="inner")
    # an event row of a day outside ``dates`` was only there to carry its state
    end = nw.min_horizontal(nw.col("_next_ts").fill_null(nw.col("day_end")), nw.col("day_end"))
    reason = nw.col("_reason")
    out = rows.select(
        nw.lit(plant_id, nw.String()).alias("plant_id"),
        nw.col("production_date"),
        nw.col("machine_id"),
        nw.col("state").fill_null(DEFAULT_STATE).alias("state"),
        nw.when(reason.is_null() | (reason == ""))
        .then(nw.lit(None, nw.String()))
        .otherwise(reason)
        .alias("reason_code"),
        nw.col("ts").alias("start_ts"),
        end.alias("end_ts"),
        (nw.col("_kind") == 0).alias("carried_over"),
    ).filter(nw.col("end_ts") > nw.col("start_ts"))
    return out.with_columns(
        seconds_between(nw.col("start_ts"), nw.col("end_ts")).alias("duration_s")
    ).select(
        "plant_id",
        "production_date",
        "machine_id",
        "state",
        "reason_code",
        "start_ts",
        "end_ts",
        "duration_s",
        "carried_over",
    )
