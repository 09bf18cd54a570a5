"""The warehouse IO manager: asset outputs published to DuckDB or Snowflake.

The warehouse assets (``assets/warehouse.py``) hand it the rows of their source table, read
from Delta by the Delta IO manager for exactly the partitions of the run (a lazy scan: the
rows stream into the Parquet file the warehouse loads). It publishes them with
:meth:`manufacturing_assets.warehouse.Warehouse.publish`: a plant x date table gets exactly
the run's plant-days replaced in one transaction, however many the run carries; a dimension
is merged on its surrogate key. Which catalogue table an asset publishes is its key's name
(``warehouse/oee_daily`` -> ``gold/oee_daily``), or its ``source_table`` metadata.

Backends (``environment.py`` picks one from ``MA_WAREHOUSE``): ``duckdb`` (a file,
``duckdb_path``, this class) or ``snowflake`` (``SnowflakeWarehouseIOManager`` in
``warehouse_snowflake.py``, with the nested ``SnowflakeResource`` of ``dagster-snowflake``;
its secrets are ``EnvVar``, so no credential is a value in this configuration).

Metadata of every materialization: per partition ``dagster/partition_row_count`` and
``dagster/row_count`` (rows of that plant-day in the warehouse table after the load; the
run's total is ``run_total_rows``), ``dagster/table_name`` (fully qualified),
``dagster/column_schema`` (the warehouse's columns and types), ``query`` (SQL to start from)
and, for DuckDB, the shell command running it; schema changes (``schema_change``) and, for a
dimension, the versions inserted, updated and deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import pandas as pd
import polars as pl
from dagster import (
    ConfigurableIOManager,
    InputContext,
    MetadataValue,
    OutputContext,
    TableColumn,
    TableSchema,
)
from pydantic import Field

from manufacturing_assets.catalogue import table as catalogue_table
from manufacturing_assets.catalogue.derive import warehouse_column_schema
from manufacturing_assets.catalogue.model import Table
from manufacturing_assets.io_managers.delta import (
    PartitionValues,
    context_partition_values,
    partition_predicate,
)
from manufacturing_assets.warehouse import (
    PUBLISHED,
    DuckDBWarehouse,
    PublishResult,
    Warehouse,
)
from manufacturing_assets.warehouse.schema import SchemaPlan

WAREHOUSE_IO_MANAGER_KEY = "warehouse_io_manager"


def published_table(asset_path: Sequence[str], source: str | None = None) -> Table:
    """The catalogue table a warehouse asset publishes."""
    if source:
        return catalogue_table(source)
    try:
        return PUBLISHED[asset_path[-1]]
    except KeyError:
        raise KeyError(
            f"{'/'.join(asset_path)}: no published catalogue table named {asset_path[-1]!r} "
            "(set the asset's `source_table` metadata)"
        ) from None


class WarehouseIOManager(ConfigurableIOManager):
    """Publishes catalogue tables to the SQL warehouse (module docstring)."""

    backend: Literal["duckdb", "snowflake"] = Field(
        default="duckdb", description="duckdb (a local file) or snowflake."
    )
    duckdb_path: str = Field(
        default="data/warehouse.duckdb", description="The DuckDB file (backend duckdb)."
    )

    def warehouse(self) -> Warehouse:
        """The backend (Snowflake: ``SnowflakeWarehouseIOManager`` overrides this)."""
        if self.backend != "duckdb":
            raise ValueError(
                "backend snowflake is SnowflakeWarehouseIOManager "
                "(io_managers/warehouse_snowflake.py)"
            )
        return DuckDBWarehouse(self.duckdb_path)

    # ------------------------------------------------------------ write

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        if obj is None:
            return
        if isinstance(obj, pd.DataFrame):
            obj = pl.from_pandas(obj)
        if not isinstance(obj, pl.DataFrame | pl.LazyFrame):
            raise TypeError(f"WarehouseIOManager cannot publish {type(obj).__name__}")
        metadata = context.definition_metadata or {}
        table = published_table(context.asset_key.path, metadata.get("source_table"))
        partitions = context_partition_values(context)
        warehouse = self.warehouse()
        result = warehouse.publish(table, obj, partitions)
        context.log.info(
            f"published {result.rows_loaded} rows of {table.path} to {result.table_name} "
            f"({self.backend}) in {result.seconds:.2f} s"
        )
        if partitions is not None:
            self._partition_row_counts(context, table, partitions, result)
        context.add_output_metadata(self._metadata(warehouse, table, partitions, result))

    def _metadata(
        self,
        warehouse: Warehouse,
        table: Table,
        partitions: list[dict[str, Any]] | None,
        result: PublishResult,
    ) -> dict[str, Any]:
        sql = warehouse.query_sql(table, partitions)
        metadata: dict[str, Any] = {
            "dagster/table_name": result.table_name,
            "dagster/column_schema": _column_schema(table, result.plan, warehouse.dialect),
            "warehouse": self.backend,
            "query": MetadataValue.md(f"```sql\n{sql}\n```"),
            "load_seconds": round(result.seconds, 3),
            "rows_loaded": result.rows_loaded,
        }
        if isinstance(warehouse, DuckDBWarehouse):
            metadata["duckdb_command"] = warehouse.shell_command(sql)
        if partitions is not None:
            metadata["run_total_rows"] = sum(result.partition_rows.values())
            metadata["partitions_written"] = partition_predicate(partitions)
            metadata["partition_count"] = len(partitions)
        else:
            metadata["dagster/row_count"] = result.table_rows
        if result.plan.description:
            metadata["schema_change"] = result.plan.description
        for action, n in result.merge_counts.items():
            metadata[f"versions_{action}"] = n
        return metadata

    @staticmethod
    def _partition_row_counts(
        context: OutputContext,
        table: Table,
        partitions: Sequence[PartitionValues],
        result: PublishResult,
    ) -> None:
        """Rows of each plant-day in the warehouse, on that partition's materialization."""
        try:
            step = context.step_context
        except Exception:  # an output context built outside a run (unit tests)
            return
        plant_column, day_column = table.partitioning.columns
        for key, values in zip(context.asset_partition_keys, partitions, strict=True):
            plant, day = values[plant_column], values[day_column]
            n = result.partition_rows.get((str(plant), day), 0)  # type: ignore[arg-type]
            step.add_asset_metadata(
                {"dagster/partition_row_count": n, "dagster/row_count": n},
                asset_key=context.asset_key,
                partition_key=key,
            )

    # ------------------------------------------------------------ read

    def load_input(self, context: InputContext) -> pl.DataFrame | pl.LazyFrame | pd.DataFrame:
        upstream = context.upstream_output
        metadata = (upstream.definition_metadata if upstream else None) or {}
        table = published_table(context.asset_key.path, metadata.get("source_table"))
        partitions = context_partition_values(context)
        warehouse = self.warehouse()
        frame = (
            warehouse.read(table, partitions)
            if warehouse.columns(table) is not None
            else table.empty()
        )
        wanted = context.dagster_type.typing_type if context.dagster_type else None
        if wanted is pl.LazyFrame:
            return frame.lazy()
        return frame.to_pandas() if wanted is pd.DataFrame else frame


def _column_schema(table: Table, plan: SchemaPlan, dialect: str) -> TableSchema:
    """The warehouse table's columns (after the load) with the catalogue's descriptions."""
    declared = {c.name: c for c in warehouse_column_schema(table, dialect).columns}
    columns = []
    for name, column in plan.columns.items():
        known = declared.get(name)
        columns.append(
            TableColumn(
                name,
                column.type_text,
                description=known.description if known else None,
                constraints=known.constraints if known else None,
            )
        )
    return TableSchema(columns=columns)
