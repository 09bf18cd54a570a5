"""The schema of a load against the warehouse table: create it, add columns, or refuse.

A load carries the lake's columns (:mod:`.staging` has prepared them: UTC timestamps without
a zone, an open table's extra columns packed into one map). Against the table as it is:

- no table: it is created from the catalogue (``catalogue/derive.create_table_sql``); a lake
  column the catalogue does not declare is then added like a new column;
- a column the table lacks: ``ALTER TABLE ... ADD COLUMN`` (nullable: the rows loaded before
  have no value for it);
- a column with another type: the load is refused before anything is written, naming the
  table, the column, the warehouse's type and the load's type. The one accepted difference
  is integers into a floating-point column (a lossless widening the warehouse does itself);
- a NOT NULL column of the table the load does not carry: refused the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from manufacturing_assets.catalogue.derive import sql_identifier, sql_type, warehouse_columns
from manufacturing_assets.catalogue.model import Table


class WarehouseTypeConflict(ValueError):
    """A column of the load has another type than the warehouse table's: nothing written."""


class WarehouseLoadError(RuntimeError):
    """A load the warehouse would reject (nulls in a NOT NULL column ...): nothing written."""


@dataclass(frozen=True)
class WarehouseColumn:
    """A column of a warehouse table as the warehouse reports it."""

    name: str
    type_text: str
    nullable: bool
    family: str


@dataclass
class SchemaPlan:
    """What a load does to the table's schema before loading rows."""

    qualified_name: str
    create: bool
    columns: dict[str, WarehouseColumn]
    """The table's columns once created and altered (name as the warehouse spells it)."""
    add: list[tuple[str, pl.DataType]] = field(default_factory=list)
    """Columns of the load to add (warehouse name, Polars type), in the load's order."""
    untyped: list[str] = field(default_factory=list)
    """Columns of the load without a type (no value in any row) the table lacks: not loaded."""

    @property
    def description(self) -> str:
        parts = []
        if self.create:
            parts.append(f"created {self.qualified_name}")
        if self.add:
            parts.append("added column(s) " + ", ".join(name for name, _ in self.add))
        return "; ".join(parts)


# ---------------------------------------------------------------- type families


def frame_family(dtype: pl.DataType) -> str:
    """The family of a load column's type: string, int, float, bool, date, timestamp,
    variant (maps and lists), null (a column without any value: fits every family)."""
    if dtype == pl.Null:
        return "null"
    if dtype.is_integer():
        return "int"
    if dtype.is_float():
        return "float"
    if isinstance(dtype, pl.Datetime):
        return "timestamp"
    if isinstance(dtype, pl.Struct | pl.List | pl.Array):
        return "variant"
    return {pl.String: "string", pl.Boolean: "bool", pl.Date: "date"}.get(type(dtype), str(dtype))


_WAREHOUSE_FAMILIES = [
    (r"^(VARCHAR|TEXT|STRING|CHAR|CHARACTER|NVARCHAR|NCHAR|BPCHAR)\b", "string"),
    (r"^(BIGINT|INTEGER|INT|SMALLINT|TINYINT|HUGEINT|UBIGINT|UINTEGER|USMALLINT|UTINYINT"
     r"|UHUGEINT|BYTEINT|INT\d+)\b", "int"),
    (r"^(DOUBLE|FLOAT|REAL|FLOAT4|FLOAT8|DOUBLE PRECISION)\b", "float"),
    (r"^(BOOLEAN|BOOL)\b", "bool"),
    (r"^DATE$", "date"),
    (r"^(TIMESTAMP_NTZ|TIMESTAMP|DATETIME|TIMESTAMP_NS|TIMESTAMP_MS|TIMESTAMP_S)(\(\d+\))?$",
     "timestamp"),
    (r"^(TIMESTAMP_TZ|TIMESTAMP_LTZ|TIMESTAMPTZ|TIMESTAMP WITH TIME ZONE)", "timestamp with zone"),
    (r"^(VARIANT|OBJECT|ARRAY|JSON|STRUCT|MAP)\b", "variant"),
]  # fmt: skip


