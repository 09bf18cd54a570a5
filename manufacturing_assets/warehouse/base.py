"""What both warehouses share: naming, the publish algorithm and the SQL of a load.

:meth:`Warehouse.publish` puts the rows of one catalogue table into the warehouse:

1. the rows are prepared (:mod:`.staging`: warehouse names, UTC timestamps without a zone,
   an open table's extra columns as one map), lazily;
2. the table's columns are read from the warehouse and the load is planned against them
   (:mod:`.schema`: create from the catalogue, add new nullable columns, or refuse a type
   conflict before anything is written);
3. the backend bulk-loads them (DuckDB: Arrow batches streamed into ``INSERT``; Snowflake:
   a Parquet file through a temporary stage and ``COPY INTO``), never row by row:
   - a plant x date table: the partitions of the load are deleted and the rows inserted in
     **one transaction** (``DELETE ... WHERE <partitions>`` then the bulk insert), so a
     failed load leaves the table as it was and the slices of other plant-days are never
     touched. One load may carry any number of plant-days (a single-run backfill);
   - an unpartitioned table with a surrogate key (``*_sk``: the SCD2 dimensions,
     ``dim_date``): one ``MERGE`` on that key, which inserts new versions, updates changed
     ones (a version closed by a later change gets its ``valid_to`` and ``is_current``) and
     deletes versions the lake no longer has (a late snapshot re-dating a version), so the
     table equals the lake's after every load and a repeated load changes nothing;
4. rows per partition are counted back from the table.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from manufacturing_assets.catalogue import table as catalogue_table
from manufacturing_assets.catalogue.derive import sql_identifier
from manufacturing_assets.catalogue.model import Table
from manufacturing_assets.io_managers.delta import PartitionValues, partition_predicate
from manufacturing_assets.warehouse.schema import SchemaPlan, WarehouseColumn
from manufacturing_assets.warehouse.staging import FrameLike, prepare

LOAD_FLAG = "ma_delete__"
"""Column of the MERGE source marking versions the lake no longer has."""


@dataclass(frozen=True)
class PublishResult:
    """What one :meth:`Warehouse.publish` did."""

    table_name: str
    """Fully qualified name (``warehouse.gold.oee_daily``, ``DB.GOLD.OEE_DAILY``)."""
    rows_loaded: int
    partition_rows: dict[tuple[str, date], int]
    """(plant_id, production_date) -> rows of the table in that partition after the load."""
    table_rows: int | None
    """Rows of an unpartitioned table after the load."""
    plan: SchemaPlan
    seconds: float
    merge_counts: dict[str, int] = field(default_factory=dict)
    """inserted / updated / deleted versions of a MERGE."""


def merge_key(table: Table) -> str | None:
    """The surrogate key an unpartitioned table is merged on (``<dim>_sk``, ``date_sk``)."""
    for c in table.columns:
        if c.name.endswith("_sk") and c.unique and not c.nullable:
            return c.name
    return None


class Warehouse(ABC):
    """A SQL warehouse the catalogue's tables are published to (DuckDB or Snowflake)."""

    dialect: str

    def ident(self, name: str) -> str:
        return sql_identifier(name, self.dialect)

    @abstractmethod
    def qualified_name(self, table: Table) -> str:
        """The table's name in SQL run against this warehouse."""

    def display_name(self, table: Table) -> str:
        """The fully qualified name shown as ``dagster/table_name``."""
        return self.qualified_name(table)

    def query_sql(self, table: Table, partitions: Sequence[PartitionValues] | None = None) -> str:
        """A query for a user to start from."""
        name = self.qualified_name(table)
        if table.is_partitioned and partitions:
            first = partitions[0]
            where = " and ".join(
                f"{column} = '{value.isoformat() if isinstance(value, date) else value}'"
                for column, value in first.items()
            )
            return f"select * from {name} where {where} limit 10"
        if any(c.name == "is_current" for c in table.columns):
            return f"select * from {name} where is_current limit 10"
        return f"select * from {name} limit 10"

    def summary_lines(self) -> list[str]:
        """Where the published tables are and how to query them (``manufacturing-assets
        run``'s summary)."""
        example = self.query_sql(catalogue_table("gold/oee_daily")).replace(" limit 10", " limit 5")
        return [f"Warehouse:    {self.location()}", f"  {example}"]

    def location(self) -> str:
        return self.dialect

    # ------------------------------------------------------------ publish

    def publish(
        self,
        table: Table,
        frame: FrameLike,
        partitions: Sequence[PartitionValues] | None = None,
    ) -> PublishResult:
        """Put ``frame`` (rows of ``table``) into the warehouse: replace exactly
        ``partitions`` of a plant x date table, merge an unpartitioned one on its key (see
        the module docstring). Raises ``WarehouseTypeConflict``/``WarehouseLoadError``
        before writing anything when the load does not fit the table."""
        if table.is_partitioned and partitions is None:
            raise ValueError(f"{table.path} is partitioned: give the partitions of the load")
        started = time.perf_counter()
        result = self._load(table, prepare(frame, table, self.dialect), list(partitions or []))
        return PublishResult(**{**result, "seconds": time.perf_counter() - started})

    @abstractmethod
    def _load(self, table: Table, rows: pl.LazyFrame, partitions: list[PartitionValues]) -> dict:
        """Plan, check and bulk-load ``rows`` (prepared: :func:`.staging.prepare`); the keys
        of :class:`PublishResult` but ``seconds``."""

    @abstractmethod
    def read(
        self, table: Table, partitions: Sequence[PartitionValues] | None = None
    ) -> pl.DataFrame:
        """Rows of ``table`` (of ``partitions``), columns named and typed as in the lake."""

    @abstractmethod
    def columns(self, table: Table) -> dict[str, WarehouseColumn] | None:
        """The table's columns as the warehouse reports them; None when it does not exist."""

    # ------------------------------------------------------------ SQL

    def delete_sql(self, table: Table, partitions: Sequence[PartitionValues]) -> str:
        return f"DELETE FROM {self.qualified_name(table)} WHERE {partition_predicate(partitions)}"

    def partition_rows_sql(self, table: Table, partitions: Sequence[PartitionValues]) -> str:
        plant, day = (self.ident(c) for c in table.partitioning.columns)
        return (
            f"SELECT {plant}, {day}, COUNT(*) FROM {self.qualified_name(table)} "
            f"WHERE {partition_predicate(partitions)} GROUP BY {plant}, {day}"
        )

    def merge_sql(self, table: Table, source: str, columns: Sequence[str], key: str) -> str:
        """One ``MERGE`` making ``table`` equal to ``source`` (a relation with ``columns``)
        by ``key``: insert, update what changed, delete what ``source`` lacks."""
        target = self.qualified_name(table)
        k = self.ident(key)
        flag = self.ident(LOAD_FLAG)
        cols = [self.ident(c) for c in columns]
        others = [c for c in cols if c != k]
        gone = ", ".join(f"t0.{k}" if c == k else f"NULL AS {c}" for c in cols)
        changed = " OR ".join(f"t.{c} IS DISTINCT FROM s.{c}" for c in others) or "FALSE"
        return (
            f"MERGE INTO {target} AS t USING (\n"
            f"  SELECT {', '.join(cols)}, FALSE AS {flag} FROM {source}\n"
            f"  UNION ALL\n"
            f"  SELECT {gone}, TRUE AS {flag} FROM {target} AS t0\n"
            f"  WHERE NOT EXISTS (SELECT 1 FROM {source} AS n WHERE n.{k} = t0.{k})\n"
            f") AS s ON t.{k} = s.{k}\n"
            f"WHEN MATCHED AND s.{flag} THEN DELETE\n"
            f"WHEN MATCHED AND ({changed}) THEN UPDATE SET "
            + ", ".join(f"{c} = s.{c}" for c in others)
            + "\n"
            f"WHEN NOT MATCHED AND NOT s.{flag} THEN INSERT ({', '.join(cols)}) "
            f"VALUES ({', '.join(f's.{c}' for c in cols)})"
        )

    @staticmethod
    def partition_rows(rows: Sequence[Sequence]) -> dict[tuple[str, date], int]:
        return {(str(p), d if isinstance(d, date) else date.fromisoformat(str(d))): int(n)
                for p, d, n in rows}  # fmt: skip


def lake_types(frame: pl.DataFrame, table: Table) -> pl.DataFrame:
    """Rows read from the warehouse with the lake's names and types: lower-case names,
    timestamps back to UTC, integers stored as ``NUMBER`` back to Int64, the catalogue's
    types for declared columns."""
    frame = frame.rename({c: c.lower() for c in frame.columns})
    declared: Mapping[str, pl.DataType] = table.schema
    casts = {}
    for name, dtype in frame.schema.items():
        want = declared.get(name)
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
            casts[name] = pl.col(name).dt.replace_time_zone("UTC").dt.cast_time_unit("us")
        elif want is not None and dtype != want and not isinstance(want, pl.Datetime):
            casts[name] = pl.col(name).cast(want)
    return frame.with_columns(**casts) if casts else frame
