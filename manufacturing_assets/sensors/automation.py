"""The automation condition sensor: carries landing-sensor bronze runs downstream."""

from __future__ import annotations

from dagster import AssetSelection, AutomationConditionSensorDefinition, DefaultSensorStatus


def build_automation_sensor(
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
) -> AutomationConditionSensorDefinition:
    """The automation condition sensor that carries bronze updates downstream."""
    return AutomationConditionSensorDefinition(
        "plant_day_automation",
        target=AssetSelection.all(),
        default_status=default_status,
        minimum_interval_seconds=30,
        description=(
            "Evaluates automation conditions: recomputes silver D-1..D+1, quarantine, gold and "
            "marts after the landing sensor's bronze runs (late files included)."
        ),
    )
