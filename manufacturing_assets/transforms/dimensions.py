"""Star-schema dimensions: SCD type 2 from daily reference snapshots, the as-of join
facts use to pick a dimension version, and the calendar (``dim_date``).

Pure Narwhals (runs on Polars and PySpark), except :func:`with_stable_hash`, the one
primitive Narwhals lacks (a hash that is identical on every engine and every run),
implemented once per engine like ``transforms/native.py``.

SCD2 semantics (contract sections 4 and 7, ``docs/contract-decisions.md``):
- the history is rebuilt from *all* snapshots sorted by ``snapshot_date`` on every run, so
  a snapshot that lands late (an older date arriving after newer ones) is placed where it
  belongs, and re-running with the same snapshots yields identical rows;
- a new version starts when an attribute changes (values compared typed, null-safe), or
  when a key reappears after being absent from one or more snapshots;
- ``valid_from`` is the first snapshot date of the version; ``valid_to`` (exclusive) is the
  next snapshot date after its last snapshot: the date of the change, or the date of the
  first snapshot the key is missing from (closed, never deleted); null while current;
- ``<entity>_sk`` is a stable hash of (natural key, ``valid_from``): rebuilding from the
  same snapshots, on either engine, gives the same keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import narwhals as nw

from manufacturing_assets.catalogue.marts import DIMENSION_TABLES
from manufacturing_assets.transforms.common import Frame, text

DECIMAL_RE = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
STRING, FLOAT, INT = "string", "float", "int"
SCD2_COLUMNS = ("valid_from", "valid_to", "is_current")
HASH_HEX_DIGITS = 15  # 60 bits of sha256: a positive Int64 on every engine


@dataclass(frozen=True)
class DimensionSpec:
    """One SCD2 dimension built from the reference entity ``entity``."""

    name: str  # "machine" -> table `dim_machine`, surrogate key `machine_sk`
    entity: str  # reference entity, e.g. "machines"
    key: str  # natural key column
    attributes: dict[str, str] = field(default_factory=dict)  # column -> STRING|FLOAT|INT

    @property
    def table(self) -> str:
        return f"dim_{self.name}"

    @property
    def sk(self) -> str:
        return f"{self.name}_sk"

    @property
    def columns(self) -> list[str]:
        return [self.sk, self.key, *self.attributes, *SCD2_COLUMNS]

    @property
    def snapshot_attributes(self) -> list[str]:
        """Attributes read from the entity's own snapshots (dim_mold adds `part_id`)."""
        return [a for a in self.attributes if not (self.name == "mold" and a == "part_id")]


def _spec(name: str) -> DimensionSpec:
    """The SCD2 spec of ``marts/dim_<name>``, read from the table catalogue: natural key,
    master-data entity and typed attributes are declared there once."""
    table = DIMENSION_TABLES[name]
    key = table.unique[0]
    kinds = {"Float64": FLOAT, "Int64": INT}
    attributes = {
        c.name: kinds.get(str(c.dtype), STRING)
        for c in table.columns
        if c.name not in (f"{name}_sk", key, *SCD2_COLUMNS)
    }
    return DimensionSpec(name, table.tags["entity"], key, attributes)


DIMENSIONS: dict[str, DimensionSpec] = {name: _spec(name) for name in DIMENSION_TABLES}
MOLD_PARTS = DimensionSpec("mold_part", "mold_parts", "mold_id", {"part_id": STRING})


# ---------------------------------------------------------------- typing snapshots


def number(name: str) -> nw.Expr:
    """Text -> Float64 when it is a decimal literal, else null (never an error)."""
    raw = text(name)
    return nw.when(raw.str.contains(DECIMAL_RE).fill_null(False)).then(raw.cast(nw.Float64()))


def integer(name: str) -> nw.Expr:
    """Text -> Int64 when it is an integral number (``4`` or ``4.0``), else null."""
    value = number(name)
    return nw.when(value == value.round(0)).then(value.cast(nw.Int64()))


