"""Alerts on failed asset checks and failed runs, each sent exactly once to every channel.

Open-source Dagster does not alert on failed checks, and a failed non-blocking check never
fails its run, so a run-failure sensor alone would miss it: one sensor reads both
(``ops/feed.py``): every check evaluation since its cursor (all of them, page by page) and
every run failure (including a run stopped by a failed blocking check). The failures of a
tick are grouped into one message per asset and severity (``ops/alerts.py``) and delivered
to each configured channel (``resources/notifier.py``: log, webhook, Slack, e-mail).

Exactly once, per channel:
- what has been read is in the cursor (check watermarks, the run-failure cursor), so no
  failure is read twice, across ticks and across a daemon restart (the cursor is stored in
  the instance with the tick);
- a delivery that fails is kept in the cursor (``pending``: the message itself, its attempts,
  the time of the next attempt) and retried on a later tick with exponential back-off
  (``Notifier.backoff_s``, doubled after each failure); after ``Notifier.max_attempts`` it is
  recorded as undelivered (ERROR in the tick log, an observation on the asset). A channel
  that fails stops being tried for the rest of the tick (its later messages wait, without
  losing an attempt) while the other channels go on; what was delivered before the failure
  is never sent again;
- nothing a message or a channel raises aborts the tick.
A daemon killed between sending and storing its cursor would send that tick's messages
again: each message carries a stable ``id`` for receivers to drop a repeat.

Every final delivery (delivered or undelivered) of a failed check is recorded where people
look: an ``AssetObservation`` on the asset and plant-day partition, with check, plant, date,
severity, channel and delivery status.
"""

from __future__ import annotations

import json
import time
from typing import Any

from dagster import (
    AssetKey,
    AssetObservation,
    DefaultSensorStatus,
    MetadataValue,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from manufacturing_assets.ops.alerts import Alert, check_alert, group_messages, run_alert
from manufacturing_assets.ops.feed import new_evaluations, new_run_failures
from manufacturing_assets.resources.notifier import Message, Notifier

CURSOR_VERSION = 2
MAX_PENDING = 2000
"""Deliveries kept for retry at most (oldest dropped as undelivered): bounds the cursor."""


def load_cursor(text: str | None) -> dict[str, Any]:
    raw = json.loads(text) if text else {}
    if raw.get("v") != CURSOR_VERSION:  # the first sensor's cursor: check -> last record id
        return {"v": CURSOR_VERSION, "checks": raw, "runs": None, "pending": []}
    return raw


def alert_observation(alert: dict[str, Any], channel: str, delivery: str) -> AssetObservation:
    """The record of a sent (or undelivered) alert on the asset and plant-day it concerns."""
    metadata: dict[str, Any] = {
        "alert": f"check {alert['name']} failed",
        "check": alert["name"],
        "severity": alert["severity"],
        "notifier": channel,
        "delivery": delivery,
        "run_id": alert["run_id"],
        "failed_values": MetadataValue.json(alert["numbers"]),
    }
    if alert.get("plant_id") and alert.get("production_date"):
        metadata.update(plant_id=alert["plant_id"], production_date=alert["production_date"])
    return AssetObservation(
        asset_key=AssetKey.from_user_string(alert["asset"]),
        partition=alert.get("partition"),
        description=f"check {alert['name']} failed on {alert['asset']}",
        metadata=metadata,
    )


def _observations(message: Message, channel: str, delivery: str) -> list[AssetObservation]:
    return [alert_observation(a, channel, delivery) for a in message.alerts if a["kind"] == "check"]


def deliver(
    notifier: Notifier,
    queue: list[dict[str, Any]],
    now: float,
    log: Any,
) -> tuple[list[dict[str, Any]], list[AssetObservation], dict[str, int]]:
    """Try each due delivery of ``queue`` once; returns what stays pending, the observations
    of final outcomes and counts (delivered, retry, undelivered)."""
    pending: list[dict[str, Any]] = []
    observations: list[AssetObservation] = []
    counts = {"delivered": 0, "retry": 0, "undelivered": 0, "waiting": 0}
    down: set[str] = set()
    for item in queue:
        channel, message = item["channel"], Message.from_json(item["message"])
        if item.get("next_at", 0) > now or channel in down:
            pending.append(item)
            counts["waiting"] += 1
            continue
        try:
            notifier.deliver(channel, message)
        except Exception as exc:  # a channel that is down never stops the others
            error = f"{type(exc).__name__}: {exc}"[:500]
            attempts = item.get("attempts", 0) + 1
            down.add(channel)
            if attempts >= notifier.max_attempts:
                counts["undelivered"] += 1
                log.error(
                    f"UNDELIVERED after {attempts} attempt(s) to {channel}: {message.title}: "
                    f"{error}"
                )
                observations += _observations(message, channel, f"undelivered: {error}")
            else:
                counts["retry"] += 1
                wait = notifier.backoff_s * 2 ** (attempts - 1)
                log.warning(
                    f"{channel} failed (attempt {attempts}/{notifier.max_attempts}), next in "
                    f"{wait:.0f} s: {message.title}: {error}"
                )
                pending.append(
                    {**item, "attempts": attempts, "next_at": now + wait, "error": error}
                )
            continue
        counts["delivered"] += 1
        log.info(f"[{message.severity}] {message.title} -> {channel}: delivered")
        observations += _observations(message, channel, "delivered")
    if len(pending) > MAX_PENDING:
        for item in pending[:-MAX_PENDING]:
            message = Message.from_json(item["message"])
            log.error(f"UNDELIVERED (too many pending) to {item['channel']}: {message.title}")
            observations += _observations(message, item["channel"], "undelivered: dropped")
        pending = pending[-MAX_PENDING:]
    return pending, observations, counts


def evaluate_alerts(
    context: SensorEvaluationContext, notifier: Notifier, now: float | None = None
) -> SensorResult | SkipReason:
    """One tick (the sensor's body; ``now`` for tests)."""
    now = time.time() if now is None else now
    state = load_cursor(context.cursor)
    check_keys = sorted(context.repository_def.asset_graph.asset_check_keys, key=str)  # type: ignore[union-attr]
    evaluations, state["checks"] = new_evaluations(context.instance, check_keys, state["checks"])
    runs, state["runs"] = new_run_failures(context.instance, state.get("runs"))
    alerts: list[Alert] = [check_alert(e) for e in evaluations if not e.passed]
    alerts += [run_alert(r) for r in runs]
    try:
        channels = notifier.channels
    except ValueError as exc:  # a misconfigured channel list: fall back to the log
        context.log.error(f"{exc}; alerts go to the log")
        channels = ["log"]
    queue = list(state.get("pending", []))
    for message, _ in group_messages(alerts, notifier.run_url):
        for channel in channels:
            queue.append({"channel": channel, "message": message.to_json(), "attempts": 0})
    pending, observations, counts = deliver(notifier, queue, now, context.log)
    state["pending"] = pending
    context.update_cursor(json.dumps(state, sort_keys=True))
    if not queue:
        return SkipReason("no failed checks or runs since the last tick")
    context.log.info(
        f"{len(alerts)} new failure(s); deliveries: "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
    )
    return SensorResult(asset_events=observations)


@sensor(
    name="check_failure_alerts",
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Sends every failed asset check (ERROR and WARN) and every failed run once to each "
        "notifier (log, webhook, Slack, e-mail), grouped per asset, retried with back-off; "
        "records each alert as an observation on the asset and plant-day it concerns."
    ),
)
def check_failure_alerts(context: SensorEvaluationContext, notifier: Notifier):
    return evaluate_alerts(context, notifier)
