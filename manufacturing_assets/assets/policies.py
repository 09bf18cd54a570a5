"""Asset conventions, set once per layer: group, owners, kinds, tags, partitions, backfill
and automation policies, and the UI metadata every table gets from the catalogue
(description, column schema, the IO manager's ``partition_expr``).

An asset module only says which table an asset writes and what it reads:
``@asset(**table_asset(SILVER["machine_state_intervals"]), ins=...)``.
"""

from __future__ import annotations

from typing import Any

from dagster import AssetOut, AutomationCondition, BackfillPolicy

from manufacturing_assets.automation import (
    calendar_automation_condition,
    dimension_automation_condition,
    plant_day_automation_condition,
)
from manufacturing_assets.catalogue import Table
from manufacturing_assets.catalogue.derive import column_schema
from manufacturing_assets.partitions import plant_date_partitions

OWNERS = ["team:manufacturing-data"]
KINDS = {"polars", "delta"}


def automation_for(table: Table) -> AutomationCondition | None:
    """Bronze and master data follow the landing sensor; plant x day tables follow their
    inputs; dimensions follow master data; the calendar follows the clock."""
    if table.layer in ("bronze", "reference"):
        return None
    if table.path == "marts/dim_date":
        return calendar_automation_condition()
    if not table.is_partitioned:
        return dimension_automation_condition()
    return plant_day_automation_condition()


def _spec(table: Table) -> dict[str, Any]:
    metadata: dict[str, Any] = {"dagster/column_schema": column_schema(table)}
    if table.is_partitioned:
        metadata["partition_expr"] = table.partitioning.expr
    if table.open_columns:
        metadata["extra_columns"] = table.open_columns
    return {
        "key": table.key_path,
        "group_name": table.layer,
        "owners": OWNERS,
        "kinds": KINDS,
        "tags": {"layer": table.layer, "domain": table.domain, **table.tags},
        "metadata": metadata,
        "description": table.description,
        "automation_condition": automation_for(table),
    }


# A run carries at most this many plant-days: a backfill of a year for ten plants is ten
# plants x twelve runs, each processed plant by plant, so memory never grows with the range.
MAX_PLANT_DAYS_PER_RUN = 31


def _partitioning(table: Table) -> dict[str, Any]:
    """Plant x date tables: a backfill runs as few runs as possible but bounded
    (``BackfillPolicy.multi_run``). Dagster splits a multi-partition backfill into one key
    range per plant, then into chunks of consecutive dates of that plant, so each run is one
    plant x up to ``MAX_PLANT_DAYS_PER_RUN`` days (``assets/runner.py`` runs it)."""
    if not table.is_partitioned:
        return {}
    return {
        "partitions_def": plant_date_partitions,
        "backfill_policy": BackfillPolicy.multi_run(max_partitions_per_run=MAX_PLANT_DAYS_PER_RUN),
    }


def table_asset(table: Table) -> dict[str, Any]:
    """Keyword arguments of ``@asset`` for the asset that writes ``table``."""
    return {**_spec(table), **_partitioning(table)}


def table_out(table: Table) -> AssetOut:
    """``AssetOut`` of a ``@multi_asset`` output that writes ``table``."""
    return AssetOut(**_spec(table))


def multi_asset_partitioning(table: Table) -> dict[str, Any]:
    """Keyword arguments of ``@multi_asset`` for outputs partitioned like ``table``."""
    return _partitioning(table)
