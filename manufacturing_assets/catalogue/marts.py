"""Marts: the star schema (contract 6.4). Dimensions are SCD type 2 histories of master data
(unpartitioned); facts are silver/gold rows with the surrogate keys of the dimension versions
valid on their production date (plant x production date).

A dimension's attributes and their types are declared here once; the SCD2 builder
(``transforms/dimensions.py``) reads them from :data:`DIMENSION_TABLES`.
"""

from __future__ import annotations

from manufacturing_assets.catalogue.columns import SCD2
from manufacturing_assets.catalogue.gold import OEE_DAILY, SENSOR_HOURLY
from manufacturing_assets.catalogue.model import (
    BOOL,
    DATE,
    FLOAT,
    INT,
    STRING,
    Column,
    Partitioning,
    Table,
    columns,
)
from manufacturing_assets.catalogue.silver import MACHINE_STATE_INTERVALS, SHOTS

MARTS = "marts"


def _sk(name: str) -> Column:
    return Column(
        f"{name}_sk",
        INT,
        f"Surrogate key of the {name} version: stable hash of (natural key, valid_from).",
        nullable=False,
        unique=True,
    )


def _dimension(
    name: str, entity: str, key: str, attributes: tuple[Column, ...], note: str = ""
) -> Table:
    attrs = ", ".join(f"`{a.name}`" for a in attributes)
    return Table(
        layer=MARTS,
        name=f"dim_{name}",
        description=(
            f"SCD type 2 history of master data `{entity}`, rebuilt from every snapshot in "
            f"`reference/{entity}`: `{name}_sk` (stable hash of `{key}` + `valid_from`), "
            f"`{key}`, {attrs}, `valid_from` (first snapshot of the version), `valid_to` "
            "(exclusive: the snapshot of the next change or of the key's disappearance; null "
            "while current), `is_current`. A version changes only when an attribute changes; a "
            "key missing from a snapshot is closed there and gets a new version if it reappears."
            + note
        ),
        columns=columns(
            _sk(name),
            Column(key, STRING, "Natural key.", nullable=False),
            attributes,
            SCD2,
        ),
        partitioning=Partitioning.NONE,
        unique=(key, "valid_from"),
        domain="master_data",
        tags={"entity": entity},
    )


DIM_PLANT = _dimension(
    "plant",
    "plants",
    "plant_id",
    (
        Column("plant_name", STRING, "Plant name."),
        Column("region", STRING, "Region."),
        Column("country", STRING, "Country."),
        Column("timezone", STRING, "IANA time zone."),
    ),
)
DIM_LINE = _dimension(
    "line",
    "lines",
    "line_id",
    (Column("plant_id", STRING, "Plant of the line."), Column("line_name", STRING, "Line name.")),
)
DIM_MACHINE = _dimension(
    "machine",
    "machines",
    "machine_id",
    (
        Column("plant_id", STRING, "Plant of the machine."),
        Column("line_id", STRING, "Line of the machine (natural key)."),
        Column("machine_type", STRING, "hydraulic, all-electric, hybrid..."),
        Column("tonnage", FLOAT, "Clamping force, tonnes.", ge=0),
    ),
)
DIM_MOLD = _dimension(
    "mold",
    "molds",
    "mold_id",
    (
        Column("cavities", INT, "Parts per shot.", ge=1),
        Column("ideal_cycle_time_s", FLOAT, "Ideal cycle, s.", gt=0),
        Column("supplier_id", STRING, "Supplier (company_id)."),
        Column("part_id", STRING, "Part the mold makes (mold_parts as of the version's dates)."),
    ),
    note=(
        " `part_id` is the mold's part from `reference/mold_parts` as of each molds snapshot "
        "(the latest mold_parts snapshot on or before it); a change of part is a new version."
    ),
)
DIM_PART = _dimension(
    "part",
    "parts",
    "part_id",
    (
        Column("part_name", STRING, "Part name."),
        Column("unit_cost", FLOAT, "Cost per part.", ge=0),
        Column("unit_price", FLOAT, "Price per part.", ge=0),
        Column("customer_id", STRING, "Customer (company_id)."),
    ),
)
DIM_COMPANY = _dimension(
    "company",
    "companies",
    "company_id",
    (
        Column("company_name", STRING, "Company name."),
        Column("company_type", STRING, "supplier or customer.", isin=("supplier", "customer")),
    ),
)
DIMENSION_TABLES: dict[str, Table] = {
    t.name.removeprefix("dim_"): t
    for t in (DIM_PLANT, DIM_LINE, DIM_MACHINE, DIM_MOLD, DIM_PART, DIM_COMPANY)
}

