"""Configuration of the sample landing-zone generator and the constants it shares."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any


@dataclass(frozen=True)
class PlantSpec:
    """One plant of the generated factory network (master data `plants`)."""

    plant_id: str
    plant_name: str
    region: str
    country: str
    timezone: str  # IANA name


DEFAULT_PLANTS: tuple[PlantSpec, ...] = (
    PlantSpec("P01", "Berlin-Spandau Moulding Works", "EMEA", "DE", "Europe/Berlin"),
    PlantSpec("P02", "Chicago Molding Center", "AMER", "US", "America/Chicago"),
)

STREAMS: tuple[str, ...] = ("sensor_readings", "shots", "machine_events", "quality_inspections")

ENTITY_COLUMNS: dict[str, tuple[str, ...]] = {
    "plants": ("plant_id", "plant_name", "region", "country", "timezone"),
    "lines": ("line_id", "plant_id", "line_name"),
    "machines": ("machine_id", "plant_id", "line_id", "machine_type", "tonnage"),
    "molds": ("mold_id", "cavities", "ideal_cycle_time_s", "supplier_id"),
    "parts": ("part_id", "part_name", "unit_cost", "unit_price", "customer_id"),
    "mold_parts": ("mold_id", "part_id"),
    "mold_assignments": ("machine_id", "mold_id", "valid_from", "valid_to"),
    "companies": ("company_id", "company_name", "company_type"),
}
ENTITIES: tuple[str, ...] = tuple(ENTITY_COLUMNS)

METRICS: tuple[str, ...] = ("temperature_c", "humidity_pct", "pressure_bar", "vibration_mm_s")
METRIC_RANGES: dict[str, tuple[float, float]] = {
    "temperature_c": (-40.0, 150.0),
    "humidity_pct": (0.0, 100.0),
    "pressure_bar": (0.0, 400.0),
    "vibration_mm_s": (0.0, 100.0),
}
SENTINELS: tuple[int, ...] = (9999, -9999, -999)
SENSOR_STATUSES: tuple[str, ...] = ("active", "idle", "faulty")
MACHINE_STATES: tuple[str, ...] = ("RUNNING", "IDLE", "DOWN", "SETUP", "PLANNED_STOP")

SENSOR_CSV_BASE: tuple[str, ...] = (
    "device_id",
    "plant_id",
    "machine_id",
    "ts",
    "firmware",
    "status",
)
INSPECTION_COLUMNS: tuple[str, ...] = (
    "machine_id",
    "plant_id",
    "hour_start",
    "part_id",
    "inspected_count",
    "rejected_count",
    "defect_code",
)

# Bad-input kinds each stream receives (manifest names, described in bad_input/__init__.py).
RECORD_KINDS: dict[str, tuple[str, ...]] = {
    "sensor_readings": (
        "malformed_record",
        "missing_machine_id",
        "missing_device_id",
        "missing_ts",
        "unparseable_ts",
        "out_of_window",
        "midnight_skew",
        "ts_without_offset",
        "plant_mismatch",
        "duplicate_record",
        "numeric_string",
        "unparseable",
        "temperature_f",
        "unknown_metric",
        "invalid_status",
        "sentinel",
        "out_of_range",
    ),
    "shots": (
        "malformed_record",
        "missing_machine_id",
        "missing_shot_id",
        "missing_ts",
        "unparseable_ts",
        "out_of_window",
        "midnight_skew",
        "ts_without_offset",
        "plant_mismatch",
        "duplicate_record",
        "missing_mold_id",
        "unresolved_mold",
    ),
    "machine_events": (
        "malformed_record",
        "missing_machine_id",
        "missing_ts",
        "unparseable_ts",
        "out_of_window",
        "midnight_skew",
        "ts_without_offset",
        "plant_mismatch",
        "duplicate_record",
        "invalid_state",
    ),
    "quality_inspections": (
        "missing_machine_id",
        "missing_part_id",
        "missing_ts",
        "unparseable_ts",
        "out_of_window",
        "midnight_skew",
        "ts_without_offset",
        "plant_mismatch",
        "duplicate_record",
        "invalid_count",
    ),
}
FILE_KINDS: dict[str, tuple[str, ...]] = {
    "sensor_readings": ("duplicate_file", "corrupt_gzip", "not_json_file"),
    "shots": ("duplicate_file", "corrupt_gzip"),
    "machine_events": ("duplicate_file", "not_json_file"),
    "quality_inspections": ("duplicate_file", "empty_partition"),
}
BAD_INPUT_KINDS: dict[str, tuple[str, ...]] = {s: RECORD_KINDS[s] + FILE_KINDS[s] for s in STREAMS}


def _to_plant(value: Any) -> PlantSpec:
    if isinstance(value, PlantSpec):
        return value
    if isinstance(value, dict):
        return PlantSpec(**value)
    raise TypeError(f"plants must be PlantSpec or dict, got {type(value).__name__}")


@dataclass
class GeneratorConfig:
    """What to generate. Same config -> byte-identical landing zone.

    ``bad_per_kind`` is the (min, max) number of records per record-level bad-input
    kind (drawn with the seed; raised to the number of variants of the kind so that
    every variant appears). File-level kinds get one file each.
    """

    seed: int = 7
    start_date: date = date(2024, 3, 30)
    days: int = 3
    plants: tuple[PlantSpec, ...] = DEFAULT_PLANTS
    machines_per_plant: int = 4
    readings_per_machine_per_day: int = 288
    shots_per_machine_per_day: int = 200
    bad_input: bool = True
    bad_per_kind: tuple[int, int] = (2, 5)

    def __post_init__(self) -> None:
        if isinstance(self.start_date, str):
            self.start_date = date.fromisoformat(self.start_date)
        self.plants = tuple(_to_plant(p) for p in self.plants)
        self.bad_per_kind = (int(self.bad_per_kind[0]), int(self.bad_per_kind[1]))
        if self.days < 1:
            raise ValueError("days must be >= 1")
        if not self.plants:
            raise ValueError("at least one plant is required")
        if len({p.plant_id for p in self.plants}) != len(self.plants):
            raise ValueError("plant ids must be unique")
        if self.machines_per_plant < 1:
            raise ValueError("machines_per_plant must be >= 1")
        lo, hi = self.bad_per_kind
        if lo < 0 or hi < lo:
            raise ValueError("bad_per_kind must be (min, max) with 0 <= min <= max")

    @property
    def dates(self) -> list[date]:
        return [self.start_date + timedelta(days=i) for i in range(self.days)]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["start_date"] = self.start_date.isoformat()
        out["plants"] = [asdict(p) for p in self.plants]
        out["bad_per_kind"] = list(self.bad_per_kind)
        return out
