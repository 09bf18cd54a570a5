"""Keeps ``ops/data_quality_results`` (and its warehouse copy) up to date.

Each tick looks at the newest execution record of every asset check (one summary query);
when any changed since the last tick (a new evaluation, or a planned one evaluated), it
requests one run of ``ops/data_quality_results`` + ``warehouse/data_quality_results``
(run key = that state, so a tick repeated by a restart does not launch twice). The asset
itself reads every evaluation since its last materialization.
"""

from __future__ import annotations

import hashlib
import json

from dagster import (
    AssetKey,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from manufacturing_assets.catalogue.ops import DATA_QUALITY_RESULTS

DATA_QUALITY_SENSOR_NAME = "data_quality_history"
TARGET = [AssetKey(DATA_QUALITY_RESULTS.key_path), AssetKey(["warehouse", "data_quality_results"])]


def check_state(context: SensorEvaluationContext) -> str:
    """A fingerprint of the newest execution record (id, status) of every check."""
    keys = sorted(context.repository_def.asset_graph.asset_check_keys, key=str)  # type: ignore[union-attr]
    summaries = context.instance.event_log_storage.get_asset_check_summary_records(keys)
    state = {}
    for key, summary in summaries.items():
        record = summary.last_check_execution_record
        if record is not None:
            state[key.to_user_string()] = [record.id, record.status.value]
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:20]


def build_data_quality_sensor(default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED):
    @sensor(
        name=DATA_QUALITY_SENSOR_NAME,
        minimum_interval_seconds=120,
        default_status=default_status,
        target=TARGET,
        description=(
            "Appends every new asset-check evaluation to ops/data_quality_results and publishes "
            "it to the warehouse (warehouse/data_quality_results) when checks were evaluated."
        ),
    )
    def data_quality_history(context: SensorEvaluationContext):
        state = check_state(context)
        if state == context.cursor:
            return SkipReason("no check evaluated since the last run")
        context.update_cursor(state)
        return RunRequest(run_key=f"dq-{state}")

    return data_quality_history
