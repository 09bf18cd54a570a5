"""Landing sensor: new files in the landing zone -> runs of exactly the bronze partitions they touch.

Each tick reads the **ledger** of files already seen (``resources/ledger.py``: an append-only
Delta table under the lake root, ``_system/landing_ledger``, local or ``s3://``; it grows
without bound, unlike a sensor cursor), lets the tick planner decide (``plan_tick`` in
``ingest/landing_plan.py``: which files are new, duplicates or already ingested, and the
``bronze/<stream>`` and ``reference/<entity>`` run requests), appends the tick's rows to
the ledger and returns the run requests with the new ``plant`` dynamic partitions in one
``SensorResult``.

The cursor only holds the number of the last tick whose result Dagster accepted; ledger rows
of a later tick (a tick that wrote the ledger and then died) are replayed by the planner
with the same run keys, and Dagster drops run requests whose run key it has already seen.

Downstream layers (silver D-1..D+1, quarantine, gold, marts) follow through the asset graph:
their assets carry ``plant_day_automation_condition`` (``automation.py``), evaluated by the
automation condition sensor (``plant_day_automation``), so a late file for an old date
recomputes that date's bronze, then every silver date whose window includes it, then their
gold. See ``docs/ingestion.md``.
"""

from __future__ import annotations

import json
import time

from dagster import (
    AddDynamicPartitionsRequest,
    DefaultSensorStatus,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from manufacturing_assets.ingest.landing_plan import BRONZE_KEYS, REFERENCE_KEYS, plan_tick
from manufacturing_assets.partitions import PLANT_DIMENSION
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets.resources.ledger import LandingLedger

LANDING_SENSOR_NAME = "landing_sensor"


def _parse_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        return int(json.loads(cursor)["acked_tick"])
    except (ValueError, KeyError, TypeError):
        return None


def evaluate_landing(
    context: SensorEvaluationContext, landing: LandingZone, ledger: LandingLedger
) -> SensorResult:
    """The landing sensor's evaluation (also used by the benchmark)."""
    started = time.perf_counter()
    acked = _parse_cursor(context.cursor)
    state = ledger.read()
    plan = plan_tick(landing, state, context.instance, acked)
    ledger.append(plan.rows)
    summary = f"{plan.summary()} ({time.perf_counter() - started:.2f}s)"
    context.log.info(summary)
    # Acknowledge this tick (or, with nothing written, everything in the ledger so far).
    cursor = json.dumps({"acked_tick": plan.tick if plan.rows.height else plan.tick - 1})
    dynamic = (
        [AddDynamicPartitionsRequest(PLANT_DIMENSION, plan.new_plants)] if plan.new_plants else []
    )
    if not plan.run_requests:
        return SensorResult(skip_reason=summary, cursor=cursor, dynamic_partitions_requests=dynamic)
    return SensorResult(
        run_requests=plan.run_requests, cursor=cursor, dynamic_partitions_requests=dynamic
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
            "new files, reference/<entity> for new snapshots; adds new plants as partitions; "
            "re-deliveries of the same content are recorded as duplicates and not processed."
        ),
    )
    def landing_sensor(
        context: SensorEvaluationContext, landing: LandingZone, landing_ledger: LandingLedger
    ) -> SensorResult:
        return evaluate_landing(context, landing, landing_ledger)

    return landing_sensor


landing_sensor = build_landing_sensor()
