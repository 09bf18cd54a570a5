"""The production warehouse: Snowflake, through ``dagster-snowflake``'s ``SnowflakeResource``.

Tables are ``<database>.<LAYER>.<NAME>`` (``ANALYTICS.GOLD.OEE_DAILY``): the schemas are the
lake's layers, so the SQL of the DuckDB file runs unchanged (unquoted identifiers are upper
case in Snowflake). Loading follows Snowflake's recommendation for bulk loads, never row
inserts:

1. DDL first (Snowflake commits DDL on its own): ``CREATE SCHEMA/TABLE IF NOT EXISTS`` from
   the catalogue, ``ALTER TABLE ... ADD COLUMN`` for a new nullable column, a temporary stage
   ``<database>.<LAYER>.MA_LOAD`` (dropped with the session);
2. the rows streamed into a Parquet file (``LazyFrame.sink_parquet``: bounded memory; its
   footer gives the row and null counts, checked against NOT NULL columns before anything is
   written), ``PUT`` under a fresh prefix of that stage;
3. a plant x date table: ``BEGIN``; ``DELETE`` the load's partitions; ``COPY INTO ... FILE_FORMAT
   = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE PURGE =
   TRUE``; count the partitions; ``COMMIT`` (``ROLLBACK`` on any error: the table is as it
   was);
   a dimension: ``COPY`` into a transient ``<NAME>__MA_LOAD`` table, then one ``MERGE`` on the
   surrogate key (a single statement: atomic), then drop the load table.

Timestamps arrive as UTC without a zone and are stored as ``TIMESTAMP_NTZ``, so the session's
``TIMEZONE`` never shifts them.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from manufacturing_assets.catalogue.derive import (
    add_column_sql,
    create_table_sql,
    qualified_table_name,
)
from manufacturing_assets.catalogue.model import Table
from manufacturing_assets.io_managers.delta import PartitionValues, partition_predicate
from manufacturing_assets.warehouse.base import Warehouse, lake_types, merge_key
from manufacturing_assets.warehouse.schema import (
    WarehouseColumn,
    WarehouseLoadError,
    check_not_null,
    plan_schema,
    warehouse_family,
)
from manufacturing_assets.warehouse.staging import StagedFiles, stage_parquet

STAGE = "MA_LOAD"
LOAD_TABLE_SUFFIX = "__MA_LOAD"
FILE_FORMAT = "FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE)"

Connect = Callable[[], AbstractContextManager[Any]]


class SnowflakeWarehouse(Warehouse):
    """``connect``: a connection factory (``SnowflakeResource.get_connection``);
    ``database``: where the layer schemas are."""

    dialect = "snowflake"

    def __init__(self, connect: Connect, database: str) -> None:
        if not database:
            raise ValueError("the Snowflake warehouse needs a database (SNOWFLAKE_DATABASE)")
        self._connect = connect
        self.database = database.upper()

    def qualified_name(self, table: Table) -> str:
        return qualified_table_name(table, self.dialect, self.database)

    def location(self) -> str:
        return f"Snowflake database {self.database} (schemas GOLD, MARTS)"

    def schema_name(self, table: Table) -> str:
        return f"{self.database}.{self.ident(table.layer)}"

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        """A cursor of a fresh connection; any open transaction is rolled back on error."""
        with self._connect() as conn:
            cur = conn.cursor()
            try:
                yield cur
            except BaseException:
                try:
                    cur.execute("ROLLBACK")
                finally:
                    conn.close()
                raise

    # ------------------------------------------------------------ reads

    def _columns(self, cur: Any, table: Table) -> dict[str, WarehouseColumn] | None:
        cur.execute(
            f"SELECT column_name, data_type, is_nullable, numeric_scale "
            f"FROM {self.database}.information_schema.columns "
            f"WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            (self.ident(table.layer), self.ident(table.name)),
        )
        rows = cur.fetchall()
        if not rows:
            return None
        return {
            name: WarehouseColumn(
                name,
                _type_text(type_text, scale),
                nullable == "YES",
                warehouse_family(type_text, scale),
            )
            for name, type_text, nullable, scale in rows
        }

    def columns(self, table: Table) -> dict[str, WarehouseColumn] | None:
        with self.cursor() as cur:
            return self._columns(cur, table)

    def read(
        self, table: Table, partitions: Sequence[PartitionValues] | None = None
    ) -> pl.DataFrame:
        where = f" WHERE {partition_predicate(partitions)}" if partitions is not None else ""
        with self.cursor() as cur:
            cur.execute(f"SELECT * FROM {self.qualified_name(table)}{where}")
            names = [d[0] for d in cur.description]
            arrow = cur.fetch_arrow_all()
        if arrow is None:  # no rows
            frame = pl.DataFrame(schema={n: pl.Null for n in names})
            return lake_types(frame, table).cast(
                {n.lower(): table.schema[n.lower()] for n in names if n.lower() in table.schema}
            )
        frame = pl.from_arrow(arrow)
        assert isinstance(frame, pl.DataFrame)
        return lake_types(frame, table)

    # ------------------------------------------------------------ load

    def _put(self, cur: Any, table: Table, staged: StagedFiles) -> str:
        """Upload the staged files under a fresh prefix of the temporary stage."""
        stage = f"{self.schema_name(table)}.{STAGE}"
        cur.execute(f"CREATE TEMPORARY STAGE IF NOT EXISTS {stage}")
        location = f"@{stage}/{uuid.uuid4().hex}/"
        for path in staged.paths:
            cur.execute(f"PUT 'file://{path.as_posix()}' {location} AUTO_COMPRESS = FALSE")
        return location

    def _copy(self, cur: Any, target: str, location: str, staged: StagedFiles) -> None:
        """``COPY INTO target`` from the stage (a separate step so tests can fail it)."""
        cur.execute(
            f"COPY INTO {target} FROM {location} {FILE_FORMAT} "
            "MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE PURGE = TRUE"
        )
        loaded = sum(_rows_loaded(row, cur.description) for row in cur.fetchall())
        if loaded != staged.rows:
            raise WarehouseLoadError(f"COPY INTO {target} loaded {loaded} of {staged.rows} rows")

    def _load(self, table: Table, rows: pl.LazyFrame, partitions: list[PartitionValues]) -> dict:
        with tempfile.TemporaryDirectory(prefix="ma-warehouse-") as tmp:
            staged = stage_parquet(rows, Path(tmp))
            return self._load_files(table, staged, partitions)

    def _load_files(
        self, table: Table, staged: StagedFiles, partitions: list[PartitionValues]
    ) -> dict:
        name = self.qualified_name(table)
        with self.cursor() as cur:
            plan = plan_schema(table, self.dialect, name, self._columns(cur, table), staged.schema)
            check_not_null(plan, staged.null_counts)
            if plan.create:
                cur.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema_name(table)}")
                cur.execute(create_table_sql(table, self.dialect, name))
            for column, dtype in plan.add:
                description = _description(table, column)
                cur.execute(add_column_sql(name, column, dtype, self.dialect, description))
            location = self._put(cur, table, staged)
            result: dict = {"plan": plan, "merge_counts": {}, "table_rows": None}
            key = merge_key(table)
            if table.is_partitioned or key is None:
                cur.execute("BEGIN TRANSACTION")
                cur.execute(
                    self.delete_sql(table, partitions)
                    if table.is_partitioned
                    else f"DELETE FROM {name}"
                )
                if staged.rows:
                    self._copy(cur, name, location, staged)
                if table.is_partitioned:
                    cur.execute(self.partition_rows_sql(table, partitions))
                    result["partition_rows"] = self.partition_rows(cur.fetchall())
                cur.execute("COMMIT")
            else:
                load_table = f"{name}{LOAD_TABLE_SUFFIX}"
                columns = [c for c in staged.schema if c not in plan.untyped]
                cur.execute(f"CREATE OR REPLACE TRANSIENT TABLE {load_table} LIKE {name}")
                try:
                    if staged.rows:
                        self._copy(cur, load_table, location, staged)
                    cur.execute(self.merge_sql(table, load_table, columns, key))
                    result["merge_counts"] = _merge_counts(cur.fetchone(), cur.description)
                finally:
                    cur.execute(f"DROP TABLE IF EXISTS {load_table}")
            result.setdefault("partition_rows", {})
            if not table.is_partitioned:
                cur.execute(f"SELECT COUNT(*) FROM {name}")
                result["table_rows"] = int(cur.fetchone()[0])
        return {"table_name": name, "rows_loaded": staged.rows, **result}


def _type_text(type_text: str, scale: Any) -> str:
    if type_text.upper() in ("NUMBER", "DECIMAL") and scale is not None:
        return f"{type_text.upper()}(scale {scale})"
    return type_text.upper()


def _description(table: Table, column: str) -> str | None:
    try:
        return table.column(column.lower()).description
    except KeyError:
        return None


def _rows_loaded(row: Sequence[Any], description: Sequence[Any]) -> int:
    names = [d[0].lower() for d in description]
    if "rows_loaded" in names:
        return int(row[names.index("rows_loaded")] or 0)
    return 0  # "Copy executed with 0 files processed."


def _merge_counts(row: Sequence[Any] | None, description: Sequence[Any]) -> dict[str, int]:
    """Snowflake's MERGE returns one row: number of rows inserted, updated, deleted."""
    if row is None:
        return {}
    counts = {}
    for value, d in zip(row, description, strict=False):
        label = d[0].lower()
        for action in ("inserted", "updated", "deleted"):
            if action in label:
                counts[action] = int(value)
    return counts
