"""Shots: bronze -> silver + quarantine (contract sections 3.2, 5 and 7).

Pure Narwhals; runs on Polars and PySpark. The shot ``content`` (a JSON string) reaches
bronze already opened into ``content__<key>`` text columns plus ``content_error``; here
every key becomes a Float64 column (the six measures of ``SHOT_MEASURES`` always, unknown
keys as extra columns, like unknown sensor metrics), and the mold is resolved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import narwhals as nw

from manufacturing_assets.contract import CONTENT_PREFIX, SHOT_MEASURES
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
from manufacturing_assets.transforms.machine_events import calendar_frame, dedupe
from manufacturing_assets.transforms.master_data import parse_float

SILVER_COLUMNS = (
    "plant_id",
    "production_date",
    "shot_id",
    "machine_id",
    "ts",
    "mold_id",
    "mold_source",
    *SHOT_MEASURES,
    "is_resolved",
    "flags",
    "deliveries",
    "record_plant_id",
    "landing_date",
    "source",
    "file_hash",
    "line_number",
    "ingested_at",
)


@dataclass
class SilverResult:
    silver: Frame
    quarantine: Frame
    extra_measures: list[str]  # unknown content keys kept as columns (named as in content)
    extra_columns: dict[str, str]  # content key -> column name, for the keys above


def content_keys(columns: Sequence[str]) -> list[str]:
    """Unknown content keys present among the bronze columns, sorted."""
    keys = [c[len(CONTENT_PREFIX) :] for c in columns if c.startswith(CONTENT_PREFIX)]
    return sorted(k for k in keys if k not in SHOT_MEASURES)


def extra_column_name(key: str) -> str:
    """An unknown content key's silver column: the key itself, unless that would shadow a
    silver column (then ``content_<key>``)."""
    return f"content_{key}" if key in SILVER_COLUMNS else key


def content_value(raw: nw.Expr) -> tuple[nw.Expr, nw.Expr]:
    """``(value, unparseable)`` of a content key's text: Float64 when it is a decimal literal
    a double holds (``1e309`` is not: null and ``unparseable``, the shot stays)."""
    value, unparseable = parse_float(raw)
    finite = value.is_finite().fill_null(False)
    return nw.when(finite).then(value), unparseable | (~raw.is_null() & ~finite)


def in_days(assignments: Frame, calendar: Frame) -> Frame:
    """Assignment intervals (of the snapshot for each production date) that overlap that
    plant-local day: ``valid_from < day_end`` and ``valid_to`` open or ``> day_start``.
    Keeps the joins with shots and hours small however long the history is."""
    return (
        assignments.join(calendar, on="production_date", how="inner")
        .filter(
            (nw.col("valid_from") < nw.col("day_end"))
            & (nw.col("valid_to").is_null() | (nw.col("valid_to") > nw.col("day_start")))
        )
        .select(
            nw.col("production_date"),
            text("machine_id").alias("machine_id"),
            text("mold_id").alias("mold_id"),
            nw.col("valid_from"),
            nw.col("valid_to"),
            nw.col("day_start"),
            nw.col("day_end"),
        )
        .filter(~nw.col("machine_id").is_null() & ~nw.col("mold_id").is_null())
    )


def resolve_molds(shots: Frame, assignments: Frame) -> Frame:
    """``production_date, _shot_id, assigned_mold_id``: the mold mounted on the shot's machine at ``ts``
    (``valid_from <= ts < valid_to``, open ``valid_to`` = still mounted; the latest
    ``valid_from`` if several match). Equi-join on machine and date, then a range filter
    (no ``join_asof`` on Spark)."""
    matches = (
        shots.select("_shot_id", "machine_id", "production_date", "ts")
        .join(
            assignments.select(
                "production_date",
                "machine_id",
                nw.col("mold_id").alias("assigned_mold_id"),
                "valid_from",
                "valid_to",
            ),
            on=["production_date", "machine_id"],
            how="inner",
        )
        .filter(
            (nw.col("valid_from") <= nw.col("ts"))
            & (nw.col("valid_to").is_null() | (nw.col("ts") < nw.col("valid_to")))
        )
    )
    return matches.unique(
        ["production_date", "_shot_id"], keep="last", order_by=["valid_from", "assigned_mold_id"]
    ).select("production_date", "_shot_id", "assigned_mold_id")


def silver_shots(bronze: Frame, tz: str, dates: Sequence[date], assignments: Frame) -> SilverResult:
    """Validate, conform, resolve molds and split the bronze shots of one plant.

    ``bronze`` holds the landing folders D-1..D+1 of every date D in ``dates``; records
    whose production date is in ``dates`` are kept. ``assignments``: the typed
    ``mold_assignments`` snapshot valid for each production date
    (``master_data.reference_for_dates(..., tz)``: ``production_date, machine_id,
    mold_id, valid_from, valid_to``).

    Mold: an explicit non-blank ``mold_id`` wins (``mold_source = 'explicit'``), else the
    assignment mounted at ``ts`` (``'assignment'``); a shot with neither is kept with
    ``mold_id`` null, ``is_resolved`` false and the flag ``unresolved_mold``.
    Re-deliveries: one row per ``shot_id`` and production date, the first copy in file-key
    order; ``deliveries`` counts the copies.
    """
    extra = content_keys(bronze.collect_schema().names())
    bronze = ensure_columns(
        bronze,
        [CONTENT_PREFIX + m for m in (*SHOT_MEASURES, *extra)]
        + [
            "shot_id",
            "machine_id",
            "ts",
            "mold_id",
            "content",
            "content_error",
            "record_plant_id",
            "raw_payload",
        ],
    )
    frame = with_event_time(bronze, "ts", tz)
    frame = classify(frame, standard_checks("shot_id", "missing_shot_id", "ts"))
    frame = for_dates(frame, dates)
    quarantine = quarantine_rows(frame)

    rows = accepted_rows(frame).with_columns(
        text("shot_id").alias("_shot_id"), text("machine_id").alias("machine_id")
    )
    rows = dedupe(rows, ["production_date", "_shot_id"]).with_columns(nw.col("ts_utc").alias("ts"))
    calendar = calendar_frame(rows, tz, dates)
    assigned = resolve_molds(rows, in_days(assignments, calendar))
    rows = rows.join(assigned, on=["production_date", "_shot_id"], how="left")

    explicit = text("mold_id")
    mold = nw.coalesce(explicit, nw.col("assigned_mold_id"))
    source = (
        nw.when(~explicit.is_null())
        .then(nw.lit("explicit"))
        .when(~nw.col("assigned_mold_id").is_null())
        .then(nw.lit("assignment"))
        .otherwise(nw.lit(None, nw.String()))
    )
    values: dict[str, nw.Expr] = {}
    flags: list[tuple[str, nw.Expr]] = [("unparseable_content", ~nw.col("content_error").is_null())]
    for key in (*SHOT_MEASURES, *extra):
        value, unparseable = content_value(text(CONTENT_PREFIX + key))
        column = key if key in SHOT_MEASURES else extra_column_name(key)
        values[column] = value.alias(column)
        flags.append((f"unparseable:{key}", unparseable))
    flags.append(("plant_mismatch", plant_mismatch()))
    flags.append(("unresolved_mold", mold.is_null()))

    silver = rows.select(
        nw.col("plant_id"),
        nw.col("production_date"),
        nw.col("_shot_id").alias("shot_id"),
        nw.col("machine_id"),
        nw.col("ts"),
        mold.alias("mold_id"),
        source.alias("mold_source"),
        *values.values(),
        (~mold.is_null()).alias("is_resolved"),
        flags_expr(flags).alias("flags"),
        nw.col("deliveries"),
        text("record_plant_id").alias("record_plant_id"),
        nw.col("landing_date"),
        nw.col("source"),
        nw.col("file_hash"),
        nw.col("line_number"),
        nw.col("ingested_at"),
    )
    return SilverResult(
        silver=silver,
        quarantine=quarantine,
        extra_measures=extra,
        extra_columns={k: extra_column_name(k) for k in extra},
    )