def typed(name: str, kind: str) -> nw.Expr:
    if kind == FLOAT:
        return number(name).alias(name)
    if kind == INT:
        return integer(name).alias(name)
    return text(name).alias(name)


def typed_snapshots(reference: Frame, spec: DimensionSpec) -> Frame:
    """One row per (natural key, snapshot_date) with typed attributes.

    Rows without a natural key are dropped; if a snapshot lists a key twice the first
    row of the file wins (``line_number``). :func:`snapshot_issues` reports both.
    """
    kinds = {a: spec.attributes[a] for a in spec.snapshot_attributes}
    return (
        reference.filter(~text(spec.key).is_null())
        .unique(["snapshot_date", spec.key], keep="first", order_by=["line_number"])
        .select(
            nw.col("snapshot_date"),
            text(spec.key).alias(spec.key),
            *[typed(a, k) for a, k in kinds.items()],
        )
    )


def snapshot_issues(reference: Frame, spec: DimensionSpec) -> Frame:
    """Rows of the snapshots a dimension cannot use as sent: ``snapshot_date``, ``key``,
    ``issue`` (missing key, duplicate key, or a number that does not parse)."""
    ref = reference.with_columns(text(spec.key).alias("_key"))
    parts: list[Frame] = [
        ref.filter(nw.col("_key").is_null()).select(
            nw.col("snapshot_date"),
            nw.col("_key").alias("key"),
            nw.lit("missing_key").alias("issue"),
        ),
        ref.filter(~nw.col("_key").is_null())
        .group_by("snapshot_date", "_key")
        .agg(nw.len().alias("_n"))
        .filter(nw.col("_n") > 1)
        .select(
            nw.col("snapshot_date"),
            nw.col("_key").alias("key"),
            nw.lit("duplicate_key").alias("issue"),
        ),
    ]
    for a in spec.snapshot_attributes:
        kind = spec.attributes[a]
        if kind == STRING:
            continue
        parsed = number(a) if kind == FLOAT else integer(a)
        parts.append(
            ref.filter(~text(a).is_null() & parsed.is_null()).select(
                nw.col("snapshot_date"),
                nw.col("_key").alias("key"),
                nw.concat_str(nw.lit(f"unparseable:{a}="), text(a)).alias("issue"),
            )
        )
    return nw.concat(parts, how="vertical")


# ---------------------------------------------------------------- SCD2


def snapshot_calendar(snapshots: Frame) -> Frame:
    """Distinct snapshot dates with the previous and next snapshot date."""
    return (
        snapshots.select("snapshot_date")
        .unique()
        .with_columns(
            nw.col("snapshot_date").shift(1).over(order_by="snapshot_date").alias("_prev_snapshot"),
            nw.col("snapshot_date")
            .shift(-1)
            .over(order_by="snapshot_date")
            .alias("_next_snapshot"),
        )
    )


def scd2_versions(
    snapshots: Frame, key: str, attributes: Sequence[str], dates: Frame | None = None
) -> Frame:
    """Versions of each key from typed snapshots (one row per key and snapshot date).

    ``dates`` (a ``snapshot_date`` column) lists every snapshot date when some date may
    hold no row at all; by default the dates present in ``snapshots``.
    Returns ``key, *attributes, valid_from, valid_to, is_current`` (unsorted).
    """
    calendar = snapshot_calendar(snapshots if dates is None else dates)
    by_key: dict[str, Any] = {"order_by": "snapshot_date"}
    rows = snapshots.join(calendar, on="snapshot_date", how="left").with_columns(
        nw.col("snapshot_date").shift(1).over(key, **by_key).alias("_prev_seen"),
        *[nw.col(a).shift(1).over(key, **by_key).alias(f"_prev__{a}") for a in attributes],
    )
    # New version: first appearance, reappearance after a gap, or any attribute changed.
    starts = nw.col("_prev_seen").is_null() | (
        nw.col("_prev_seen") != nw.col("_prev_snapshot")
    ).fill_null(True)
    for a in attributes:
        cur, prev = nw.col(a), nw.col(f"_prev__{a}")
        same = (
            nw.when(cur.is_null() & prev.is_null())
            .then(nw.lit(True))
            .otherwise((cur == prev).fill_null(False))
        )
        starts = starts | ~same
    rows = rows.with_columns(starts.cast(nw.Int64()).alias("_starts"))
    rows = rows.with_columns(nw.col("_starts").cum_sum().over(key, **by_key).alias("_version"))
    # Keep each version's last row: it has the version's attributes, and the snapshot after
    # it (`_next_snapshot`) is where the version ends (change or disappearance).
    rows = rows.with_columns(
        nw.col("_version").shift(-1).over(key, **by_key).alias("_next_version"),
        nw.col("snapshot_date").min().over(key, "_version").alias("valid_from"),
    )
    last = nw.col("_next_version").is_null() | (nw.col("_next_version") != nw.col("_version"))
    return rows.filter(last).select(
        nw.col(key),
        *[nw.col(a) for a in attributes],
        nw.col("valid_from"),
        nw.col("_next_snapshot").alias("valid_to"),
        nw.col("_next_snapshot").is_null().alias("is_current"),
    )


