"""Alerts on failed asset checks (open-source Dagster does not alert on checks by itself).

The sensor reads `ASSET_CHECK_EVALUATION` events after its cursor (an event-log storage
id) and sends every failed evaluation once to the configured notifier.
"""

from dagster import (
    DagsterEventType,
    DefaultSensorStatus,
    EventRecordsFilter,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from manufacturing_assets.resources.notifier import Notifier

MAX_EVENTS_PER_TICK = 500


def failed_check_messages(
    context: SensorEvaluationContext, after: int
) -> tuple[list[tuple[str, str, str]], int]:
    records = context.instance.get_event_records(
        EventRecordsFilter(event_type=DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=after),
        limit=MAX_EVENTS_PER_TICK,
        ascending=True,
    )
    messages: list[tuple[str, str, str]] = []
    cursor = after
    for record in records:
        cursor = max(cursor, record.storage_id)
        evaluation = record.event_log_entry.dagster_event.event_specific_data.evaluation  # type: ignore[union-attr]
        if evaluation.passed:
            continue
        key = evaluation.asset_check_key
        partition = evaluation.partition or "unpartitioned"
        title = f"check {key.name} failed on {key.asset_key.to_user_string()} [{partition}]"
        details = evaluation.description or ""
        meta = {k: getattr(v, "value", v) for k, v in (evaluation.metadata or {}).items()}
        messages.append((title, f"{details} {meta}".strip(), evaluation.severity.value))
    return messages, cursor


@sensor(
    name="check_failure_alerts",
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Sends every failed asset check (ERROR and WARN) once to the notifier (log, webhook).",
)
def check_failure_alerts(context: SensorEvaluationContext, notifier: Notifier):
    after = int(context.cursor or 0)
    messages, cursor = failed_check_messages(context, after)
    for title, text, severity in messages:
        notifier.send(title, text, severity)
    context.update_cursor(str(cursor))
    if not messages:
        return SkipReason("no failed checks since the last tick")
    return SkipReason(f"sent {len(messages)} alert(s)")
