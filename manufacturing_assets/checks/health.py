"""Health checks of the landing zone, evaluated by the ``plant_health`` sensor
(``sensors/health.py``; rules in ``ops/health.py``), never inside a run.

They are declared here so the UI lists them and their evaluations reach the alerts and the
data-quality history. They belong to the landing zone (an external asset no job
materializes): a check declared on ``silver/sensor_readings`` would be executed by every
``plant_day_job`` run and by the automation sensor, while these rules need the clock, the
ledger or the whole landing zone. Each evaluation names its plant (and plant-day) in its
metadata. Silent devices are a plant-day check of ``silver/sensor_readings``
(``checks/plant_day.SILENT_DEVICES``), judged in the step that materializes the plant-day.
"""

from __future__ import annotations

from dagster import AssetCheckSeverity, Failure, asset_check

from manufacturing_assets.checks.landing_zone import LANDING_ZONE_KEY

SEVERITY = AssetCheckSeverity.WARN
INGESTION_STALLED = "ingestion_stalled"
LANDING_BACKLOG = "landing_backlog"
PLANT_DAY_COMPLETE = "plant_day_complete"

DESCRIPTIONS = {
    INGESTION_STALLED: (
        "No file landed for a plant for more than MA_STALL_MINUTES (15) while at least one of "
        "its machines is scheduled to run (last known state not PLANNED_STOP)."
    ),
    LANDING_BACKLOG: (
        "Files landed more than MA_BACKLOG_MINUTES (60) ago and not yet in bronze (no bronze "
        "row has them as source)."
    ),
    PLANT_DAY_COMPLETE: (
        "Every silver stream of a plant-day is materialized within MA_COMPLETE_AFTER_HOURS (6) "
        "after the plant's local day ends."
    ),
}


def _declared(name: str):
    @asset_check(
        asset=LANDING_ZONE_KEY,
        name=name,
        description=DESCRIPTIONS[name] + " Evaluated by the plant_health sensor.",
        metadata={"severity": SEVERITY.value, "evaluated_by": "sensor plant_health"},
    )
    def _check():
        raise Failure(
            f"{name} is evaluated by the plant_health sensor (it needs the clock and the landing "
            "ledger): start or tick that sensor instead."
        )

    return _check


health_checks = [_declared(n) for n in (INGESTION_STALLED, LANDING_BACKLOG, PLANT_DAY_COMPLETE)]