def with_stable_hash(frame: Frame, column: str, alias: str) -> Frame:
    """Add ``alias``: the first 60 bits of sha256(``column`` as UTF-8 text), an Int64.

    The same value on Polars and PySpark, in every process and version (unlike Polars'
    ``hash`` or Spark's ``xxhash64``, which differ from each other).
    """
    native = nw.to_native(frame)
    if frame.implementation.is_pyspark():
        from pyspark.sql import functions as F

        hex_prefix = F.substring(F.sha2(F.col(column), 256), 1, HASH_HEX_DIGITS)
        out = native.withColumn(alias, F.conv(hex_prefix, 16, 10).cast("long"))
    else:
        import polars as pl

        def _hash(values: pl.Series) -> pl.Series:
            return pl.Series(
                [
                    None
                    if v is None
                    else int(hashlib.sha256(v.encode()).hexdigest()[:HASH_HEX_DIGITS], 16)
                    for v in values.to_list()
                ],
                dtype=pl.Int64,
            )

        out = native.with_columns(
            pl.col(column)
            .map_batches(_hash, return_dtype=pl.Int64, is_elementwise=True)
            .alias(alias)
        )
    return nw.from_native(out)


def surrogate_key(natural_key: str | None, valid_from: Any) -> int:
    """The surrogate key :func:`build_dimension` gives (natural key, valid_from); for tests."""
    value = f"{natural_key}|{valid_from.isoformat()}"
    return int(hashlib.sha256(value.encode()).hexdigest()[:HASH_HEX_DIGITS], 16)


def with_surrogate_key(versions: Frame, spec: DimensionSpec) -> Frame:
    keyed = versions.with_columns(
        nw.concat_str(
            [nw.col(spec.key), nw.col("valid_from").cast(nw.String())], separator="|"
        ).alias("_sk_text")
    )
    return with_stable_hash(keyed, "_sk_text", spec.sk).select(*spec.columns)


def build_dimension(reference: Frame, spec: DimensionSpec) -> Frame:
    """``reference/<entity>`` (every snapshot) -> the SCD2 dimension ``spec.columns``."""
    versions = scd2_versions(typed_snapshots(reference, spec), spec.key, spec.snapshot_attributes)
    return with_surrogate_key(versions, spec).sort(spec.key, "valid_from")