def warehouse_family(type_text: str, scale: int | None = None) -> str:
    """The family of a type as the warehouse reports it (``TEXT``, ``NUMBER`` with its
    scale, ``TIMESTAMP_NTZ``, ``DOUBLE``, ``JSON`` ...). ``NUMBER``/``DECIMAL`` are
    integers with scale 0, decimals otherwise; an unknown type is its own family."""
    text = type_text.strip().upper()
    decimal = re.match(r"^(NUMBER|DECIMAL|NUMERIC)\s*(\((\d+)\s*(,\s*(\d+))?\))?", text)
    if decimal:
        found = decimal.group(5)
        scale = int(found) if found is not None else (scale or 0)
        return "int" if scale == 0 else "decimal"
    for pattern, family in _WAREHOUSE_FAMILIES:
        if re.match(pattern, text):
            return family
    return text.lower()


def compatible(load: str, warehouse: str) -> bool:
    """A load column of family ``load`` can go into a warehouse column of ``warehouse``."""
    return load in (warehouse, "null") or (load == "int" and warehouse == "float")


# ---------------------------------------------------------------- plan


def catalogue_columns(table: Table, dialect: str) -> dict[str, WarehouseColumn]:
    """The columns ``create_table_sql`` creates."""
    return {
        sql_identifier(c.name, dialect): WarehouseColumn(
            sql_identifier(c.name, dialect),
            sql_type(c.dtype, dialect),
            c.nullable,
            frame_family(c.dtype),
        )
        for c in warehouse_columns(table)
    }


def plan_schema(
    table: Table,
    dialect: str,
    qualified_name: str,
    existing: Mapping[str, WarehouseColumn] | None,
    load: Mapping[str, pl.DataType],
) -> SchemaPlan:
    """The plan of a load of columns ``load`` (warehouse names -> Polars types) into the
    table with ``existing`` columns (None: no table). Raises :class:`WarehouseTypeConflict`."""
    create = existing is None
    columns = dict(catalogue_columns(table, dialect) if existing is None else existing)
    add: list[tuple[str, pl.DataType]] = []
    untyped: list[str] = []
    conflicts = []
    for name, dtype in load.items():
        family = frame_family(dtype)
        column = columns.get(name)
        if column is None:
            if family == "null":  # no value anywhere, no type to add it with
                untyped.append(name)
                continue
            add.append((name, dtype))
            columns[name] = WarehouseColumn(name, sql_type(dtype, dialect), True, family)
        elif not compatible(family, column.family):
            conflicts.append(
                f"column {name} is {column.type_text} in the warehouse but "
                f"{_load_type(dtype, dialect)} in this load"
            )
    missing = [c.name for c in columns.values() if not c.nullable and c.name not in load]
    conflicts += [f"column {name} is NOT NULL in the warehouse but missing" for name in missing]
    if conflicts:
        raise WarehouseTypeConflict(
            f"cannot load into {qualified_name} ({table.path}): " + "; ".join(conflicts) + ". "
            "Nothing was written. Change the table (ALTER TABLE ... or drop it so the next load "
            "creates it from the catalogue) or the data so the types agree."
        )
    return SchemaPlan(qualified_name, create, columns, add, untyped)


def _load_type(dtype: pl.DataType, dialect: str) -> str:
    try:
        return f"{sql_type(dtype, dialect)} (Polars {dtype})"
    except ValueError:
        return f"Polars {dtype}"


def check_not_null(plan: SchemaPlan, null_counts: Mapping[str, int]) -> None:
    """Refuse a load with nulls in a NOT NULL column (:class:`WarehouseLoadError`)."""
    bad = {
        name: n
        for name, n in null_counts.items()
        if n and name in plan.columns and not plan.columns[name].nullable
    }
    if bad:
        detail = ", ".join(f"{name} ({n} null row(s))" for name, n in bad.items())
        raise WarehouseLoadError(
            f"cannot load into {plan.qualified_name}: NOT NULL column(s) without a value: "
            f"{detail}. Nothing was written."
        )
