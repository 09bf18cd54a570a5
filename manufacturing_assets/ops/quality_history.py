"""The data-quality history: every check evaluation as a row of ``ops/data_quality_results``.

Rows come from the instance's check execution records (``ops/feed.py``: every evaluation,
passed or not, each once) and are appended to the Delta table with a ``MERGE`` that inserts
only evaluations the table does not hold (key: ``evaluation_id``, ``run_id``,
``evaluated_at``): a repeated or overlapping collection adds nothing, so the table has exactly
one row per evaluation whatever happens between runs. The record id alone is not a key: a
new Dagster instance (a fresh PostgreSQL database after a redeploy, a wiped ``DAGSTER_HOME``)
numbers its evaluations from 1 again, and the history must keep both.

The table is unpartitioned in Dagster (unpartitioned checks such as the dimension checks
have no plant-day) and appended rather than overwritten, so it is written here with
``deltalake`` directly; the Delta IO manager only reads it (the warehouse asset's input).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from dagster import AssetCheckKey, DagsterInstance
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

from manufacturing_assets.catalogue.ops import DATA_QUALITY_RESULTS
from manufacturing_assets.ops.alerts import failed_numbers, split_partition
from manufacturing_assets.ops.feed import Evaluation, new_evaluations

TABLE = DATA_QUALITY_RESULTS
MERGE_KEY = TABLE.unique  # evaluation_id, run_id, evaluated_at


def _date(text: Any) -> date | None:
    try:
        return date.fromisoformat(str(text)) if text else None
    except ValueError:
        return None


def measured(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The evaluation's numbers (and short texts), thresholds included."""
    numbers = failed_numbers({k: v for k, v in metadata.items() if k != "threshold"})
    if isinstance(metadata.get("threshold"), int | float):
        numbers["threshold"] = metadata["threshold"]
    return numbers


def evaluation_rows(evaluations: Iterable[Evaluation]) -> pl.DataFrame:
    """One row per evaluation, typed as the catalogue declares."""
    rows = []
    for e in evaluations:
        plant, day = split_partition(e.partition)
        plant = plant or e.metadata.get("plant_id")
        day = day or e.metadata.get("production_date")
        failures = e.metadata.get("failures")
        rows.append(
            {
                "evaluation_id": e.id,
                "rule": e.check,
                "asset": e.asset_key.to_user_string(),
                "plant_id": plant,
                "production_date": _date(day),
                "partition_key": e.partition,
                "run_id": e.run_id or "",  # never null: part of the merge key
                "passed": e.passed,
                "severity": e.severity,
                "description": e.description or None,
                "failures": failures if isinstance(failures, int) else None,
                "measured": json.dumps(measured(e.metadata), sort_keys=True),
                "evaluated_at": datetime.fromtimestamp(e.timestamp, UTC),
            }
        )
    if not rows:
        return TABLE.empty()
    return pl.DataFrame(rows, schema=TABLE.schema)


def append_new(uri: str, storage_options: Mapping[str, str], rows: pl.DataFrame) -> int:
    """Insert the rows whose key (``MERGE_KEY``) the table lacks; returns how many."""
    if rows.is_empty():
        return 0
    arrow = rows.to_arrow()
    try:
        table = DeltaTable(uri, storage_options=dict(storage_options) or None)
    except TableNotFoundError:
        write_deltalake(uri, arrow, mode="append", storage_options=dict(storage_options) or None)
        return rows.height
    metrics = (
        table.merge(
            source=arrow,
            predicate=" AND ".join(f"t.{c} = s.{c}" for c in MERGE_KEY),
            source_alias="s",
            target_alias="t",
        )
        .when_not_matched_insert_all()
        .execute()
    )
    return int(metrics.get("num_target_rows_inserted", 0))


def read_results(uri: str, storage_options: Mapping[str, str] | None = None) -> pl.DataFrame:
    try:
        table = DeltaTable(uri, storage_options=dict(storage_options or {}) or None)
    except TableNotFoundError:
        return TABLE.empty()
    frame = pl.from_arrow(table.to_pyarrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def collect(
    instance: DagsterInstance,
    check_keys: Iterable[AssetCheckKey],
    uri: str,
    storage_options: Mapping[str, str] | None = None,
    cursor: Mapping[str, Any] | None = None,
) -> tuple[int, int, dict[str, Any]]:
    """Append every evaluation after ``cursor`` (all, when None) to the table at ``uri``.
    Returns (evaluations read, rows inserted, the cursor after them)."""
    evaluations, after = new_evaluations(instance, check_keys, cursor or {})
    inserted = append_new(uri, storage_options or {}, evaluation_rows(evaluations))
    return len(evaluations), inserted, after
