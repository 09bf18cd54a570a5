"""The embedded warehouse: one DuckDB file (``$MA_DATA_DIR/warehouse.duckdb`` by default).

Schemas are the lake's layers (``gold``, ``marts``), tables its names: ``select * from
gold.oee_daily`` in ``duckdb -readonly data/warehouse.duckdb``. Every load runs in one DuckDB
transaction (DDL included: DuckDB's DDL is transactional): create or alter the table, delete
the load's partitions (or ``MERGE`` a dimension), insert the rows as one Arrow stream
(``INSERT INTO ... BY NAME SELECT * FROM <stream>``: Polars computes the batches with its
streaming engine, DuckDB consumes them; no file, no row inserts), count the partitions,
commit. A NOT NULL violation fails the load with DuckDB's message naming table and column.

One process at a time may write a DuckDB file: a connection that finds the file locked (a
parallel step, a user's open ``duckdb`` shell) retries for ``lock_timeout_s`` before failing
with the reason. Each load holds the file only while it loads.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

from manufacturing_assets.catalogue.derive import (
    add_column_sql,
    comment_statements,
    create_table_sql,
    qualified_table_name,
)
from manufacturing_assets.catalogue.model import Table
from manufacturing_assets.io_managers.delta import PartitionValues, partition_predicate
from manufacturing_assets.warehouse.base import Warehouse, lake_types, merge_key
from manufacturing_assets.warehouse.schema import (
    WarehouseColumn,
    WarehouseLoadError,
    plan_schema,
    warehouse_family,
)
from manufacturing_assets.warehouse.staging import arrow_batches

LOAD_VIEW = "ma_load"


class DuckDBWarehouse(Warehouse):
    dialect = "duckdb"

    def __init__(
        self, path: str | Path, lock_timeout_s: float = 120.0, memory_limit: str = "256MB"
    ) -> None:
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self.memory_limit = memory_limit

    @property
    def catalog(self) -> str:
        """DuckDB's name of the attached file (its stem)."""
        return self.path.stem

    def qualified_name(self, table: Table) -> str:
        return qualified_table_name(table, self.dialect)

    def display_name(self, table: Table) -> str:
        return qualified_table_name(table, self.dialect, self.catalog)

    def shell_command(self, sql: str) -> str:
        """The command a user runs to query the file (read-only: no lock on writers)."""
        return f'duckdb -readonly {self._shown_path()} "{sql}"'

    def python_command(self, sql: str) -> str:
        """The same query from Python (the duckdb package is installed with the project)."""
        text = sql.replace("'", '"')
        return (
            f"python -c \"import duckdb; duckdb.connect('{self._shown_path()}', "
            f"read_only=True).sql('{text}').show()\""
        )

    def _shown_path(self) -> str:
        """The file relative to the working directory when under it (shorter commands)."""
        try:
            return str(self.path.resolve().relative_to(Path.cwd()))
        except ValueError:
            return str(self.path)

    def location(self) -> str:
        return f"DuckDB file {self._shown_path()} (schemas gold, marts)"

    def summary_lines(self) -> list[str]:
        sql = "select * from gold.oee_daily limit 5"
        return [
            f"Warehouse:    {self.location()}; query it with",
            f"  {self.python_command(sql)}",
            f"  or the duckdb CLI: {self.shell_command(sql)}",
        ]

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the file, waiting while another process holds its lock."""
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.05
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=read_only)
                break
            except duckdb.IOException as error:
                if "lock" not in str(error).lower() or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"cannot open the DuckDB warehouse {self.path}: {error}. Another process "
                        "holds it (a running step or a `duckdb` shell opened without -readonly)."
                    ) from error
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        try:
            if not read_only:
                # a load streams: cap DuckDB's buffers (it spills beyond) and let it insert
                # in parallel without keeping the stream's order (rows have no order)
                con.execute(f"SET memory_limit = '{self.memory_limit}'")
                con.execute("SET preserve_insertion_order = false")
            yield con
        finally:
            con.close()

    # ------------------------------------------------------------ reads

    def _columns(self, con: duckdb.DuckDBPyConnection, table: Table) -> dict | None:
        rows = con.execute(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ? "
            "ORDER BY ordinal_position",
            [self.ident(table.layer), self.ident(table.name)],
        ).fetchall()
        if not rows:
            return None
        return {
            name: WarehouseColumn(name, type_text, nullable == "YES", warehouse_family(type_text))
            for name, type_text, nullable in rows
        }

    def columns(self, table: Table) -> dict[str, WarehouseColumn] | None:
        if not self.path.exists():
            return None
        with self.connect(read_only=True) as con:
            return self._columns(con, table)

    def read(
        self, table: Table, partitions: Sequence[PartitionValues] | None = None
    ) -> pl.DataFrame:
        where = f" WHERE {partition_predicate(partitions)}" if partitions is not None else ""
        with self.connect(read_only=True) as con:
            frame = pl.from_arrow(
                con.sql(f"SELECT * FROM {self.qualified_name(table)}{where}").to_arrow_table()
            )
        assert isinstance(frame, pl.DataFrame)
        return lake_types(frame, table)

    # ------------------------------------------------------------ load

    def _insert(self, con: duckdb.DuckDBPyConnection, target: str, rows: pl.LazyFrame) -> int:
        """The bulk insert: Polars' Arrow batches streamed into one ``INSERT`` (a separate
        step so tests can fail it). Returns the rows inserted."""
        reader = arrow_batches(rows)
        if reader is None:
            return 0
        con.register(LOAD_VIEW, reader)
        try:
            inserted = con.execute(f"INSERT INTO {target} BY NAME SELECT * FROM {LOAD_VIEW}")
            return int(inserted.fetchone()[0])  # type: ignore[index]
        finally:
            _unregister(con)

    def _merge(
        self, con: duckdb.DuckDBPyConnection, table: Table, rows: pl.LazyFrame, key: str
    ) -> tuple[int, dict[str, int]]:
        """``MERGE`` of a dimension (small: read whole, the source is scanned twice)."""
        arrow = rows.collect().to_arrow()
        con.register(LOAD_VIEW, arrow)
        try:
            merge = self.merge_sql(table, LOAD_VIEW, arrow.column_names, key)
            actions = con.execute(f"{merge}\nRETURNING merge_action").fetchall()
        finally:
            _unregister(con)
        return arrow.num_rows, _merge_counts(actions)

    def _load(self, table: Table, rows: pl.LazyFrame, partitions: list[PartitionValues]) -> dict:
        name = self.qualified_name(table)
        schema = dict(rows.collect_schema())
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                existing = self._columns(con, table)
                plan = plan_schema(table, self.dialect, self.display_name(table), existing, schema)
                if plan.create:
                    con.execute(f"CREATE SCHEMA IF NOT EXISTS {self.ident(table.layer)}")
                    con.execute(create_table_sql(table, self.dialect, name))
                    for statement in comment_statements(table, self.dialect, name):
                        con.execute(statement)
                for column, dtype in plan.add:
                    con.execute(add_column_sql(name, column, dtype, self.dialect))
                rows = rows.drop(plan.untyped)
                result: dict = {"plan": plan, "merge_counts": {}, "table_rows": None}
                result["partition_rows"] = {}
                key = merge_key(table)
                if table.is_partitioned:
                    con.execute(self.delete_sql(table, partitions))
                    loaded = self._insert(con, name, rows)
                    counts = con.execute(self.partition_rows_sql(table, partitions)).fetchall()
                    result["partition_rows"] = self.partition_rows(counts)
                elif key is not None:
                    loaded, result["merge_counts"] = self._merge(con, table, rows, key)
                else:  # unpartitioned without a key: replaced whole
                    con.execute(f"DELETE FROM {name}")
                    loaded = self._insert(con, name, rows)
                if not table.is_partitioned:
                    total = con.execute(f"SELECT COUNT(*) FROM {name}").fetchone()
                    result["table_rows"] = int(total[0])  # type: ignore[index]
                con.execute("COMMIT")
            except duckdb.ConstraintException as error:
                con.execute("ROLLBACK")
                raise WarehouseLoadError(
                    f"cannot load into {self.display_name(table)}: {error}. Nothing was written."
                ) from error
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return {"table_name": self.display_name(table), "rows_loaded": loaded, **result}


def _unregister(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the load's view (after a failed statement the transaction refuses it: the
    connection is rolled back and closed anyway)."""
    with contextlib.suppress(duckdb.Error):
        con.unregister(LOAD_VIEW)


def _merge_counts(rows: list) -> dict[str, int]:
    """``RETURNING merge_action``: one row per version inserted, updated or deleted."""
    counts = {"inserted": 0, "updated": 0, "deleted": 0}
    names = {"INSERT": "inserted", "UPDATE": "updated", "DELETE": "deleted"}
    for (action,) in rows:
        counts[names[str(action).upper()]] += 1
    return counts


def default_duckdb_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / "warehouse.duckdb"
