"""The warehouse IO manager on Snowflake: :class:`WarehouseIOManager` with a nested
``SnowflakeResource`` of ``dagster-snowflake`` (its secrets are ``EnvVar``).

A module of its own because importing ``dagster-snowflake`` costs about 5 s (it pulls in
``snowflake.core`` and Snowpark): the code location and every step process of a run import
it only when ``MA_WAREHOUSE=snowflake`` (``environment.py``), never on the embedded default.
"""

from __future__ import annotations

from typing import Literal

from dagster_snowflake import SnowflakeResource
from pydantic import Field

from manufacturing_assets.io_managers.warehouse import WarehouseIOManager
from manufacturing_assets.warehouse import SnowflakeWarehouse, Warehouse


class SnowflakeWarehouseIOManager(WarehouseIOManager):
    """Publishes catalogue tables to Snowflake (``io_managers/warehouse.py``)."""

    backend: Literal["duckdb", "snowflake"] = Field(
        default="snowflake", description="Always snowflake for this IO manager."
    )
    snowflake: SnowflakeResource = Field(
        description="Snowflake connection (secrets as EnvVar).",
    )

    def warehouse(self) -> Warehouse:
        return SnowflakeWarehouse(self.snowflake.get_connection, self.snowflake.database or "")
