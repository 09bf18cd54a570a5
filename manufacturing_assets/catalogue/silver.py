"""Silver: parsed, validated, de-duplicated, conformed. Partition = plant x production date.

Silver for date D reads bronze D-1..D+1 and keeps the records whose production date is D
(contract 2, 5, 7); rejected records go to `quarantine/<stream>` (``catalogue/quarantine.py``).
"""

from __future__ import annotations

from manufacturing_assets.catalogue.columns import (
    MACHINE,
    PLANT,
    PRODUCTION_DATE,
    SILVER_LINEAGE,
)
from manufacturing_assets.catalogue.model import (
    BOOL,
    FLOAT,
    INT,
    STRING,
    UTC_TS,
    Column,
    Table,
    columns,
)
from manufacturing_assets.contract import MACHINE_STATES, METRIC_RANGES

METRIC_UNITS = {
    "temperature_c": "Degrees Celsius",
    "humidity_pct": "Relative humidity, percent",
    "pressure_bar": "Pressure, bar",
    "vibration_mm_s": "Vibration velocity, mm/s",
}

SENSOR_READINGS = Table(
    layer="silver",
    name="sensor_readings",
    description=(
        "Validated sensor readings, one row per (device_id, ts) instant: metrics as numbers "
        "(numeric strings parsed, Fahrenheit converted, sentinels nulled), `is_valid` false when "
        "a metric is out of range, `flags` naming every issue, unknown metrics kept as extra "
        "columns, lineage to the landed file and line. Contract 3.1, 5, 7."
    ),
    columns=columns(
        PLANT,
        PRODUCTION_DATE,
        Column("device_id", STRING, "Sensor device.", nullable=False),
        MACHINE.but(description="Machine the device is mounted on."),
        Column("ts", UTC_TS, "Reading time, UTC (microseconds).", nullable=False),
        Column("firmware", STRING, "Device firmware as sent."),
        Column("status", STRING, "active, idle or faulty; anything else is flagged."),
        Column(
            "temperature_from_f",
            BOOL,
            "Temperature was sent in Fahrenheit and converted.",
            nullable=False,
        ),
        (
            Column(m, FLOAT, f"{unit} (null: missing, sentinel or unparseable).")
            for m, unit in METRIC_UNITS.items()
        ),
        Column("is_valid", BOOL, "False only when a metric is out of its range.", nullable=False),
        Column(
            "flags",
            STRING,
            "Comma-separated flags, e.g. `sentinel:pressure_bar`, `invalid_status`.",
            nullable=False,
        ),
        SILVER_LINEAGE,
    ),
    unique=("device_id", "ts"),
    open_columns="unknown metrics (e.g. `spindle_rpm`) promoted to Float64 columns",
    domain="sensors",
    tags={"stream": "sensor_readings"},
)
assert tuple(METRIC_UNITS) == tuple(METRIC_RANGES)

SHOT_MEASURE_UNITS = {
    "cycle_time_s": "Cycle time, s.",
    "cushion_mm": "Cushion, mm.",
    "injection_pressure_bar": "Injection pressure, bar.",
    "melt_temp_c": "Melt temperature, degrees C.",
    "mold_temp_c": "Mold temperature, degrees C.",
    "shot_weight_g": "Shot weight, g.",
}

SHOTS = Table(
    layer="silver",
    name="shots",
    description=(
        "Validated injection-moulding shots, one row per shot_id and production date: the six "
        "content measures as numbers (unknown content keys kept as extra columns), the mold "
        "resolved (explicit mold_id, else the mold_assignments interval mounted at ts, from the "
        "snapshot valid for the production date; `unresolved_mold` when neither), `flags`, "
        "`deliveries` and lineage. Contract 3.2, 5, 7."
    ),
    columns=columns(
        PLANT,
        PRODUCTION_DATE,
        Column("shot_id", STRING, "Shot id.", nullable=False),
        MACHINE,
        Column("ts", UTC_TS, "Shot time, UTC (microseconds).", nullable=False),
        Column("mold_id", STRING, "Resolved mold (explicit, else mounted at ts); null if none."),
        Column(
            "mold_source",
            STRING,
            "'explicit' (sent with the shot) or 'assignment' (mold_assignments).",
            isin=("explicit", "assignment"),
        ),
        (Column(m, FLOAT, d) for m, d in SHOT_MEASURE_UNITS.items()),
        Column("is_resolved", BOOL, "A mold was resolved.", nullable=False),
        Column(
            "flags",
            STRING,
            "Comma-separated: unparseable_content, unparseable:<measure>, plant_mismatch, "
            "unresolved_mold.",
            nullable=False,
        ),
        SILVER_LINEAGE,
    ),
    unique=("production_date", "shot_id"),
    open_columns="unknown content keys promoted to Float64 columns",
    tags={"stream": "shots"},
)

