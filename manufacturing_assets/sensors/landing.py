"""Landing sensor: new files in the landing zone -> runs of exactly the bronze partitions they touch.

Each tick reads the **ledger** of files already seen (``resources/ledger.py``: an append-only
Delta table under the lake root, ``_system/landing_ledger``, local or ``s3://``; it grows
without bound, unlike a sensor cursor), lets the tick planner decide (``plan_tick`` in
``ingest/landing_plan.py``: which files are new or changed by key and content, duplicates,
already in the lake, or unroutable, and the ``bronze/<stream>`` and ``reference/<entity>``
run requests), appends the tick's rows to the ledger and returns the run requests with the
new ``plant`` dynamic partitions in one ``SensorResult``.

Files the platform cannot route are logged (each once, when first seen) and counted by the
check ``landing_zone`` / ``unroutable_files`` (WARN), which the sensor evaluates whenever the
list of such files changes (``SensorResult(asset_events=[AssetCheckEvaluation])``).

The cursor holds the number of the last tick whose result Dagster accepted and a digest of
the unroutable files last reported; ledger rows of a later tick (a tick that wrote the ledger
and then died) are replayed by the planner with the same run keys, and Dagster drops run
requests whose run key it has already seen.

Downstream layers (silver D-1..D+1, quarantine, gold, marts) follow through the asset graph:
their assets carry ``plant_day_automation_condition`` (``automation.py``), evaluated by the
automation condition sensor (``plant_day_automation``), so a late file for an old date
recomputes that date's bronze, then every silver date whose window includes it, then their
gold. See ``docs/ingestion.md``.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import polars as pl
from dagster import (
    AddDynamicPartitionsRequest,
    DefaultSensorStatus,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from manufacturing_assets.checks.landing_zone import unroutable_files_evaluation
from manufacturing_assets.ingest.landing_plan import BRONZE_KEYS, REFERENCE_KEYS, Lake, plan_tick
from manufacturing_assets.ingest.routing import describe
from manufacturing_assets.partitions import PLANT_DIMENSION
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets.resources.ledger import IGNORED, LEDGER_PATH, OUT_OF_RANGE, LandingLedger

LANDING_SENSOR_NAME = "landing_sensor"


def _parse_cursor(cursor: str | None) -> tuple[int | None, str | None]:
    """``(acked tick, digest of the unroutable files last reported)``."""
    if not cursor:
        return None, None
    try:
        state = json.loads(cursor)
        acked = int(state["acked_tick"])
    except (ValueError, KeyError, TypeError):
        return None, None
    digest = state.get("unroutable") if isinstance(state, dict) else None
    return acked, digest if isinstance(digest, str) else None


def _storage_options(ledger: LandingLedger) -> dict[str, str]:
    opts: Any = getattr(ledger, "storage_options", None)
    if callable(opts):
        opts = opts()
    return dict(opts or {})


def lake_of(ledger: LandingLedger) -> Lake | None:
    """The lake the ledger lives in (``<lake root>/_system/landing_ledger``, same storage
    options): where the planner looks for files already ingested. None for a ledger
    elsewhere (then every new file is processed)."""
    uri = ledger.uri.rstrip("/")
    suffix = "/" + LEDGER_PATH
    if not uri.endswith(suffix):
        return None
    return Lake(uri[: -len(suffix)], _storage_options(ledger))


def _unroutable_digest(unroutable: list[tuple[str, str]]) -> str:
    h = hashlib.sha256()
    for key, reason in unroutable:
        h.update(f"{key}\t{reason}\n".encode())
    return h.hexdigest()[:16]


def evaluate_landing(
    context: SensorEvaluationContext, landing: LandingZone, ledger: LandingLedger
) -> SensorResult:
    """The landing sensor's evaluation (also used by the benchmark)."""
    started = time.perf_counter()
    acked, reported = _parse_cursor(context.cursor)
    state = ledger.read()
    plan = plan_tick(landing, state, context.instance, acked, lake=lake_of(ledger))
    ledger.append(plan.rows)
    summary = f"{plan.summary()} ({time.perf_counter() - started:.2f}s)"
    context.log.info(summary)
    for key, problems in sorted(plan.refused_plants.items()):
        context.log.error(
            f"{landing.describe(key)}: plants snapshot refused, no partitions added from it: "
            + "; ".join(problems[:20])
        )
    skipped = plan.rows.filter(pl.col("status").is_in([IGNORED, OUT_OF_RANGE]))
    if skipped.height:
        lines = describe(list(zip(skipped["key"], skipped["detail"], strict=True)))
        context.log.warning(
            f"{skipped.height} new file(s) cannot be routed and are not processed:\n  "
            + "\n  ".join(lines)
        )
    digest = _unroutable_digest(plan.unroutable)
    events = [unroutable_files_evaluation(plan.unroutable)] if digest != reported else []
    # Acknowledge this tick (or, with nothing written, everything in the ledger so far).
    cursor = json.dumps(
        {"acked_tick": plan.tick if plan.rows.height else plan.tick - 1, "unroutable": digest}
    )
    dynamic = (
        [AddDynamicPartitionsRequest(PLANT_DIMENSION, plan.new_plants)] if plan.new_plants else []
    )
    if not plan.run_requests:
        return SensorResult(
            skip_reason=summary,
            cursor=cursor,
            dynamic_partitions_requests=dynamic,
            asset_events=events,
        )
    return SensorResult(
        run_requests=plan.run_requests,
        cursor=cursor,
        dynamic_partitions_requests=dynamic,
        asset_events=events,
    )


def build_landing_sensor(default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED):
    @sensor(
        name=LANDING_SENSOR_NAME,
        minimum_interval_seconds=30,
        default_status=default_status,
        target=[*BRONZE_KEYS.values(), *REFERENCE_KEYS.values()],
        description=(
            "Lists the landing zone, records every object in the ledger (<lake>/_system/"
            "landing_ledger) and requests bronze/<stream> for each plant x landing date touched by "
            "new or changed files (by key and content, never by timestamps), reference/<entity> "
            "for new snapshots; adds the plants of accepted plants snapshots as partitions; "
            "re-deliveries of the same content are recorded as duplicates, files the lake "
            "already holds as already ingested, and files that cannot be routed are logged and "
            "reported by the check landing_zone:unroutable_files."
        ),
    )
    def landing_sensor(
        context: SensorEvaluationContext, landing: LandingZone, landing_ledger: LandingLedger
    ) -> SensorResult:
        return evaluate_landing(context, landing, landing_ledger)

    return landing_sensor


landing_sensor = build_landing_sensor()
