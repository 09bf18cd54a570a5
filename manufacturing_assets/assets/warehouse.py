"""Warehouse assets: every gold table and every star-schema dimension and fact, published
to the SQL warehouse (DuckDB by default, Snowflake in production) as an asset of its own.

``warehouse/<name>`` reads ``<layer>/<name>`` from Delta (a lazy scan of exactly the run's
partitions) and hands it to the warehouse IO manager (``io_managers/warehouse.py``), which
replaces those plant-days in the warehouse table (dimensions: ``MERGE`` on the surrogate
key). So:

- a warehouse outage never blocks the lake: the lake assets have no warehouse step, a
  failed publish fails only its own asset;
- a plant-day can be re-published or backfilled alone (one run may carry many: the asset has
  the source's partitions and a single-run backfill policy);
- the asset graph shows which partitions reached the warehouse, and the automation sensor
  publishes a partition again whenever its source is rematerialized.

Conventions of the layer (set here once): group ``warehouse``, kinds naming the backend
(``duckdb``/``snowflake``), the source's partitions and automation rule, the warehouse's
column schema (``catalogue/derive.warehouse_column_schema``).
"""

from __future__ import annotations

from typing import Any

import polars as pl
from dagster import AssetIn, AssetsDefinition, asset

from manufacturing_assets.assets.policies import OWNERS, automation_for, multi_asset_partitioning
from manufacturing_assets.automation import dimension_automation_condition
from manufacturing_assets.catalogue.derive import qualified_table_name, warehouse_column_schema
from manufacturing_assets.catalogue.model import Table
from manufacturing_assets.io_managers.warehouse import WAREHOUSE_IO_MANAGER_KEY
from manufacturing_assets.warehouse import PUBLISHED

WAREHOUSE = "warehouse"
BACKENDS = ("duckdb", "snowflake")


def warehouse_asset(table: Table, backend: str) -> dict[str, Any]:
    """Keyword arguments of ``@asset`` for the asset publishing ``table``."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown warehouse backend {backend!r}: {BACKENDS}")
    metadata: dict[str, Any] = {
        "dagster/column_schema": warehouse_column_schema(table, backend),
        "source_table": table.path,
    }
    if table.is_partitioned:
        metadata["partition_expr"] = table.partitioning.expr
    how = (
        "the run's plant-days replaced in one transaction"
        if table.is_partitioned
        else "merged on its surrogate key"
    )
    return {
        "key": [WAREHOUSE, table.name],
        "group_name": WAREHOUSE,
        "owners": OWNERS,
        "kinds": {backend},
        "tags": {
            "layer": WAREHOUSE,
            "domain": table.domain,
            "source": f"{table.layer}.{table.name}",
        },
        "metadata": metadata,
        "description": (
            f"`{table.path}` published to the {backend} warehouse as "
            f"`{qualified_table_name(table, backend)}` ({how}).\n\n{table.description}"
        ),
        # a plant-day follows its source's rule; a dimension (and the calendar) is
        # published whenever its source was rebuilt
        "automation_condition": automation_for(table)
        if table.is_partitioned
        else dimension_automation_condition(),
        "io_manager_key": WAREHOUSE_IO_MANAGER_KEY,
        "ins": {"source": AssetIn(key=table.key_path)},
        **multi_asset_partitioning(table),
    }


def build_warehouse_asset(table: Table, backend: str) -> AssetsDefinition:
    @asset(**warehouse_asset(table, backend))
    def _publish(source: pl.LazyFrame) -> pl.LazyFrame:
        return source

    return _publish


def warehouse_assets(backend: str = "duckdb") -> list[AssetsDefinition]:
    """One asset per published table (``warehouse.PUBLISHED``), kinds naming ``backend``."""
    return [build_warehouse_asset(t, backend) for t in PUBLISHED.values()]
