"""What a catalogue :class:`Table` becomes: the pandera contract, the Dagster column schema
shown in the UI, and the warehouse DDL and types (DuckDB, Snowflake; the typed empty frame is
``Table.empty()``).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandera.polars as pa
import polars as pl
from dagster import TableColumn, TableColumnConstraints, TableSchema

from manufacturing_assets.catalogue.model import Column, Table


def _pandera_checks(column: Column) -> list[pa.Check]:
    checks = []
    for name, bound in (("ge", column.ge), ("gt", column.gt), ("le", column.le), ("lt", column.lt)):
        if bound is not None:
            checks.append(getattr(pa.Check, name)(bound))
    if column.isin:
        checks.append(pa.Check.isin(list(column.isin)))
    return checks


def pandera_schema(table: Table, rules: Sequence[pa.Check] = ()) -> pa.DataFrameSchema:
    """The pandera (polars) contract of ``table``: every declared column with its type,
    nullability, uniqueness and range, the table's unique key, strict unless the table is
    open, plus the table-level ``rules`` (``checks/rules.py``)."""
    return pa.DataFrameSchema(
        {
            c.name: pa.Column(
                c.dtype,
                checks=_pandera_checks(c),
                nullable=c.nullable,
                unique=c.unique,
                description=c.description,
                title=c.name,
            )
            for c in table.columns
        },
        checks=list(rules),
        strict=table.open_columns is None,
        unique=list(table.unique) or None,
        name=contract_name(table),
        description=table.description,
    )


def contract_name(table: Table) -> str:
    """``silver/sensor_readings`` -> ``SilverSensorReadings``; marts drop their layer
    (``marts/dim_plant`` -> ``DimPlant``). Names the pandera check in the UI."""
    words = ([] if table.layer == "marts" else [table.layer]) + table.name.split("_")
    return "".join(w.capitalize() for w in words)


def _type_text(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return (
            f"timestamp[{dtype.time_unit}, {dtype.time_zone}]" if dtype.time_zone else "timestamp"
        )
    return {
        pl.String: "string",
        pl.Int64: "int64",
        pl.Float64: "float64",
        pl.Boolean: "bool",
        pl.Date: "date",
    }.get(type(dtype), str(dtype))


def column_schema(table: Table) -> TableSchema:
    """``dagster/column_schema``: name, type, description, nullability, uniqueness, range."""
    return TableSchema(
        columns=[
            TableColumn(
                c.name,
                _type_text(c.dtype),
                description=c.description,
                constraints=TableColumnConstraints(
                    nullable=c.nullable,
                    unique=c.unique,
                    other=[c.range_text] if c.range_text else [],
                ),
            )
            for c in table.columns
        ]
    )


# ---------------------------------------------------------------- warehouse DDL
#
# Both warehouses store what the lake stores, typed from the catalogue:
# - timestamps are UTC instants stored without a zone (Snowflake ``TIMESTAMP_NTZ(6)``, DuckDB
#   ``TIMESTAMP``): the value is the UTC wall clock, whatever the session's time zone, so a
#   query never shifts it (``hour_start_utc`` reads as written);
# - dates are ``DATE``; integers ``NUMBER(19, 0)`` / ``BIGINT`` (every Int64 fits); floats
#   ``FLOAT`` / ``DOUBLE``;
# - maps of open-ended keys (the unknown metrics of an open table, nested values) are
#   ``VARIANT`` in Snowflake and ``JSON`` in DuckDB;
# - identifiers are upper-cased in Snowflake (its unquoted-identifier rule, so ``select
#   plant_id from gold.oee_daily`` works unquoted) and kept lower-case in DuckDB (case
#   insensitive: the same query works on both).

WAREHOUSE_DIALECTS = ("duckdb", "snowflake")
EXTRA_COLUMNS = "extra_columns"
"""The column of an open table's undeclared columns (unknown metrics ...) in the warehouse:
one object per row, name -> value (Snowflake ``VARIANT``, DuckDB ``JSON``)."""

_INTEGERS = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32)
_SQL_TYPES: dict[str, dict[type, str]] = {
    "duckdb": {
        pl.String: "VARCHAR",
        **dict.fromkeys(_INTEGERS, "BIGINT"),
        pl.UInt64: "UBIGINT",
        pl.Float32: "DOUBLE",
        pl.Float64: "DOUBLE",
        pl.Boolean: "BOOLEAN",
        pl.Date: "DATE",
        pl.Datetime: "TIMESTAMP",
        pl.Struct: "JSON",
        pl.List: "JSON",
        pl.Array: "JSON",
    },
    "snowflake": {
        pl.String: "VARCHAR",
        **dict.fromkeys(_INTEGERS, "NUMBER(19, 0)"),
        pl.UInt64: "NUMBER(20, 0)",
        pl.Float32: "FLOAT",
        pl.Float64: "FLOAT",
        pl.Boolean: "BOOLEAN",
        pl.Date: "DATE",
        pl.Datetime: "TIMESTAMP_NTZ(6)",
        pl.Struct: "VARIANT",
        pl.List: "VARIANT",
        pl.Array: "VARIANT",
    },
}


def _dialect(dialect: str) -> dict[type, str]:
    try:
        return _SQL_TYPES[dialect]
    except KeyError:
        raise ValueError(f"unknown warehouse dialect {dialect!r}: {WAREHOUSE_DIALECTS}") from None


def sql_type(dtype: pl.DataType, dialect: str) -> str:
    """The warehouse type of a Polars type (``Datetime`` -> UTC ``TIMESTAMP_NTZ(6)`` /
    ``TIMESTAMP``; ``Struct``/``List`` -> ``VARIANT`` / ``JSON``)."""
    types = _dialect(dialect)
    try:
        return types[type(dtype)]
    except KeyError:
        raise ValueError(f"no {dialect} type for {dtype}") from None


def sql_identifier(name: str, dialect: str) -> str:
    """A column, table or schema name as the warehouse spells it (upper case in Snowflake)."""
    _dialect(dialect)
    return name.upper() if dialect == "snowflake" else name.lower()


def warehouse_columns(table: Table) -> tuple[Column, ...]:
    """The columns of ``table`` in the warehouse: the declared ones, plus
    :data:`EXTRA_COLUMNS` (a map) when the table is open."""
    if table.open_columns is None:
        return table.columns
    extra = Column(
        EXTRA_COLUMNS,
        pl.Struct({}),
        f"Undeclared columns of the lake table ({table.open_columns}) as one object: "
        "name -> value.",
    )
    return (*table.columns, extra)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _comment(text: str) -> str:
    """A description as a comment literal. Apostrophes become typographic ones (U+2019): an
    escaped quote in a table comment breaks the Snowflake emulator the tests use (fakesnow
    0.12 stores table comments with unescaped SQL) and a comment is documentation only."""
    return _quote(text.replace("'", "\u2019"))


def qualified_table_name(table: Table, dialect: str, database: str | None = None) -> str:
    """``gold.oee_daily`` (DuckDB) / ``<DATABASE>.GOLD.OEE_DAILY`` (Snowflake): schema = layer."""
    parts = [table.layer, table.name]
    names = [sql_identifier(p, dialect) for p in parts]
    if database:
        names.insert(0, database.upper() if dialect == "snowflake" else database)
    return ".".join(names)


def create_table_sql(table: Table, dialect: str, qualified_name: str | None = None) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for ``table`` in ``dialect`` (``duckdb`` or
    ``snowflake``), derived from the catalogue: warehouse types (:func:`sql_type`),
    identifiers as the warehouse spells them, NOT NULL where the column is not nullable;
    Snowflake gets the descriptions as column and table comments (DuckDB:
    :func:`comment_statements`)."""
    name = qualified_name or qualified_table_name(table, dialect)
    lines = []
    for c in warehouse_columns(table):
        line = f"    {sql_identifier(c.name, dialect)} {sql_type(c.dtype, dialect)}"
        if not c.nullable:
            line += " NOT NULL"
        if dialect == "snowflake":
            line += f" COMMENT {_comment(c.description)}"
        lines.append(line)
    comment = f" COMMENT = {_comment(table.description)}" if dialect == "snowflake" else ""
    return f"CREATE TABLE IF NOT EXISTS {name} (\n" + ",\n".join(lines) + f"\n){comment}"


