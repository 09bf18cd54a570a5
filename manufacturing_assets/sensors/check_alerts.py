"""Alerts on failed asset checks (open-source Dagster does not alert on checks by itself).

The sensor reads the execution history of every asset check in the code location and sends
each failed evaluation once to the configured notifier; its cursor keeps the last execution
record id per check (works on SQLite and PostgreSQL instance storage alike).

Every alert is also recorded where people look: an ``AssetObservation`` on the asset (and
plant-day partition) it concerns, with the check, plant, date, severity, notifier and
delivery status, so the asset's Events tab lists the alerts that went out; and a line in
the sensor's tick log. A notifier that fails is recorded as ``undelivered`` and never stops
the other alerts of the tick.
"""

import json
from dataclasses import dataclass
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetKey,
    AssetObservation,
    DagsterInstance,
    DefaultSensorStatus,
    MetadataValue,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from manufacturing_assets.partitions import split_key
from manufacturing_assets.resources.notifier import Notifier

MAX_EVENTS_PER_CHECK = 200


@dataclass(frozen=True)
class Alert:
    """One failed check evaluation to send."""

    asset_key: AssetKey
    check: str
    partition: str | None
    severity: str
    run_id: str
    description: str
    metadata: dict[str, Any]

    @property
    def where(self) -> str:
        if not self.partition:
            return "unpartitioned"
        plant, day = split_key(self.partition)
        return f"plant {plant}, {day}"

    @property
    def title(self) -> str:
        return f"check {self.check} failed on {self.asset_key.to_user_string()} [{self.where}]"

    @property
    def text(self) -> str:
        return f"{self.description} run {self.run_id} {self.metadata}".strip()


def failed_checks(
    instance: DagsterInstance, check_keys: list[AssetCheckKey], seen: dict[str, int]
) -> tuple[list[Alert], dict[str, int]]:
    """Failed evaluations newer than ``seen`` (check key -> last execution record id)."""
    alerts: list[Alert] = []
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
            alerts.append(
                Alert(
                    asset_key=key.asset_key,
                    check=key.name,
                    partition=record.partition or evaluation.partition,
                    severity=evaluation.severity.value,
                    run_id=record.run_id,
                    description=evaluation.description or "",
                    metadata={
                        k: getattr(v, "value", v) for k, v in (evaluation.metadata or {}).items()
                    },
                )
            )
    return alerts, cursor


def failed_check_messages(
    instance: DagsterInstance, check_keys: list[AssetCheckKey], seen: dict[str, int]
) -> tuple[list[tuple[str, str, str]], dict[str, int]]:
    """(title, text, severity) of each failed evaluation newer than ``seen``."""
    alerts, cursor = failed_checks(instance, check_keys, seen)
    return [(a.title, a.text, a.severity) for a in alerts], cursor


def alert_observation(alert: Alert, notifier: str, delivery: str) -> AssetObservation:
    """The record of a sent alert on the asset (and plant-day) it concerns."""
    metadata: dict[str, Any] = {
        "alert": f"check {alert.check} failed",
        "check": alert.check,
        "severity": alert.severity,
        "notifier": notifier,
        "delivery": delivery,
        "run_id": alert.run_id,
        "failed_values": MetadataValue.json(
            {k: v for k, v in alert.metadata.items() if isinstance(v, (int, float, str, bool))}
        ),
    }
    if alert.partition:
        plant, day = split_key(alert.partition)
        metadata.update(plant_id=plant, production_date=day.isoformat())
    return AssetObservation(
        asset_key=alert.asset_key,
        partition=alert.partition,
        description=alert.title,
        metadata=metadata,
    )


@sensor(
    name="check_failure_alerts",
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Sends every failed asset check (ERROR and WARN) once to the notifier (log, webhook) "
        "and records each alert as an observation on the asset and plant-day it concerns."
    ),
)
def check_failure_alerts(context: SensorEvaluationContext, notifier: Notifier):
    seen = json.loads(context.cursor) if context.cursor else {}
    check_keys = sorted(context.repository_def.asset_graph.asset_check_keys, key=str)  # type: ignore[union-attr]
    alerts, cursor = failed_checks(context.instance, check_keys, seen)
    observations = []
    for alert in alerts:
        try:
            notifier.send(alert.title, alert.text, alert.severity)
            delivery = "delivered"
        except Exception as exc:  # a notifier that is down never stops the other alerts
            delivery = f"undelivered: {type(exc).__name__}: {exc}"
        context.log.info(f"{alert.severity} {alert.title} -> {notifier.kind}: {delivery}")
        observations.append(alert_observation(alert, notifier.kind, delivery))
    context.update_cursor(json.dumps(cursor, sort_keys=True))
    if not alerts:
        return SkipReason("no failed checks since the last tick")
    return SensorResult(asset_events=observations)