def build_dim_mold(molds: Frame, mold_parts: Frame) -> Frame:
    """``dim_mold``: molds' attributes plus the mold's ``part_id`` from ``mold_parts``.

    The two entities may be snapshotted on different days. On every date either has a
    snapshot, a mold listed by the molds data as of that date (its latest snapshot on or
    before it) takes the mold->part mapping as of the same date (the latest mold_parts
    snapshot on or before it; contract 7 for both). So the version valid on a date D has
    exactly the attributes and part a fact of D would read from the two snapshots; a change
    of part is a new version, even on a day without a molds snapshot.
    """
    spec = DIMENSIONS["mold"]
    own = scd2_versions(typed_snapshots(molds, spec), spec.key, spec.snapshot_attributes)
    mapping = scd2_versions(typed_snapshots(mold_parts, MOLD_PARTS), "mold_id", ["part_id"])
    dates = nw.concat(
        [molds.select("snapshot_date"), mold_parts.select("snapshot_date")], how="vertical"
    ).unique()
    # (mold, date, attributes) for each date of either entity where molds lists the mold
    snapshots = (
        own.with_columns(nw.col("valid_from").min().alias("_first"))
        .join(dates, how="cross")
        .filter(valid_on(nw.col("snapshot_date"), "valid_from", "valid_to", "_first"))
        .select("snapshot_date", spec.key, *spec.snapshot_attributes)
    )
    snapshots = as_of_join(snapshots, mapping, "mold_id", "snapshot_date", {"part_id": "part_id"})
    versions = scd2_versions(snapshots, spec.key, list(spec.attributes), dates=dates)
    return with_surrogate_key(versions, spec).sort(spec.key, "valid_from")


# ---------------------------------------------------------------- as-of join


def valid_on(day: nw.Expr, valid_from: str, valid_to: str, first: str) -> nw.Expr:
    """The version (``valid_from``, ``valid_to``) is the one valid on ``day``; ``first`` is
    the dimension's first snapshot date (a day before it takes that snapshot's version)."""
    start, end, first_ = nw.col(valid_from), nw.col(valid_to), nw.col(first)
    begun = (start <= day) | ((day < first_) & (start == first_))
    return begun & (end.is_null() | (day < end))


def version_timeline(
    dim: Frame, key: str, columns: Mapping[str, str], dim_key: str | None = None
) -> Frame:
    """The versions of ``dim`` plus empty segments, so that every date of every key falls
    in exactly one row: ``key``, ``_asof_lo`` (inclusive, null = since ever), ``_asof_hi``
    (exclusive, null = for ever) and ``columns`` (dimension column -> output name; null in
    the empty segments).

    A key's first version reaches back to "since ever" when it is in the dimension's first
    snapshot (a date before the first snapshot takes that snapshot's version); otherwise the
    time before it is empty, like the time after a version closed until the key reappears.
    """
    dim_key = dim_key or key
    order: dict[str, Any] = {"order_by": "valid_from"}
    versions = dim.select(
        nw.col(dim_key).alias(key),
        nw.col("valid_from"),
        nw.col("valid_to"),
        *[nw.col(c).alias(out) for c, out in columns.items()],
    ).with_columns(
        nw.col("valid_from").min().alias("_first"),
        nw.col("valid_from").min().over(key).alias("_key_first"),
        nw.col("valid_from").shift(-1).over(key, **order).alias("_next"),
    )
    values = list(columns.values())

    def segment(lo: nw.Expr, hi: nw.Expr, empty: bool) -> list[nw.Expr]:
        nothing = nw.lit(False)  # when(False).then(x): a null of x's type
        return [
            nw.col(key),
            lo.alias("_asof_lo"),
            hi.alias("_asof_hi"),
            *[(nw.when(nothing).then(nw.col(v)) if empty else nw.col(v)).alias(v) for v in values],
        ]

    never = nw.when(nw.lit(False)).then(nw.col("valid_from"))  # a null Date
    from_ = nw.col("valid_from")
    return nw.concat(
        [
            versions.select(
                *segment(
                    nw.when(from_ == nw.col("_first")).then(never).otherwise(from_),
                    nw.col("valid_to"),
                    empty=False,
                )
            ),
            # closed, until the key reappears (or for ever)
            versions.filter(
                ~nw.col("valid_to").is_null()
                & (nw.col("_next").is_null() | (nw.col("_next") > nw.col("valid_to")))
            ).select(*segment(nw.col("valid_to"), nw.col("_next"), empty=True)),
            # not yet listed: the key first appears after the first snapshot
            versions.filter((from_ == nw.col("_key_first")) & (from_ != nw.col("_first"))).select(
                *segment(never, from_, empty=True)
            ),
        ],
        how="vertical",
    )


