"""The SQL warehouse: gold and marts tables published from the lake.

Every gold table and every star-schema dimension and fact (:data:`PUBLISHED`) is published by
an asset of its own (``warehouse/<table>``, ``assets/warehouse.py``) through the warehouse IO
manager (``io_managers/warehouse.py``), to one of two backends chosen in ``environment.py``
(``MA_WAREHOUSE``):

- DuckDB (:mod:`.duckdb_backend`), the embedded default: ``$MA_DATA_DIR/warehouse.duckdb``;
- Snowflake (:mod:`.snowflake_backend`), through ``dagster-snowflake``'s ``SnowflakeResource``.

Both share the load algorithm and its SQL (:mod:`.base`), the Parquet staging
(:mod:`.staging`) and the schema rules (:mod:`.schema`); the DDL and the types come from the
table catalogue (``catalogue/derive.py``). No Dagster here: the IO manager, the benchmark and
the tests call the same :meth:`Warehouse.publish`.
"""

from __future__ import annotations

from manufacturing_assets.catalogue import TABLES, Table
from manufacturing_assets.warehouse.base import PublishResult, Warehouse, merge_key
from manufacturing_assets.warehouse.duckdb_backend import DuckDBWarehouse, default_duckdb_path
from manufacturing_assets.warehouse.schema import WarehouseLoadError, WarehouseTypeConflict
from manufacturing_assets.warehouse.snowflake_backend import SnowflakeWarehouse

PUBLISHED_LAYERS = ("gold", "marts")
PUBLISHED: dict[str, Table] = {t.name: t for t in TABLES.values() if t.layer in PUBLISHED_LAYERS}
"""Table name -> catalogue table, for every table published to the warehouse (the warehouse
asset ``warehouse/<name>`` publishes it)."""

__all__ = [
    "PUBLISHED",
    "PUBLISHED_LAYERS",
    "DuckDBWarehouse",
    "PublishResult",
    "SnowflakeWarehouse",
    "Warehouse",
    "WarehouseLoadError",
    "WarehouseTypeConflict",
    "default_duckdb_path",
    "merge_key",
]
