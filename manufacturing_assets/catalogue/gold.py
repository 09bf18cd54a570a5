"""Gold: the numbers plant engineers read (contract section 6). Partition = plant x production date."""

from __future__ import annotations

from manufacturing_assets.catalogue.columns import MACHINE, PLANT, PRODUCTION_DATE
from manufacturing_assets.catalogue.model import (
    FLOAT,
    INT,
    STRING,
    UTC_TS,
    Column,
    Table,
    columns,
)
from manufacturing_assets.contract import METRIC_RANGES

_PLANT = PLANT.but(description="Plant (partition).")
_DAY = PRODUCTION_DATE.but(description="Plant-local production date (partition).")
_HOUR = Column("hour_start_utc", UTC_TS, "UTC floor of the event time (the hour).", nullable=False)
_STATS = {"avg": "Mean", "min": "Min", "max": "Max"}

SENSOR_HOURLY = Table(
    layer="gold",
    name="sensor_hourly",
    description=(
        "Hourly sensor statistics per plant, machine and UTC hour (contract 6.1): `readings`, "
        "`valid_readings`, avg/min/max of every metric over its in-range values, and the 95th "
        "percentile of vibration (linear interpolation)."
    ),
    columns=columns(
        _PLANT,
        _DAY,
        MACHINE,
        _HOUR,
        Column("readings", INT, "Rows in silver for the hour.", nullable=False, ge=1),
        Column("valid_readings", INT, "Rows with is_valid.", nullable=False, ge=0),
        (
            Column(f"{m}_{s}", FLOAT, f"{what} of the hour's in-range values.", ge=lo, le=hi)
            for m, (lo, hi) in METRIC_RANGES.items()
            for s, what in _STATS.items()
        ),
        Column(
            "vibration_mm_s_p95",
            FLOAT,
            "95th percentile of in-range vibration (linear interpolation).",
            ge=METRIC_RANGES["vibration_mm_s"][0],
            le=METRIC_RANGES["vibration_mm_s"][1],
        ),
    ),
    unique=("plant_id", "production_date", "machine_id", "hour_start_utc"),
    domain="sensors",
)

OEE_DAILY = Table(
    layer="gold",
    name="oee_daily",
    description=(
        "OEE per plant, machine and production date (contract 6.2, 7): planned time (day length "
        "in UTC instants minus PLANNED_STOP), run time, availability, shots (unresolved ones "
        "counted apart), total parts (mold cavities), ideal time, performance (not capped), "
        "rejected/good parts, quality and OEE; null ratios where a denominator is 0. One row per "
        "machine with a silver event, shot or inspection that day."
    ),
    columns=columns(
        _PLANT,
        _DAY,
        MACHINE,
        Column(
            "planned_time_s",
            FLOAT,
            "Day length (UTC instants) minus PLANNED_STOP time.",
            nullable=False,
            ge=0,
            le=90_000,
        ),
        Column("run_time_s", FLOAT, "Time in RUNNING.", nullable=False, ge=0, le=90_000),
        Column("availability", FLOAT, "run_time_s / planned_time_s (null if planned is 0).", ge=0),
        Column("shots", INT, "Silver shots of the day (resolved or not).", nullable=False, ge=0),
        Column("unresolved_shots", INT, "Shots without a resolvable mold.", nullable=False, ge=0),
        Column(
            "total_parts", INT, "Sum of the resolved shots' mold cavities.", nullable=False, ge=0
        ),
        Column(
            "ideal_time_s",
            FLOAT,
            "Sum of the resolved shots' mold ideal_cycle_time_s.",
            nullable=False,
            ge=0,
        ),
        Column(
            "performance",
            FLOAT,
            "ideal_time_s / run_time_s, not capped (null if run_time_s is 0).",
            ge=0,
        ),
        Column("rejected_parts", INT, "Sum of inspections' rejected_count.", nullable=False, ge=0),
        Column("good_parts", INT, "total_parts - rejected_parts.", nullable=False),
        Column("quality", FLOAT, "good_parts / total_parts (null if total_parts is 0)."),
        Column("oee", FLOAT, "availability x performance x quality (null if any is null)."),
    ),
    unique=("plant_id", "production_date", "machine_id"),
)

RUN_RATE_HOURLY = Table(
    layer="gold",
    name="run_rate_hourly",
    description=(
        "Run rate per plant, machine and UTC hour (one row per hour and production date; "
        "contract 6.3, 7): shots, seconds in RUNNING, shots per running hour, and the ideal rate "
        "of the mold with the most shots in the hour (else the mold mounted longest in it). "
        "Machines with a silver event, shot or inspection that day (as gold/oee_daily)."
    ),
    columns=columns(
        _PLANT,
        _DAY,
        MACHINE,
        _HOUR.but(description="UTC hour."),
        Column("shots", INT, "Shots in the hour.", nullable=False, ge=0),
        Column(
            "running_s",
            FLOAT,
            "Seconds of the hour in RUNNING.",
            nullable=False,
            ge=0,
            le=3600 + 1e-6,
        ),
        Column("run_rate_per_h", FLOAT, "shots / running_s x 3600 (null if running_s is 0).", ge=0),
        Column("ideal_rate_per_h", FLOAT, "3600 / ideal_cycle_time_s of the hour's mold.", gt=0),
        Column("mold_id", STRING, "Mold with the most shots in the hour, else the one mounted."),
    ),
    unique=("plant_id", "production_date", "machine_id", "hour_start_utc"),
)

LOSS_DAILY = Table(
    layer="gold",
    name="loss_daily",
    description=(
        "Losses per plant, machine and production date (contract 6.3, 7): scrap cost (each "
        "inspection row's rejects at its part's unit cost) and downtime margin loss "
        "((planned - run) / ideal cycle time x cavities x margin) of the mold mounted most of "
        "the day. Same rows as gold/oee_daily."
    ),
    columns=columns(
        _PLANT,
        _DAY,
        MACHINE,
        OEE_DAILY.column("planned_time_s").but(description="As in oee_daily.", le=None),
        OEE_DAILY.column("run_time_s").but(description="As in oee_daily.", le=None),
        Column("mold_id", STRING, "Mold mounted most of the day."),
        Column("part_id", STRING, "Its part (mold_parts)."),
        Column("cavities", INT, "Its cavities.", ge=0),
        Column("ideal_cycle_time_s", FLOAT, "Its ideal cycle time, s."),
        Column("unit_cost", FLOAT, "Part unit cost."),
        Column("unit_price", FLOAT, "Part unit price."),
        OEE_DAILY.column("rejected_parts").but(description="As in oee_daily."),
        Column(
            "scrap_cost",
            FLOAT,
            "Sum over inspection rows of rejects x that row's part unit_cost.",
            nullable=False,
            ge=0,
        ),
        Column(
            "downtime_margin_loss",
            FLOAT,
            "(planned - run) / ideal_cycle_time_s x cavities x (unit_price - unit_cost).",
        ),
    ),
    unique=("plant_id", "production_date", "machine_id"),
)

GOLD = {t.name: t for t in (SENSOR_HOURLY, OEE_DAILY, RUN_RATE_HOURLY, LOSS_DAILY)}
