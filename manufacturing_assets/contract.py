"""Constants of the data contract (`shared/data-contract.md`), in one place."""

from __future__ import annotations

STREAMS = ("sensor_readings", "shots", "machine_events", "quality_inspections")

REFERENCE_ENTITIES: dict[str, tuple[str, ...]] = {
    "plants": ("plant_id", "plant_name", "region", "country", "timezone"),
    "lines": ("line_id", "plant_id", "line_name"),
    "machines": ("machine_id", "plant_id", "line_id", "machine_type", "tonnage"),
    "molds": ("mold_id", "cavities", "ideal_cycle_time_s", "supplier_id"),
    "parts": ("part_id", "part_name", "unit_cost", "unit_price", "customer_id"),
    "mold_parts": ("mold_id", "part_id"),
    "mold_assignments": ("machine_id", "mold_id", "valid_from", "valid_to"),
    "companies": ("company_id", "company_name", "company_type"),
}

# Section 3.1 / 5: sensor metrics and their valid ranges (bounds inclusive).
METRIC_RANGES: dict[str, tuple[float, float]] = {
    "temperature_c": (-40.0, 150.0),
    "humidity_pct": (0.0, 100.0),
    "pressure_bar": (0.0, 400.0),
    "vibration_mm_s": (0.0, 100.0),
}
CORE_METRICS = tuple(METRIC_RANGES)
SENTINELS = (9999.0, -9999.0, -999.0)
SENSOR_STATUSES = ("active", "idle", "faulty")

MACHINE_STATES = ("RUNNING", "IDLE", "DOWN", "SETUP", "PLANNED_STOP")
DEFAULT_STATE = "IDLE"

SHOT_MEASURES = (
    "cycle_time_s",
    "cushion_mm",
    "injection_pressure_bar",
    "melt_temp_c",
    "mold_temp_c",
    "shot_weight_g",
)

# Section 7: quarantine reasons, in the order they are tested (first that applies wins).
QUARANTINE_REASONS = (
    "malformed_record",
    "missing_machine_id",
    "missing_device_id",
    "missing_shot_id",
    "missing_part_id",
    "missing_ts",
    "unparseable_ts",
    "out_of_window",
    "invalid_state",
    "invalid_count",
)

# Bronze column prefixes for open-ended keys (design.md, "Bronze schemas").
METRIC_PREFIX = "metric__"
CONTENT_PREFIX = "content__"
