"""Building blocks shared by every event stream's silver transformation (Narwhals)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import narwhals as nw

from manufacturing_assets.catalogue.quarantine import QUARANTINE_COLUMNS as QUARANTINE_TABLE_COLUMNS
from manufacturing_assets.contract import QUARANTINE_REASONS
from manufacturing_assets.transforms.native import LEAP_SECOND_RE, local_date, parse_timestamp

Frame = nw.LazyFrame[Any]

# the quarantine tables' columns, declared in the catalogue (catalogue/quarantine.py)
QUARANTINE_COLUMNS = tuple(c.name for c in QUARANTINE_TABLE_COLUMNS)
LINEAGE_COLUMNS = ("landing_date", "source", "file_hash", "line_number", "ingested_at")


def text(name: str) -> nw.Expr:
    """A text column with blanks turned into nulls ("missing" in contract section 7)."""
    stripped = nw.col(name).cast(nw.String()).str.strip_chars()
    return nw.when(stripped == "").then(nw.lit(None, nw.String())).otherwise(stripped)


def missing(name: str) -> nw.Expr:
    return text(name).is_null()


def ensure_columns(frame: Frame, columns: Sequence[str]) -> Frame:
    """Add absent text columns as nulls (a batch may lack an optional field entirely)."""
    have = set(frame.collect_schema().names())
    add = [nw.lit(None, nw.String()).alias(c) for c in columns if c not in have]
    return frame.with_columns(*add) if add else frame


def with_event_time(frame: Frame, ts_column: str, tz: str) -> Frame:
    """Parse ``ts_column`` into ``ts_utc`` and derive the plant-local ``event_date``."""
    frame = parse_timestamp(frame, ts_column, tz, "ts_utc")
    return local_date(frame, "ts_utc", tz, "event_date")


def reason_expr(checks: Sequence[tuple[str, nw.Expr, nw.Expr]]) -> tuple[nw.Expr, nw.Expr]:
    """``(reason, detail)`` expressions: the first check that applies, in the contract's
    order (``contract.QUARANTINE_REASONS``, section 7), whatever order they are given in.

    Each check is ``(reason, condition, detail text expression)``.
    """
    unknown = [name for name, _, _ in checks if name not in QUARANTINE_REASONS]
    if unknown:
        raise ValueError(f"quarantine reasons not in contract.QUARANTINE_REASONS: {unknown}")
    ordered = sorted(checks, key=lambda check: QUARANTINE_REASONS.index(check[0]))
    reason: nw.Expr = nw.lit(None, nw.String())
    detail: nw.Expr = nw.lit(None, nw.String())
    for name, cond, why in reversed(ordered):
        reason = nw.when(cond).then(nw.lit(name)).otherwise(reason)
        detail = nw.when(cond).then(why).otherwise(detail)
    return reason, detail


def standard_checks(
    id_column: str | None, id_reason: str | None, ts_column: str
) -> list[tuple[str, nw.Expr, nw.Expr]]:
    """The checks every stream shares, in contract order up to ``out_of_window``."""
    checks: list[tuple[str, nw.Expr, nw.Expr]] = [
        (
            "malformed_record",
            ~nw.col("parse_error").is_null(),
            nw.col("parse_error").cast(nw.String()),
        ),
        ("missing_machine_id", missing("machine_id"), nw.lit("field 'machine_id' is missing")),
    ]
    if id_column and id_reason:
        checks.append((id_reason, missing(id_column), nw.lit(f"field '{id_column}' is missing")))
    checks += [
        ("missing_ts", missing(ts_column), nw.lit(f"field '{ts_column}' is missing")),
        (
            "unparseable_ts",
            nw.col("ts_utc").is_null(),
            nw.when(text(ts_column).str.contains(LEAP_SECOND_RE))
            .then(
                nw.concat_str(
                    nw.lit(
                        f"field '{ts_column}' is a leap second, which UTC timestamps cannot hold: "
                    ),
                    text(ts_column),
                )
            )
            .otherwise(
                nw.concat_str(
                    nw.lit(f"field '{ts_column}' is not an ISO-8601 timestamp: "),
                    text(ts_column),
                )
            ),
        ),
        (
            "out_of_window",
            (nw.col("event_date") < nw.col("landing_date").dt.offset_by("-1d"))
            | (nw.col("event_date") > nw.col("landing_date").dt.offset_by("1d")),
            nw.concat_str(
                nw.lit("production date "),
                nw.col("event_date").cast(nw.String()),
                nw.lit(" is more than one day from folder date "),
                nw.col("landing_date").cast(nw.String()),
            ),
        ),
    ]
    return checks


def classify(frame: Frame, checks: Sequence[tuple[str, nw.Expr, nw.Expr]]) -> Frame:
    """Add ``reason``/``detail`` and the partition the record belongs to
    (``production_date``: its event date when the ts parses and is inside the window,
    otherwise its landing folder's date; contract section 7)."""
    reason, detail = reason_expr(checks)
    frame = frame.with_columns(reason.alias("reason"), detail.alias("detail"))
    in_window = (nw.col("event_date") >= nw.col("landing_date").dt.offset_by("-1d")) & (
        nw.col("event_date") <= nw.col("landing_date").dt.offset_by("1d")
    )
    return frame.with_columns(
        nw.when(in_window.fill_null(False))
        .then(nw.col("event_date"))
        .otherwise(nw.col("landing_date"))
        .alias("production_date")
    )


def for_dates(frame: Frame, dates: Sequence[date]) -> Frame:
    return frame.filter(nw.col("production_date").is_in(list(dates)))


def quarantine_rows(frame: Frame) -> Frame:
    return frame.filter(~nw.col("reason").is_null()).select(*QUARANTINE_COLUMNS)


def accepted_rows(frame: Frame) -> Frame:
    return frame.filter(nw.col("reason").is_null())


def flags_expr(flags: Sequence[tuple[str, nw.Expr]]) -> nw.Expr:
    """Comma-separated flag names whose condition holds ('' when none)."""
    if not flags:
        return nw.lit("")
    parts = [nw.when(cond.fill_null(False)).then(nw.lit(name)) for name, cond in flags]
    return nw.concat_str(parts, separator=",", ignore_nulls=True).fill_null("")


def plant_mismatch() -> nw.Expr:
    rec = text("record_plant_id")
    return ~rec.is_null() & (rec != nw.col("plant_id"))


def keep_first_delivery(rows: Frame, key: Sequence[str]) -> Frame:
    """Remove re-deliveries: per ``key`` keep the copy first in (source, line_number) order
    and count the copies in ``deliveries`` (contract 7).

    Hash-window minima instead of a sort of the whole frame: the same result as
    ``unique(keep="first", order_by=...)`` with far less memory, on both engines.
    """
    rows = rows.with_columns(
        nw.col("line_number").count().over(*key).cast(nw.Int64()).alias("deliveries"),
        nw.col("source").min().over(*key).alias("_first_source"),
    )
    rows = rows.filter(nw.col("source") == nw.col("_first_source"))
    rows = rows.with_columns(nw.col("line_number").min().over(*key).alias("_first_line"))
    return rows.filter(nw.col("line_number") == nw.col("_first_line")).drop(
        "_first_source", "_first_line"
    )
