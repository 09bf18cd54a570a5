"""Failures -> alerts -> messages: what the people on call read.

An :class:`Alert` is one failure: a failed check evaluation (asset, check, plant and date,
severity, the numbers that failed, its run) or a failed run (job, failed steps and their
assets, plant and date from the run's partition tags, the first error line). Alerts of one
tick are grouped into one :class:`~manufacturing_assets.resources.notifier.Message` per
asset and severity (the severity picks the Slack channel), at most ``PER_MESSAGE`` alerts
each (a message stays readable in Slack and e-mail: 1,000 failures of one asset are 20
messages, each failure in exactly one of them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from manufacturing_assets.ops.feed import Evaluation, RunFailure, dumps
from manufacturing_assets.resources.notifier import Message

PER_MESSAGE = 50
SEVERITY_ORDER = {"ERROR": 0, "WARN": 1}
NUMBERS_SHOWN = 8
# metadata that is context, not a measured number
CONTEXT_KEYS = {"plant_id", "production_date", "severity", "threshold"}


def split_partition(partition: str | None) -> tuple[str | None, str | None]:
    """``'2024-03-04|P01'`` -> ``('P01', '2024-03-04')``; anything else -> (None, None)."""
    if partition and "|" in partition:
        day, plant = partition.split("|", 1)
        return plant, day
    return None, None


@dataclass(frozen=True)
class Alert:
    """One failure to send."""

    key: str
    """Stable identity: ``check:<record id>`` or ``run:<run id>``."""
    kind: str
    """``check`` or ``run``."""
    asset: str
    name: str
    """The check's name, or the failed step(s)."""
    severity: str
    plant: str | None
    day: str | None
    run_id: str
    description: str
    numbers: dict[str, Any] = field(default_factory=dict)
    partition: str | None = None

    @property
    def where(self) -> str:
        if self.plant and self.day:
            return f"plant {self.plant}, {self.day}"
        return "unpartitioned"

    def line(self, run_url: Callable[[str], str | None]) -> str:
        what = f"check {self.name}" if self.kind == "check" else f"run failed at {self.name}"
        numbers = ", ".join(f"{k}={v}" for k, v in list(self.numbers.items())[:NUMBERS_SHOWN])
        link = run_url(self.run_id) or (f"run {self.run_id}" if self.run_id else "no run")
        parts = [f"- [{self.severity}] {what} [{self.where}]"]
        if self.description:
            parts.append(self.description)
        if numbers:
            parts.append(f"failed: {numbers}")
        parts.append(link)
        return " | ".join(parts)

    def to_json(self, run_url: Callable[[str], str | None]) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "asset": self.asset,
            "name": self.name,
            "severity": self.severity,
            "plant_id": self.plant,
            "production_date": self.day,
            "partition": self.partition,
            "run_id": self.run_id,
            "run_url": run_url(self.run_id),
            "description": self.description,
            "numbers": self.numbers,
        }


def failed_numbers(metadata: dict[str, Any]) -> dict[str, Any]:
    """The measured numbers of an evaluation (its numeric metadata and short texts)."""
    out = {}
    for k, v in metadata.items():
        if k in CONTEXT_KEYS or k.startswith("dagster/"):
            continue
        if isinstance(v, bool) or not isinstance(v, int | float | str):
            continue
        if isinstance(v, str) and len(v) > 80:
            continue
        out[k] = v
    return out


def check_alert(evaluation: Evaluation) -> Alert:
    plant, day = split_partition(evaluation.partition)
    plant = plant or evaluation.metadata.get("plant_id")
    day = day or evaluation.metadata.get("production_date")
    return Alert(
        key=f"check:{evaluation.id}",
        kind="check",
        asset=evaluation.asset_key.to_user_string(),
        name=evaluation.check,
        severity=evaluation.severity,
        plant=plant,
        day=day,
        run_id=evaluation.run_id,
        description=evaluation.description,
        numbers=failed_numbers(evaluation.metadata),
        partition=evaluation.partition,
    )


def run_alert(failure: RunFailure) -> Alert:
    tags = failure.tags
    plant, day = split_partition(failure.partition)
    plant = plant or tags.get("dagster/partition/plant")
    day = day or tags.get("dagster/partition/date")
    numbers: dict[str, Any] = {"failed_steps": len(failure.steps)}
    if failure.partition_range:
        start, end = failure.partition_range
        numbers["partitions"] = f"{start}..{end}"
        plant = plant or split_partition(start)[0]
        day = day or f"{split_partition(start)[1]}..{split_partition(end)[1]}"
    steps = ", ".join(s.step for s in failure.steps) or "(no step)"
    errors = "; ".join(f"{s.step}: {s.error}" for s in failure.steps[:3]) or failure.message
    return Alert(
        key=f"run:{failure.run_id}",
        kind="run",
        asset=", ".join(failure.assets) or f"job {failure.job}",
        name=steps,
        severity="ERROR",
        plant=plant,
        day=day,
        run_id=failure.run_id,
        description=f"job {failure.job}: {errors}",
        numbers=numbers,
        partition=failure.partition,
    )


def message_id(alerts: Iterable[Alert]) -> str:
    return hashlib.sha256(dumps(sorted(a.key for a in alerts)).encode()).hexdigest()[:16]


def group_messages(
    alerts: list[Alert], run_url: Callable[[str], str | None], per_message: int = PER_MESSAGE
) -> list[tuple[Message, list[Alert]]]:
    """One message per asset and severity (``per_message`` alerts at most), in a stable
    order: ERROR first, then by asset."""
    groups: dict[tuple[str, str], list[Alert]] = {}
    for alert in alerts:
        groups.setdefault((alert.severity, alert.asset), []).append(alert)
    out = []
    for (severity, asset), members in sorted(
        groups.items(), key=lambda kv: (SEVERITY_ORDER.get(kv[0][0], 9), kv[0][1])
    ):
        chunks = [members[i : i + per_message] for i in range(0, len(members), per_message)]
        for n, chunk in enumerate(chunks, start=1):
            out.append((_message(severity, asset, chunk, run_url, n, len(chunks)), chunk))
    return out


def _message(
    severity: str,
    asset: str,
    alerts: list[Alert],
    run_url: Callable[[str], str | None],
    part: int,
    parts: int,
) -> Message:
    checks = sorted({a.name for a in alerts if a.kind == "check"})
    runs = [a for a in alerts if a.kind == "run"]
    places = sorted({a.where for a in alerts})
    what = []
    if checks:
        what.append(f"{len(alerts) - len(runs)} failed check(s) ({', '.join(checks)})")
    if runs:
        what.append(f"{len(runs)} failed run(s)")
    where = places[0] if len(places) == 1 else f"{len(places)} plant-days"
    suffix = f" (part {part}/{parts})" if parts > 1 else ""
    title = f"{' and '.join(what)} on {asset} [{where}]{suffix}"
    text = "\n".join(a.line(run_url) for a in alerts)
    return Message(
        id=message_id(alerts),
        title=title,
        text=text,
        severity=severity,
        asset=asset,
        alerts=[a.to_json(run_url) for a in alerts],
    )
