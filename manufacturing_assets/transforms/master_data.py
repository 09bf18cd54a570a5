"""Master data as of a date, typed (contract sections 4 and 7, "Dimension version for a fact").

``reference/<entity>`` tables hold every daily snapshot with ``snapshot_date`` and the
entity's columns as text. A fact of production date D uses the latest snapshot with
``snapshot_date <= D``, or the earliest snapshot when D is before the first one.

Pure Narwhals (Polars and PySpark); also the helpers that turn text into numbers the
same way on both engines (regular expressions decide, casts only see clean text, so a
strict Polars cast can never raise and Spark never silently returns null where Polars
would not).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import narwhals as nw

from manufacturing_assets.transforms.common import Frame, text
from manufacturing_assets.transforms.native import parse_timestamp

# A number only if it is a decimal literal (same rule as sensor metrics, contract 7).
DECIMAL_RE = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
# An integer: digits with an optional sign and an optional all-zero fraction ("12", "12.0";
# parquet float columns reach bronze as "12.0"). At most 18 digits, so it fits Int64.
INTEGER_RE = r"^[+-]?[0-9]{1,18}(\.0*)?$"

INTEGER_COLUMNS = ("cavities",)
FLOAT_COLUMNS = ("ideal_cycle_time_s", "unit_cost", "unit_price", "tonnage")
TIMESTAMP_COLUMNS = ("valid_from", "valid_to")


def parse_float(raw: nw.Expr) -> tuple[nw.Expr, nw.Expr]:
    """``(value, unparseable)`` of a text expression: Float64 when it is a decimal literal,
    else null; ``unparseable`` is true for non-empty text that is not a number."""
    is_num = raw.str.contains(DECIMAL_RE).fill_null(False)
    return nw.when(is_num).then(raw.cast(nw.Float64())), ~raw.is_null() & ~is_num


def parse_int(raw: nw.Expr) -> tuple[nw.Expr, nw.Expr]:
    """``(value, unparseable)``: Int64 when the text is an integer (``INTEGER_RE``)."""
    is_int = raw.str.contains(INTEGER_RE).fill_null(False)
    digits = raw.str.replace_all(r"^\+", "").str.replace_all(r"\.0*$", "")
    return nw.when(is_int).then(digits.cast(nw.Int64())), ~raw.is_null() & ~is_int


def _lazy(frame: Any) -> Frame:
    if isinstance(frame, nw.LazyFrame):
        return frame
    if isinstance(frame, nw.DataFrame):
        return frame.lazy()
    native = nw.from_native(frame)
    return native.lazy() if isinstance(native, nw.DataFrame) else native


def typed_reference(frame: Any, tz: str = "UTC") -> Frame:
    """Cast the known numeric and timestamp columns of a reference frame (text otherwise).

    ``cavities`` -> Int64; ``ideal_cycle_time_s``, ``unit_cost``, ``unit_price``,
    ``tonnage`` -> Float64 (text that is not a number -> null); ``valid_from`` /
    ``valid_to`` -> ``Datetime('us', 'UTC')`` with the event-time parser (a timestamp
    without offset is local time of ``tz``; empty ``valid_to`` -> null = still open).
    Other columns have blanks nulled and whitespace stripped.
    """
    out = _lazy(frame)
    names = out.collect_schema().names()
    casts: list[nw.Expr] = []
    for c in names:
        if c in INTEGER_COLUMNS:
            casts.append(parse_int(text(c))[0].alias(c))
        elif c in FLOAT_COLUMNS:
            casts.append(parse_float(text(c))[0].alias(c))
    if casts:
        out = out.with_columns(*casts)
    for c in TIMESTAMP_COLUMNS:
        if c in names:
            out = parse_timestamp(out.with_columns(text(c).alias(c)), c, tz, f"_{c}_utc")
            out = out.drop(c).rename({f"_{c}_utc": c})
    return out.select(*names)


def reference_as_of(reference_frame: Any, day: date, tz: str = "UTC") -> Frame:
    """The snapshot of ``reference_frame`` valid for production date ``day``, typed.

    Latest ``snapshot_date <= day``; the earliest snapshot if every snapshot is later
    (contract 7). Accepts a Narwhals or native (Polars, PySpark) frame with the
    ``snapshot_date`` column of a ``reference/<entity>`` table; returns a Narwhals
    LazyFrame with the same columns, cast by :func:`typed_reference` (``tz`` is the time
    zone of timestamps without offset, i.e. the plant's for ``mold_assignments``).
    """
    frame = _lazy(reference_frame)
    snap = nw.col("snapshot_date")
    chosen = nw.coalesce(nw.when(snap <= nw.lit(day)).then(snap).max(), snap.min())
    frame = frame.with_columns(chosen.alias("_as_of"))
    frame = frame.filter(snap == nw.col("_as_of")).drop("_as_of")
    return typed_reference(frame, tz)


def reference_for_dates(reference_frame: Any, dates: Sequence[date], tz: str = "UTC") -> Frame:
    """:func:`reference_as_of` for every date, stacked, with the date as ``production_date``
    (join facts on ``production_date`` + the entity key to get their version)."""
    parts = [
        reference_as_of(reference_frame, d, tz).with_columns(
            nw.lit(d, nw.Date()).alias("production_date")
        )
        for d in sorted(set(dates))
    ]
    if not parts:
        return (
            typed_reference(reference_frame, tz)
            .with_columns(nw.col("snapshot_date").alias("production_date"))
            .filter(nw.lit(False))
        )
    return nw.concat(parts, how="vertical")