MACHINE_EVENTS = Table(
    layer="silver",
    name="machine_events",
    description=(
        "Validated machine state changes, one row per (machine_id, ts instant): state in "
        "RUNNING/IDLE/DOWN/SETUP/PLANNED_STOP, reason_code, `flags`, `deliveries` and lineage. "
        "Contract 3.3, 5, 7."
    ),
    columns=columns(
        PLANT,
        PRODUCTION_DATE,
        MACHINE,
        Column("ts", UTC_TS, "State change time, UTC.", nullable=False),
        Column("state", STRING, "New state.", nullable=False, isin=MACHINE_STATES),
        Column("reason_code", STRING, "Reason, e.g. HEATER_FAULT."),
        Column("flags", STRING, "Comma-separated flags (plant_mismatch).", nullable=False),
        SILVER_LINEAGE,
    ),
    unique=("machine_id", "ts"),
    tags={"stream": "machine_events"},
)

QUALITY_INSPECTIONS = Table(
    layer="silver",
    name="quality_inspections",
    description=(
        "Validated quality inspections, one row per (machine_id, hour_start instant, part_id): "
        "hour_start in UTC, its plant-local date as production date, integer counts, "
        "`flags` and lineage. Contract 3.4, 5, 7."
    ),
    columns=columns(
        PLANT,
        PRODUCTION_DATE.but(description="Plant-local date of `hour_start` (partition)."),
        MACHINE,
        Column("hour_start", UTC_TS, "Inspected hour, UTC.", nullable=False),
        Column("part_id", STRING, "Part.", nullable=False),
        Column("inspected_count", INT, "Parts inspected.", nullable=False, ge=0),
        Column("rejected_count", INT, "Parts rejected.", nullable=False, ge=0),
        Column("defect_code", STRING, "Main defect, e.g. SHORT_SHOT."),
        Column(
            "flags",
            STRING,
            "Comma-separated: rejected_exceeds_inspected, plant_mismatch.",
            nullable=False,
        ),
        SILVER_LINEAGE,
    ),
    unique=("machine_id", "hour_start", "part_id"),
    tags={"stream": "quality_inspections"},
)

MACHINE_STATE_INTERVALS = Table(
    layer="silver",
    name="machine_state_intervals",
    description=(
        "Machine state intervals per plant-local day: each event's state lasts until the "
        "machine's next event, clipped at local midnight (day length 82,800 / 90,000 s on DST "
        "days); the day starts in the machine's last state before it, however many days back "
        "(`carried_over`; IDLE if it never reported). Machines: any event, shot or inspection "
        "that day, or any earlier event. Reads silver events of D-1..D (declared) and older "
        "events straight from the silver Delta table. Contract 3.3, 7."
    ),
    columns=columns(
        PLANT.but(description="Plant (partition)."),
        PRODUCTION_DATE.but(description="Plant-local day (partition)."),
        MACHINE,
        Column("state", STRING, "State during the interval.", nullable=False, isin=MACHINE_STATES),
        Column("reason_code", STRING, "Reason of the event that set it."),
        Column("start_ts", UTC_TS, "Interval start, UTC.", nullable=False),
        Column("end_ts", UTC_TS, "Interval end (exclusive), UTC.", nullable=False),
        Column(
            "duration_s",
            FLOAT,
            "end_ts - start_ts in seconds (UTC instants).",
            nullable=False,
            gt=0,
            le=90_000,
        ),
        Column(
            "carried_over",
            BOOL,
            "Starts at local midnight with the state carried from before the day.",
            nullable=False,
        ),
    ),
    unique=("plant_id", "machine_id", "start_ts"),
    tags={"stream": "machine_events"},
)

SILVER = {
    t.name: t
    for t in (SENSOR_READINGS, SHOTS, MACHINE_EVENTS, QUALITY_INSPECTIONS, MACHINE_STATE_INTERVALS)
}
