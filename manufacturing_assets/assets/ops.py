"""Operations assets: ``ops/data_quality_results`` and its warehouse copy.

``ops/data_quality_results`` appends every check evaluation recorded since its last
materialization (``ops/quality_history.py``); where it stopped is kept in the metadata of
that materialization (``feed_cursor``), and a lost cursor costs only a re-read (the append
is keyed by evaluation id). ``warehouse/data_quality_results`` publishes the table with the
same warehouse IO manager as gold and marts (an unpartitioned table is replaced whole).
Both run in ``data_quality_job``, started by the ``data_quality_history`` sensor when checks
were evaluated (``sensors/data_quality.py``).
"""

import json
from collections.abc import Sequence
from typing import Any

from dagster import (
    AssetCheckKey,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
    asset,
)

from manufacturing_assets.assets.policies import OWNERS
from manufacturing_assets.assets.warehouse import build_warehouse_asset
from manufacturing_assets.catalogue.derive import column_schema
from manufacturing_assets.catalogue.ops import DATA_QUALITY_RESULTS
from manufacturing_assets.ops.quality_history import collect

TABLE = DATA_QUALITY_RESULTS
KEY = AssetKey(TABLE.key_path)


def _last_cursor(context: AssetExecutionContext) -> dict[str, Any]:
    event = context.instance.get_latest_materialization_event(KEY)
    materialization = event.asset_materialization if event else None
    value = materialization.metadata.get("feed_cursor") if materialization else None
    try:
        return json.loads(value.value) if value is not None else {}  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return {}


def build_data_quality_asset(
    check_keys: Sequence[AssetCheckKey] | None = None,
) -> AssetsDefinition:
    """``ops/data_quality_results`` collecting the checks of the run's code location (set
    for every run launched from it), else ``check_keys``, else this package's checks."""

    def checks_of(context: AssetExecutionContext) -> list[AssetCheckKey]:
        try:
            return sorted(context.repository_def.asset_graph.asset_check_keys, key=str)
        except Exception:  # a run built outside a repository (execute_in_process, scripts)
            if check_keys is not None:
                return list(check_keys)
            from manufacturing_assets.definitions import defs

            return sorted(defs.get_repository_def().asset_graph.asset_check_keys, key=str)

    @asset(
        key=TABLE.key_path,
        group_name="ops",
        owners=OWNERS,
        kinds={"delta"},
        tags={"layer": "ops", "domain": TABLE.domain},
        description=TABLE.description,
        metadata={"dagster/column_schema": column_schema(TABLE)},
    )
    def data_quality_results(
        context: AssetExecutionContext, io_manager: ResourceParam[Any]
    ) -> MaterializeResult:
        uri = io_manager.table_uri(TABLE.key_path)
        keys = checks_of(context)
        read, inserted, cursor = collect(
            context.instance, keys, uri, io_manager.storage_options, _last_cursor(context)
        )
        context.log.info(
            f"{read} evaluation(s) of {len(keys)} check(s) read, {inserted} row(s) appended "
            f"to {uri}"
        )
        return MaterializeResult(
            metadata={
                "evaluations_read": read,
                "rows_appended": inserted,
                "feed_cursor": MetadataValue.text(json.dumps(cursor, sort_keys=True)),
            }
        )

    return data_quality_results


def ops_assets(
    backend: str = "duckdb", check_keys: Sequence[AssetCheckKey] | None = None
) -> list[AssetsDefinition]:
    """The data-quality table and its copy in the ``backend`` warehouse."""
    return [build_data_quality_asset(check_keys), build_warehouse_asset(TABLE, backend)]