def as_of_join(
    frame: Frame,
    dim: Frame,
    key: str,
    date_column: str,
    columns: Mapping[str, str],
    dim_key: str | None = None,
) -> Frame:
    """Add ``columns`` (dimension column -> output name) of the version of ``dim`` valid
    on each row's ``date_column`` (contract 7).

    The version valid on date D is the one with ``valid_from <= D < valid_to`` (``valid_to``
    null: open): the version seen in the latest snapshot on or before D. A date before the
    dimension's first snapshot takes the version in that first snapshot. Rows whose key is
    null or has no valid version get nulls: the key was closed (missing from the snapshot
    valid on D) or appears only in later snapshots (exactly what the snapshot as of D says,
    as gold's ``reference_as_of`` reads it).

    An equi-join on the key, then a range filter: no ``join_asof``, so it runs on PySpark.
    The dimension side is a :func:`version_timeline` (every date of a key in exactly one
    segment), so the filter keeps exactly one row per input row and ``frame`` is read once:
    chained as-of joins stay one linear plan on Spark (no self-join per lookup).
    ``date_column`` must not be null (facts' ``production_date`` never is).
    """
    timeline = version_timeline(dim, key, columns, dim_key)
    d = nw.col(date_column)
    lo, hi = nw.col("_asof_lo"), nw.col("_asof_hi")
    inside = (lo.is_null() | (lo <= d)) & (hi.is_null() | (d < hi))
    return frame.join(timeline, on=key, how="left").filter(inside).drop("_asof_lo", "_asof_hi")


# ---------------------------------------------------------------- calendar


def date_key(column: str) -> nw.Expr:
    """``yyyymmdd`` as Int64 (the ``date_sk`` of ``dim_date``)."""
    d = nw.col(column)
    return (
        d.dt.year().cast(nw.Int64()) * 10000
        + d.dt.month().cast(nw.Int64()) * 100
        + d.dt.day().cast(nw.Int64())
    )


def dim_date(dates: Frame, column: str = "date") -> Frame:
    """Calendar attributes of the dates in ``column`` (one row per distinct date).

    ISO week and ISO year come from the week's Thursday (ISO 8601: week 1 holds the
    year's first Thursday); ``weekday`` is ISO (1 = Monday .. 7 = Sunday).
    """
    d = nw.col("date")
    raw_weekday = d.dt.weekday().cast(nw.Int64())
    # Narwhals on PySpark (2.29) returns 0 for Sunday; ISO (and Polars) say 7.
    weekday = nw.when(raw_weekday == 0).then(nw.lit(7, nw.Int64())).otherwise(raw_weekday)
    thursday: nw.Expr = d
    for wd in range(1, 8):
        offset = 4 - wd
        shifted = d.dt.offset_by(f"{offset}d") if offset else d
        thursday = nw.when(weekday == wd).then(shifted).otherwise(thursday)
    month = d.dt.month().cast(nw.Int64())
    return (
        dates.select(nw.col(column).alias("date"))
        .filter(~nw.col("date").is_null())
        .unique()
        .with_columns(thursday.alias("_thursday"))
        .select(
            date_key("date").alias("date_sk"),
            nw.col("date"),
            d.dt.year().cast(nw.Int64()).alias("year"),
            ((month - 1) // 3 + 1).cast(nw.Int64()).alias("quarter"),
            month.alias("month"),
            d.dt.day().cast(nw.Int64()).alias("day"),
            nw.col("_thursday").dt.year().cast(nw.Int64()).alias("iso_year"),
            ((nw.col("_thursday").dt.ordinal_day().cast(nw.Int64()) - 1) // 7 + 1)
            .cast(nw.Int64())
            .alias("iso_week"),
            weekday.alias("weekday"),
            (weekday >= 6).alias("is_weekend"),
        )
        .sort("date")
    )
