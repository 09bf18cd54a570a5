"""The pandera contract of each table (catalogue columns + ``checks/rules.py``) and how a
frame is validated against it."""

from __future__ import annotations

import functools
from datetime import date

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


def _failure_metadata(rows: int, cases: pl.DataFrame) -> dict:
    lines = [
        f"- `{r.get('column')}` {r.get('check')}: {r.get('failure_case')}"
        for r in cases.head(20).iter_rows(named=True)
    ]
    return {
        "rows": rows,
        "failures": cases.height,
        "failure_cases": MetadataValue.md("\n".join(lines)),
    }


def validate_by_partition(
    schema: pa.DataFrameSchema | str,
    frame: pl.DataFrame,
    partitions: list[tuple[str, date]],
    columns: tuple[str, str] = ("plant_id", "production_date"),
) -> dict[tuple[str, date], tuple[bool, dict]]:
    """:func:`validate` once over ``frame`` (many partitions), the outcome split by
    partition: a failure case belongs to the partition of its row; one that names no row
    (a missing column, a wrong type) to every partition. Same verdicts as validating each
    partition alone, for contracts whose table-level rules and unique keys hold within a
    partition (every catalogue table's do: unique keys and rules include the date)."""
    if isinstance(schema, str):
        schema = contract(schema)
    keys = frame.select(columns).with_row_index("index") if frame.width else None
    rows = (
        {(str(p), d): n for p, d, n in frame.group_by(list(columns)).len().iter_rows()}
        if frame.height
        else {}
    )
    cases = None
    if frame.width:
        try:
            schema.validate(frame, lazy=True)
        except pa.errors.SchemaErrors as exc:
            cases = pl.DataFrame(exc.failure_cases)
    out: dict[tuple[str, date], tuple[bool, dict]] = {}
    for part in partitions:
        n = rows.get(part, 0)
        if cases is None or cases.is_empty():
            out[part] = (True, {"rows": n})
            continue
        everywhere = cases.filter(pl.col("index").is_null())
        mine = cases.join(
            keys.filter((pl.col(columns[0]) == part[0]) & (pl.col(columns[1]) == part[1])).select(
                pl.col("index").cast(cases.schema["index"])
            ),
            on="index",
        )
        failed = pl.concat([everywhere, mine], how="vertical_relaxed")
        out[part] = (
            (True, {"rows": n}) if failed.is_empty() else (False, _failure_metadata(n, failed))
        )
    return out


def validate(schema: pa.DataFrameSchema | str, frame: pl.DataFrame) -> tuple[bool, dict]:
    """Validate ``frame``; (passed, metadata: rows, failures, the first failure cases)."""
    if isinstance(schema, str):
        schema = contract(schema)
    if frame.width == 0:
        return True, {"rows": 0}
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return False, _failure_metadata(frame.height, pl.DataFrame(exc.failure_cases))
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
