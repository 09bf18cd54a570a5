"""The few primitives Narwhals lacks, implemented once per engine (Polars and PySpark).

ISO-8601 parsing with per-row offsets and the contract's DST rules (section 7):
- a timestamp with an offset (``+01:00``, ``+0100``, ``Z``) is that instant;
- one without an offset is plant-local: in a DST fold it takes the earlier offset, in a
  DST gap it is shifted forward by the gap (the same rule as Python's ``fold=0`` and
  Java's ``LocalDateTime.atZone``);
- anything else (including a date without a time) is unparseable -> null;
- so is a leap second (``23:59:60``): a stored UTC timestamp has no 61st second, and reading
  it as the next minute (what Polars alone would do) could move it to the next day. Spark
  and Python's ``datetime`` refuse it too (docs/contract-decisions.md).
"""

from __future__ import annotations

from typing import Any

import narwhals as nw

_ISO_DATE_SPACE = r"^(\d{4}-\d{2}-\d{2}) "
LEAP_SECOND_RE = r"^\s*\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:60"


def is_spark(frame: nw.LazyFrame[Any] | nw.DataFrame[Any]) -> bool:
    return frame.implementation.is_pyspark()


def parse_timestamp(
    frame: nw.LazyFrame[Any], column: str, tz: str, alias: str
) -> nw.LazyFrame[Any]:
    """Add ``alias``: ``column`` (ISO-8601 text) parsed to a UTC ``Datetime('us', 'UTC')``."""
    native = nw.to_native(frame)
    if is_spark(frame):
        out = _parse_spark(native, column, tz, alias)
    else:
        out = _parse_polars(native, column, tz, alias)
    return nw.from_native(out)


def _parse_polars(native: Any, column: str, tz: str, alias: str) -> Any:
    import polars as pl

    text = (
        pl.col(column)
        .cast(pl.String)
        .str.strip_chars()
        .str.replace(_ISO_DATE_SPACE, "${1}T")
        .str.replace(r"Z$", "+00:00")
    )
    aware = text.str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_zone="UTC", time_unit="us"
    )
    naive = text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us")
    local = naive.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
    # In a gap: interpret with the offset in force just before the gap (shift forward).
    shifted = (naive - pl.duration(hours=3)).dt.replace_time_zone(
        tz, ambiguous="earliest", non_existent="null"
    ) + pl.duration(hours=3)
    local_utc = (
        pl.when(naive.is_null())
        .then(None)
        .otherwise(pl.coalesce(local, shifted))
        .dt.convert_time_zone("UTC")
    )
    has_offset = text.str.contains(r"([+-]\d{2}:?\d{2})$")
    leap = text.str.contains(LEAP_SECOND_RE)
    parsed = pl.when(leap).then(None).when(has_offset).then(aware).otherwise(local_utc)
    return native.with_columns(parsed.alias(alias))


def _parse_spark(native: Any, column: str, tz: str, alias: str) -> Any:
    from pyspark.sql import functions as F

    text = F.trim(F.col(column).cast("string"))
    text = F.regexp_replace(text, _ISO_DATE_SPACE, "$1T")
    text = F.regexp_replace(text, "Z$", "+00:00")
    frac = "[.SSSSSS]"
    aware = F.coalesce(
        F.try_to_timestamp(text, F.lit(f"yyyy-MM-dd'T'HH:mm:ss{frac}XXX")),
        F.try_to_timestamp(text, F.lit(f"yyyy-MM-dd'T'HH:mm:ss{frac}XX")),
    )
    naive = F.try_to_timestamp(text, F.lit(f"yyyy-MM-dd'T'HH:mm:ss{frac}"))
    local_utc = F.to_utc_timestamp(naive, tz)
    has_offset = text.rlike(r"([+-]\d{2}:?\d{2})$")
    return native.withColumn(alias, F.when(has_offset, aware).otherwise(local_utc))


def local_date(frame: nw.LazyFrame[Any], column: str, tz: str, alias: str) -> nw.LazyFrame[Any]:
    """Add ``alias``: the calendar date of the UTC instant ``column`` in time zone ``tz``
    (Narwhals cannot convert time zones on Spark, whose zone lives in the session)."""
    native = nw.to_native(frame)
    if is_spark(frame):
        from pyspark.sql import functions as F

        out = native.withColumn(alias, F.to_date(F.from_utc_timestamp(F.col(column), tz)))
    else:
        import polars as pl

        out = native.with_columns(pl.col(column).dt.convert_time_zone(tz).dt.date().alias(alias))
    return nw.from_native(out)
