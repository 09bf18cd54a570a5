"""Alerts on failed asset checks (open-source Dagster does not alert on checks by itself).

The sensor reads the execution history of every asset check in the code location and sends
each failed evaluation once to the configured notifier; its cursor keeps the last execution
record id per check (works on SQLite and PostgreSQL instance storage alike).
"""

import json

from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    DagsterInstance,
    DefaultSensorStatus,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from manufacturing_assets.resources.notifier import Notifier

MAX_EVENTS_PER_CHECK = 200


def failed_check_messages(
    instance: DagsterInstance, check_keys: list[AssetCheckKey], seen: dict[str, int]
) -> tuple[list[tuple[str, str, str]], dict[str, int]]:
    """Failed evaluations newer than ``seen`` (check key -> last execution record id)."""
    messages: list[tuple[str, str, str]] = []
    cursor = dict(seen)
    for key in check_keys:
        name = key.to_user_string()
        last = seen.get(name, 0)
        records = instance.event_log_storage.get_asset_check_execution_history(
            check_key=key, limit=MAX_EVENTS_PER_CHECK
        )
        for record in sorted(records, key=lambda r: r.id):
            if record.id <= last:
                continue
            if record.status == AssetCheckExecutionRecordStatus.PLANNED:
                run = instance.get_run_by_id(record.run_id)
                if run is not None and not run.is_finished:
                    break  # still running: look again next tick
                cursor[name] = max(cursor.get(name, 0), record.id)
                continue  # never evaluated (the run skipped the check)
            cursor[name] = max(cursor.get(name, 0), record.id)
            data = (
                record.event.dagster_event.event_specific_data
                if record.event and record.event.dagster_event
                else None
            )
            evaluation = data if isinstance(data, AssetCheckEvaluation) else None
            if evaluation is None or evaluation.passed:
                continue
            partition = record.partition or evaluation.partition or "unpartitioned"
            title = f"check {key.name} failed on {key.asset_key.to_user_string()} [{partition}]"
            meta = {k: getattr(v, "value", v) for k, v in (evaluation.metadata or {}).items()}
            text = f"{evaluation.description or ''} run {record.run_id} {meta}".strip()
            messages.append((title, text, evaluation.severity.value))
    return messages, cursor


@sensor(
    name="check_failure_alerts",
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Sends every failed asset check (ERROR and WARN) once to the notifier (log, webhook).",
)
def check_failure_alerts(context: SensorEvaluationContext, notifier: Notifier):
    seen = json.loads(context.cursor) if context.cursor else {}
    check_keys = sorted(context.repository_def.asset_graph.asset_check_keys, key=str)  # type: ignore[union-attr]
    messages, cursor = failed_check_messages(context.instance, check_keys, seen)
    for title, text, severity in messages:
        notifier.send(title, text, severity)
    context.update_cursor(json.dumps(cursor, sort_keys=True))
    if not messages:
        return SkipReason("no failed checks since the last tick")
    return SkipReason(f"sent {len(messages)} alert(s)")