DIM_DATE = Table(
    layer=MARTS,
    name="dim_date",
    description=(
        "The calendar: one row per day from the first `date` partition (MA_START_DATE) to 31 "
        "December of the year after the last one, so every fact's `date_sk` (yyyymmdd of its "
        "production date) exists. Year, quarter, month, day, ISO year/week, ISO weekday "
        "(1 = Monday), is_weekend."
    ),
    columns=(
        Column("date_sk", INT, "yyyymmdd.", nullable=False, unique=True),
        Column("date", DATE, "The day.", nullable=False, unique=True),
        Column("year", INT, "Calendar year.", nullable=False),
        Column("quarter", INT, "Calendar quarter.", nullable=False, ge=1, le=4),
        Column("month", INT, "Month.", nullable=False, ge=1, le=12),
        Column("day", INT, "Day of month.", nullable=False, ge=1, le=31),
        Column("iso_year", INT, "ISO-8601 week-numbering year.", nullable=False),
        Column("iso_week", INT, "ISO-8601 week.", nullable=False, ge=1, le=53),
        Column(
            "weekday", INT, "ISO weekday, 1 = Monday .. 7 = Sunday.", nullable=False, ge=1, le=7
        ),
        Column("is_weekend", BOOL, "Saturday or Sunday.", nullable=False),
    ),
    partitioning=Partitioning.NONE,
    domain="calendar",
)


def _key(name: str) -> Column:
    return Column(
        f"{name}_sk",
        INT,
        f"Surrogate key of the {name} version valid on production_date (null: no version).",
    )


FACT_KEYS = (
    Column("plant_id", STRING, "Plant (partition).", nullable=False),
    Column("production_date", DATE, "Plant-local date (partition).", nullable=False),
    Column("date_sk", INT, "yyyymmdd of production_date (dim_date).", nullable=False),
    Column("machine_id", STRING, "Machine (natural key).", nullable=False),
    Column("line_id", STRING, "Line of the machine version."),
    _key("plant"),
    _key("machine"),
    _key("line"),
)
_KEYED = {c.name for c in FACT_KEYS}


def _measures(source: Table, *names: str) -> tuple[Column, ...]:
    """Columns of the fact's source table, as declared there (all but the keys by default)."""
    if names:
        return tuple(source.column(n) for n in names)
    return tuple(c for c in source.columns if c.name not in _KEYED)


def _fact(
    name: str, source: Table, what: str, measures: tuple[Column, ...], unique: tuple
) -> Table:
    references = [c.name for c in FACT_KEYS if c.name.endswith("_sk")] + [
        c.name for c in measures if c.name.endswith("_sk")
    ]
    return Table(
        layer=MARTS,
        name=name,
        description=(
            f"{what} (`{source.path}`) with the surrogate keys of the dimension versions valid "
            f"on its production date (contract 6.4, 7): {', '.join(references)}. Natural keys "
            "are kept."
        ),
        columns=columns(FACT_KEYS, measures),
        unique=unique,
        tags={"source": f"{source.layer}.{source.name}"},
    )


FACT_SHOT = _fact(
    "fact_shot",
    SHOTS,
    "One row per shot",
    columns(
        _measures(SHOTS, "shot_id", "ts", "mold_id"),
        Column("part_id", STRING, "Part of the mold version."),
        _key("mold"),
        _key("part"),
        SHOTS.column("mold_source").but(isin=None),
        _measures(
            SHOTS,
            "is_resolved",
            "cycle_time_s",
            "cushion_mm",
            "injection_pressure_bar",
            "melt_temp_c",
            "mold_temp_c",
            "shot_weight_g",
        ),
        Column("parts", INT, "Cavities of the mold version.", ge=0),
        Column("ideal_cycle_time_s", FLOAT, "Ideal cycle time of the mold version, s."),
        SHOTS.column("flags"),
    ),
    unique=("shot_id",),
)
FACT_MACHINE_STATE = _fact(
    "fact_machine_state",
    MACHINE_STATE_INTERVALS,
    "One row per machine-state interval",
    _measures(MACHINE_STATE_INTERVALS),
    unique=("plant_id", "production_date", "machine_id", "start_ts"),
)
FACT_SENSOR_HOURLY = _fact(
    "fact_sensor_hourly",
    SENSOR_HOURLY,
    "One row per plant, machine and UTC hour",
    _measures(SENSOR_HOURLY),
    unique=("plant_id", "production_date", "machine_id", "hour_start_utc"),
)
FACT_OEE_DAILY = _fact(
    "fact_oee_daily",
    OEE_DAILY,
    "One row per plant, machine and production date",
    _measures(OEE_DAILY),
    unique=("plant_id", "production_date", "machine_id"),
)
FACT_TABLES: dict[str, Table] = {
    t.name: t for t in (FACT_SHOT, FACT_MACHINE_STATE, FACT_SENSOR_HOURLY, FACT_OEE_DAILY)
}

MARTS_TABLES = {
    **{t.name: t for t in DIMENSION_TABLES.values()},
    DIM_DATE.name: DIM_DATE,
    **FACT_TABLES,
}
