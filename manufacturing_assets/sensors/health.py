"""The ``plant_health`` sensor: ingestion stalled, landing backlog and late plant-days,
evaluated from the lake and the landing ledger (``ops/health.py``) and reported as check
evaluations of the landing zone (``checks/health.py``), each naming plant (and date), so they
reach the alerts (``check_failure_alerts``) and ``ops/data_quality_results``.

Reported when a verdict changes (a plant stalls, recovers ...), not at every tick: one alert
per incident. Silent devices are a plant-day check of ``silver/sensor_readings``, judged in
the step that materializes the plant-day (``checks/plant_day.SILENT_DEVICES``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from dagster import (
    AssetCheckEvaluation,
    AssetKey,
    DefaultSensorStatus,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from manufacturing_assets.checks.health import (
    INGESTION_STALLED,
    LANDING_BACKLOG,
    PLANT_DAY_COMPLETE,
    SEVERITY,
)
from manufacturing_assets.checks.landing_zone import LANDING_ZONE_KEY
from manufacturing_assets.environment import HealthSettings, Settings
from manufacturing_assets.ingest.reference import plant_timezones
from manufacturing_assets.io_managers.delta import DeltaLakeIOManager, read_delta, scan_delta
from manufacturing_assets.ops.health import (
    HISTORY_DAYS,
    Verdict,
    incomplete_plant_days,
    landing_backlog,
    running_plants,
    stalled_plants,
)
from manufacturing_assets.partitions import split_key
from manufacturing_assets.resources.ledger import REQUESTED, LandingLedger

SILVER_STREAMS = ("sensor_readings", "shots", "machine_events", "quality_inspections")
COMPLETENESS_DAYS = 7


def evaluation(check: str, verdict: Verdict, partition: str | None = None) -> AssetCheckEvaluation:
    return AssetCheckEvaluation(
        asset_key=LANDING_ZONE_KEY,
        check_name=check,
        passed=verdict.passed,
        severity=SEVERITY,
        metadata=verdict.metadata,
        description=verdict.description,
        partition=partition,
    )


def _lake(io_manager: Any, path: list[str], partitions: list[dict] | None = None, cols=None):
    lazy = scan_delta(io_manager.table_uri(path), io_manager.storage_options, partitions)
    if lazy is None:
        return None
    return (lazy.select(cols) if cols else lazy).collect()


def evaluate_health(
    context: SensorEvaluationContext,
    landing_ledger: LandingLedger,
    io_manager: Any,
    settings: HealthSettings,
    now: datetime | None = None,
) -> SensorResult | SkipReason:
    now = now or datetime.now(UTC)
    state = json.loads(context.cursor) if context.cursor else {}
    verdicts: dict[str, bool] = state.get("verdicts", {})
    events: list[AssetCheckEvaluation] = []

    def report(check: str, key: str, verdict: Verdict, partition: str | None = None) -> None:
        if verdicts.get(f"{check}|{key}") != verdict.passed:
            verdicts[f"{check}|{key}"] = verdict.passed
            events.append(evaluation(check, verdict, partition))

    ledger = landing_ledger.read()
    raw = ledger.filter((pl.col("kind") == "raw") & pl.col("status").is_in(list(REQUESTED)))

    # landing backlog: files older than the threshold that no bronze row has as source
    cutoff = now - timedelta(minutes=settings.backlog_minutes)
    old = raw.filter(pl.col("first_seen") <= cutoff)
    in_bronze: set[str] = set()
    for stream in sorted(set(old["stream"].drop_nulls())):
        rows = old.filter(pl.col("stream") == stream)
        parts = [
            {"plant_id": p, "landing_date": d}
            for p, d in rows.select("plant_id", "landing_date").unique().iter_rows()
        ]
        frame = _lake(io_manager, ["bronze", stream], parts, ["source"])
        if frame is not None:
            in_bronze |= set(frame["source"].unique())
    for plant, verdict in landing_backlog(
        raw, in_bronze, now, timedelta(minutes=settings.backlog_minutes)
    ).items():
        report(LANDING_BACKLOG, plant, verdict)

    # ingestion stalled: plants whose machines are scheduled to run
    since = (now - timedelta(days=HISTORY_DAYS)).date().isoformat()
    machine_events = read_delta(
        io_manager.table_uri(["silver", "machine_events"]),
        io_manager.storage_options,
        f"production_date >= '{since}'",
    )
    scheduled = running_plants(
        machine_events.select("plant_id", "machine_id", "ts", "state")
        if machine_events is not None
        else pl.DataFrame()
    )
    for plant, verdict in stalled_plants(
        raw, scheduled, now, timedelta(minutes=settings.stall_minutes)
    ).items():
        report(INGESTION_STALLED, plant, verdict)

    # plant-days not complete in time (every silver stream materialized)
    plants = read_delta(io_manager.table_uri(["reference", "plants"]), io_manager.storage_options)
    zones = plant_timezones(plants) if plants is not None else {}
    today = now.date()
    expected = [
        (plant, today - timedelta(days=n)) for plant in zones for n in range(1, COMPLETENESS_DAYS)
    ]
    done: set | None = None
    for stream in SILVER_STREAMS:
        keys = context.instance.get_materialized_partitions(AssetKey(["silver", stream]))
        got = {split_key(k) for k in keys}
        done = got if done is None else done & got
    for (plant, day), verdict in incomplete_plant_days(
        expected, done or set(), zones, now, timedelta(hours=settings.complete_after_hours)
    ).items():
        report(PLANT_DAY_COMPLETE, f"{plant}|{day}", verdict)

    state["verdicts"] = verdicts
    context.update_cursor(json.dumps(state, sort_keys=True))
    if not events:
        return SkipReason("no change in the health of plants and plant-days")
    failing = [e for e in events if not e.passed]
    context.log.info(f"{len(events)} health evaluation(s), {len(failing)} failing")
    return SensorResult(asset_events=events)


def build_health_sensor(
    settings: Settings | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
):
    health = (settings or Settings.from_env()).health

    @sensor(
        name="plant_health",
        minimum_interval_seconds=60,
        default_status=default_status,
        description=(
            "Ingestion stalled, landing backlog and late plant-days (thresholds: "
            "MA_STALL_MINUTES, MA_BACKLOG_MINUTES, MA_COMPLETE_AFTER_HOURS), reported as "
            "checks of landing_zone when they change."
        ),
    )
    def plant_health(
        context: SensorEvaluationContext,
        landing_ledger: LandingLedger,
        io_manager: DeltaLakeIOManager,
    ):
        return evaluate_health(context, landing_ledger, io_manager, health)

    return plant_health
