"""What a catalogue :class:`Table` becomes: the pandera contract, the Dagster column schema
shown in the UI, and the warehouse DDL (the typed empty frame is ``Table.empty()``).
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


_SQL_TYPES = {
    "duckdb": {
        pl.String: "VARCHAR",
        pl.Int64: "BIGINT",
        pl.Float64: "DOUBLE",
        pl.Boolean: "BOOLEAN",
        pl.Date: "DATE",
        pl.Datetime: "TIMESTAMPTZ",
    },
    "snowflake": {
        pl.String: "VARCHAR",
        pl.Int64: "NUMBER(19, 0)",
        pl.Float64: "FLOAT",
        pl.Boolean: "BOOLEAN",
        pl.Date: "DATE",
        pl.Datetime: "TIMESTAMP_TZ(6)",
    },
}


def sql_type(dtype: pl.DataType, dialect: str) -> str:
    try:
        return _SQL_TYPES[dialect][type(dtype)]
    except KeyError:
        raise ValueError(f"no {dialect} type for {dtype}") from None


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def create_table_sql(table: Table, dialect: str, qualified_name: str | None = None) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for ``table`` in ``dialect`` (``duckdb`` or
    ``snowflake``), NOT NULL where the column is not nullable; Snowflake gets the
    descriptions as column and table comments."""
    name = qualified_name or f"{table.layer}.{table.name}"
    lines = []
    for c in table.columns:
        line = f"    {c.name} {sql_type(c.dtype, dialect)}"
        if not c.nullable:
            line += " NOT NULL"
        if dialect == "snowflake":
            line += f" COMMENT {_quote(c.description)}"
        lines.append(line)
    comment = f" COMMENT = {_quote(table.description)}" if dialect == "snowflake" else ""
    return f"CREATE TABLE IF NOT EXISTS {name} (\n" + ",\n".join(lines) + f"\n){comment}"
