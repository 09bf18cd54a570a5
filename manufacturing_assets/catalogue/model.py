"""The shape of a catalogue entry: a table and its columns, declared once.

Everything else about a table's schema is derived from its :class:`Table` (see
``catalogue/derive.py``): the pandera contract, the ``dagster/column_schema`` metadata the
UI shows, the typed empty frame the IO manager loads for a partition that does not exist
yet, and the warehouse DDL. Types are Polars data types (the embedded engine's); the
derivations map them to pandera, Arrow/Delta and SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum

import polars as pl

STRING = pl.String()
INT = pl.Int64()
FLOAT = pl.Float64()
BOOL = pl.Boolean()
DATE = pl.Date()
UTC_TS = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class Column:
    """One column: name, type, whether it may be null, what it means and its valid range."""

    name: str
    dtype: pl.DataType
    description: str
    nullable: bool = True
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    isin: tuple[str, ...] | None = None
    unique: bool = False

    def but(self, **changes: object) -> Column:
        """The same column with some attributes changed (e.g. another description)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def range_text(self) -> str:
        """The declared range as text (``[0, 100]``, ``> 0``, ``one of a, b``), or ''."""
        parts = []
        low = (
            f"[{self.ge:g}"
            if self.ge is not None
            else f"({self.gt:g}"
            if self.gt is not None
            else ""
        )
        high = (
            f"{self.le:g}]"
            if self.le is not None
            else f"{self.lt:g})"
            if self.lt is not None
            else ""
        )
        if low and high:
            parts.append(f"{low}, {high}")
        elif low:
            parts.append(f">= {self.ge:g}" if self.ge is not None else f"> {self.gt:g}")
        elif high:
            parts.append(f"<= {self.le:g}" if self.le is not None else f"< {self.lt:g}")
        if self.isin:
            parts.append("one of " + ", ".join(self.isin))
        return "; ".join(parts)


class Partitioning(Enum):
    """How a table is partitioned (the Dagster partitions and the Delta partition columns)."""

    PLANT_PRODUCTION_DATE = ("plant_id", "production_date")
    PLANT_LANDING_DATE = ("plant_id", "landing_date")
    NONE = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return self.value

    @property
    def expr(self) -> dict[str, str] | None:
        """Dagster dimension -> column (the IO manager's ``partition_expr``)."""
        if not self.value:
            return None
        plant, day = self.value
        return {"plant": plant, "date": day}


@dataclass(frozen=True)
class Table:
    """One table of the lake: asset key ``[layer, name]``, Delta table ``<lake>/<layer>/<name>``."""

    layer: str
    name: str
    description: str
    columns: tuple[Column, ...]
    partitioning: Partitioning = Partitioning.PLANT_PRODUCTION_DATE
    unique: tuple[str, ...] = ()
    open_columns: str | None = None
    """Why extra columns beyond the declared ones may appear (e.g. unknown metrics promoted
    to columns); None: the table has exactly the declared columns."""
    domain: str = "production"
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise ValueError(f"{self.path}: columns declared twice: {sorted(duplicates)}")
        missing = [c for c in (*self.partitioning.columns, *self.unique) if c not in names]
        if missing:
            raise ValueError(f"{self.path}: partition/unique columns not declared: {missing}")

    @property
    def path(self) -> str:
        """``layer/name``, as the asset key reads in the UI."""
        return f"{self.layer}/{self.name}"

    @property
    def key_path(self) -> list[str]:
        return [self.layer, self.name]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def schema(self) -> dict[str, pl.DataType]:
        """Column name -> Polars type, in declaration order."""
        return {c.name: c.dtype for c in self.columns}

    @property
    def is_partitioned(self) -> bool:
        return bool(self.partitioning.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.path} has no column {name!r}")

    def empty(self) -> pl.DataFrame:
        """A typed frame with no rows: what a table that does not exist yet loads as."""
        return pl.DataFrame(schema=self.schema)

    def conform(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` with at least the declared columns, typed as declared.

        An empty input with no columns (a table that does not exist yet) becomes
        :meth:`empty`; extra columns are kept only when the table is open.
        """
        if not frame.width:
            return self.empty()
        missing = {n: t for n, t in self.schema.items() if n not in frame.columns}
        if missing:
            frame = frame.with_columns(pl.lit(None, t).alias(n) for n, t in missing.items())
        declared = frame.select(pl.col(n).cast(t) for n, t in self.schema.items())
        if self.open_columns is None:
            return declared
        extra = [c for c in frame.columns if c not in self.schema]
        return pl.concat([declared, frame.select(extra)], how="horizontal") if extra else declared


def columns(*groups: Column | Iterable[Column]) -> tuple[Column, ...]:
    """Flatten columns and groups of columns (``columns(a, LINEAGE, b)``)."""
    out: list[Column] = []
    for g in groups:
        if isinstance(g, Column):
            out.append(g)
        else:
            out.extend(g)
    return tuple(out)


def renamed(group: Sequence[Column], **descriptions: str) -> tuple[Column, ...]:
    """The group with some descriptions replaced (by column name)."""
    return tuple(
        c.but(description=descriptions[c.name]) if c.name in descriptions else c for c in group
    )
