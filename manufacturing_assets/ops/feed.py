"""Every asset-check evaluation and every run failure of the instance, each read once.

Check evaluations are read from the instance's asset-check execution records
(``event_log_storage.get_asset_check_execution_history``), page by page until the cursor:
never "the newest N" (the defect of the first alert sensor: 250 failures in one tick gave
200 alerts). An execution record is created when a run *plans* a check and updated in place
when the check is evaluated, so record ids are not in evaluation order: the cursor of a check
is a watermark (every id at or below it is handled) plus the ids above it already handled,
kept while a run that planned the check below them is still running. A check planned by a
run that ended without evaluating it is skipped: the run's failure is its own alert.

The global event log cannot be read by event type on the default SQLite storage (it is
sharded per run), which is why the per-check execution records are the source.

Run failures come from ``DagsterInstance.fetch_run_status_changes(RUN_FAILURE)`` (indexed on
every storage) with its own string cursor, paged until exhausted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from dagster import AssetCheckEvaluation, AssetCheckKey, AssetKey, DagsterInstance
from dagster._core.events import DagsterEventType
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

PAGE = 500
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def plain(value: Any) -> Any:
    """A metadata value as JSON-safe Python (numbers, text, lists, dicts)."""
    value = getattr(value, "value", value)
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return str(value)


@dataclass(frozen=True)
class Evaluation:
    """One evaluated asset check (a plant-day's, or an unpartitioned one)."""

    id: int
    """The execution record's id: unique in the instance."""
    asset_key: AssetKey
    check: str
    partition: str | None
    run_id: str
    passed: bool
    severity: str
    description: str
    metadata: dict[str, Any]
    timestamp: float

    @property
    def check_key(self) -> AssetCheckKey:
        return AssetCheckKey(self.asset_key, self.check)


@dataclass
class CheckCursor:
    watermark: int = 0
    done: set[int] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {"w": self.watermark, "done": sorted(self.done)}

    @classmethod
    def from_json(cls, value: Any) -> CheckCursor:
        if isinstance(value, int):  # the first sensor's cursor: the last record id
            return cls(value)
        return cls(int(value.get("w", 0)), set(value.get("done", [])))


def _records_after(instance: DagsterInstance, key: AssetCheckKey, watermark: int) -> list[Any]:
    """Every execution record of ``key`` with an id above ``watermark``, ascending."""
    out: list[Any] = []
    before: int | None = None
    while True:
        page = instance.event_log_storage.get_asset_check_execution_history(
            check_key=key, limit=PAGE, cursor=before
        )
        newer = [r for r in page if r.id > watermark]
        out.extend(newer)
        if len(page) < PAGE or len(newer) < len(page):
            break
        before = page[-1].id
    return sorted(out, key=lambda r: r.id)


def _evaluation(record: Any, key: AssetCheckKey) -> Evaluation | None:
    entry = record.event
    data = entry.dagster_event.event_specific_data if entry and entry.dagster_event else None
    if not isinstance(data, AssetCheckEvaluation):
        return None
    return Evaluation(
        id=record.id,
        asset_key=key.asset_key,
        check=key.name,
        partition=record.partition or data.partition,
        run_id=record.run_id,
        passed=bool(data.passed),
        severity=data.severity.value,
        description=data.description or "",
        metadata={k: plain(v) for k, v in (data.metadata or {}).items()},
        timestamp=float(entry.timestamp),
    )


def new_evaluations(
    instance: DagsterInstance, check_keys: Iterable[AssetCheckKey], cursor: Mapping[str, Any]
) -> tuple[list[Evaluation], dict[str, Any]]:
    """Evaluations not yet handled by ``cursor`` (check -> watermark JSON), oldest first
    per check, and the cursor after them."""
    out: list[Evaluation] = []
    new_cursor: dict[str, Any] = dict(cursor)
    finished: dict[str, bool] = {}

    def run_finished(run_id: str) -> bool:
        if run_id not in finished:
            run = instance.get_run_by_id(run_id) if run_id else None
            finished[run_id] = run is None or run.is_finished
        return finished[run_id]

    for key in check_keys:
        name = key.to_user_string()
        state = CheckCursor.from_json(cursor.get(name, 0))
        waiting: int | None = None  # lowest id planned by a run still going
        handled = set(state.done)
        top = state.watermark
        for record in _records_after(instance, key, state.watermark):
            top = max(top, record.id)
            if record.id in state.done:
                continue
            if record.status == AssetCheckExecutionRecordStatus.PLANNED:
                if not run_finished(record.run_id):
                    waiting = record.id if waiting is None else min(waiting, record.id)
                    continue
                handled.add(record.id)  # planned, never evaluated: the run failure says why
                continue
            handled.add(record.id)
            evaluation = _evaluation(record, key)
            if evaluation is not None:
                out.append(evaluation)
        if waiting is None:
            state = CheckCursor(top)
        else:
            mark = waiting - 1
            state = CheckCursor(mark, {i for i in handled if i > mark})
        new_cursor[name] = state.to_json()
    return out, new_cursor


# ---------------------------------------------------------------- run failures


@dataclass(frozen=True)
class StepFailure:
    step: str
    error: str
    assets: tuple[str, ...]


@dataclass(frozen=True)
class RunFailure:
    id: int
    """Storage id of the RUN_FAILURE event."""
    run_id: str
    job: str
    message: str
    steps: tuple[StepFailure, ...]
    tags: dict[str, str]
    assets: tuple[str, ...]
    timestamp: float

    @property
    def partition(self) -> str | None:
        return self.tags.get("dagster/partition")

    @property
    def partition_range(self) -> tuple[str, str] | None:
        start, end = self.tags.get(RANGE_START), self.tags.get(RANGE_END)
        return (start, end) if start and end else None


def _first_line(text: str, limit: int = 300) -> str:
    """The error's text on one line (whitespace collapsed), at most ``limit`` characters."""
    return " ".join((text or "").split())[:limit]


def _root_message(error: Any) -> str:
    """The innermost cause's message (the user's exception, not Dagster's wrapper)."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return getattr(error, "message", "") or ""


def _run_failure(instance: DagsterInstance, record: Any) -> RunFailure:
    run_id = record.run_id
    run = instance.get_run_by_id(run_id)
    planned: dict[str, list[str]] = {}
    kinds = {
        DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
        DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED,
    }
    for entry in instance.all_logs(run_id, of_type=kinds):
        event = entry.dagster_event
        data = event.event_specific_data if event else None
        asset_key = (event.asset_key if event else None) or getattr(data, "asset_key", None)
        if asset_key is not None and entry.step_key:
            planned.setdefault(entry.step_key, []).append(asset_key.to_user_string())
    steps = []
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE):
        data = entry.dagster_event.event_specific_data if entry.dagster_event else None
        error = getattr(data, "error", None)
        text = _root_message(error) if error else ""
        steps.append(
            StepFailure(
                step=entry.step_key or "?",
                error=_first_line(text) or "failed",
                assets=tuple(sorted(set(planned.get(entry.step_key or "", [])))),
            )
        )
    data = record.event_log_entry.dagster_event.event_specific_data
    error = getattr(data, "error", None)
    message = record.event_log_entry.dagster_event.message or ""
    if error is not None and getattr(error, "message", None):
        message = _first_line(error.message)
    assets = sorted({a for s in steps for a in s.assets}) or sorted(
        k.to_user_string() for k in ((run.asset_selection or set()) if run else set())
    )
    return RunFailure(
        id=record.storage_id,
        run_id=run_id,
        job=run.job_name if run else "?",
        message=_first_line(message),
        steps=tuple(steps),
        tags=dict(run.tags) if run else {},
        assets=tuple(assets),
        timestamp=float(record.event_log_entry.timestamp),
    )


def new_run_failures(
    instance: DagsterInstance, cursor: str | None
) -> tuple[list[RunFailure], str | None]:
    """Run failures after ``cursor`` (``fetch_run_status_changes``), oldest first."""
    out: list[RunFailure] = []
    while True:
        result = instance.fetch_run_status_changes(
            DagsterEventType.RUN_FAILURE, limit=PAGE, cursor=cursor, ascending=True
        )
        out.extend(_run_failure(instance, r) for r in result.records)
        if result.records:
            cursor = result.cursor
        if not result.has_more or not result.records:
            return out, cursor


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