def comment_statements(table: Table, dialect: str, qualified_name: str | None = None) -> list[str]:
    """DuckDB: ``COMMENT ON`` the table and each column (Snowflake has them in its DDL)."""
    if dialect != "duckdb":
        return []
    name = qualified_name or qualified_table_name(table, dialect)
    return [f"COMMENT ON TABLE {name} IS {_comment(table.description)}"] + [
        f"COMMENT ON COLUMN {name}.{sql_identifier(c.name, dialect)} IS {_comment(c.description)}"
        for c in warehouse_columns(table)
    ]


def add_column_sql(
    qualified_name: str,
    column: str,
    dtype: pl.DataType,
    dialect: str,
    description: str | None = None,
) -> str:
    """``ALTER TABLE ... ADD COLUMN``: always nullable (rows already loaded have no value)."""
    sql = (
        f"ALTER TABLE {qualified_name} ADD COLUMN "
        f"{sql_identifier(column, dialect)} {sql_type(dtype, dialect)}"
    )
    if description and dialect == "snowflake":
        sql += f" COMMENT {_comment(description)}"
    return sql


def warehouse_column_schema(table: Table, dialect: str) -> TableSchema:
    """``dagster/column_schema`` of the warehouse table: names and types as the warehouse
    has them, the catalogue's descriptions and constraints."""
    return TableSchema(
        columns=[
            TableColumn(
                sql_identifier(c.name, dialect),
                sql_type(c.dtype, dialect),
                description=c.description,
                constraints=TableColumnConstraints(
                    nullable=c.nullable,
                    unique=c.unique,
                    other=[c.range_text] if c.range_text else [],
                ),
            )
            for c in warehouse_columns(table)
        ]
    )
