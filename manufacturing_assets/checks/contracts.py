"""The pandera contract of each table (catalogue columns + ``checks/rules.py``) and how a
frame is validated against it."""

from __future__ import annotations

import functools

import pandera.polars as pa
import polars as pl
from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from manufacturing_assets.catalogue import Table, table
from manufacturing_assets.catalogue.derive import contract_name, pandera_schema
from manufacturing_assets.checks.rules import RULES
from manufacturing_assets.partitions import plant_date_partitions


@functools.cache
def contract(path: str) -> pa.DataFrameSchema:
    """The pandera schema of the catalogue table ``layer/name``."""
    entry = table(path)
    return pandera_schema(entry, RULES.get(entry.path, ()))


def contract_check_name(entry: Table) -> str:
    """``pandera_<Contract>``, e.g. ``pandera_SilverSensorReadings``."""
    return f"pandera_{contract_name(entry)}"


def validate(schema: pa.DataFrameSchema | str, frame: pl.DataFrame) -> tuple[bool, dict]:
    """Validate ``frame``; (passed, metadata: rows, failures, the first failure cases)."""
    if isinstance(schema, str):
        schema = contract(schema)
    if frame.width == 0:
        return True, {"rows": 0}
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = pl.DataFrame(exc.failure_cases)
        lines = [
            f"- `{r.get('column')}` {r.get('check')}: {r.get('failure_case')}"
            for r in cases.head(20).iter_rows(named=True)
        ]
        return False, {
            "rows": frame.height,
            "failures": cases.height,
            "failure_cases": MetadataValue.md("\n".join(lines)),
        }
    return True, {"rows": frame.height}


def contract_asset_check(table: Table, blocking: bool = False) -> AssetChecksDefinition:
    """The contract as a check of its own, run after the table is materialized (loads the
    table): used for the unpartitioned dimensions, whose rows are judged as a whole.
    Partitioned tables check each plant-day inside their own step (``checks/plant_day.py``).
    """

    @asset_check(
        metadata={"severity": "ERROR"},
        asset=AssetKey(table.key_path),
        name=contract_check_name(table),
        blocking=blocking,
        partitions_def=plant_date_partitions if table.is_partitioned else None,
        description=f"Validates `{table.path}` against its pandera contract (catalogue).",
    )
    def _check(data: pl.DataFrame) -> AssetCheckResult:
        passed, metadata = validate(contract(table.path), data)
        return AssetCheckResult(passed=passed, severity=AssetCheckSeverity.ERROR, metadata=metadata)

    return _check
