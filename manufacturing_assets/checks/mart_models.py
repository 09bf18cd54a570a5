"""Quality contract of the star schema (`marts/*`): pandera models for every dimension and
fact, SCD2 invariants, and referential integrity of the facts' surrogate keys.

`mart_checks` (all non-blocking: a failure is reported and alerted on, it never fails the
run that materialized the table, nor `manufacturing-assets run`):
- dimensions (unpartitioned, severity ERROR): `pandera_<Model>`, `one_current_version`
  (exactly one current row per natural key of the latest master-data snapshot, none for
  keys that left it), `no_overlapping_versions`;
- facts (per plant x date partition): `pandera_<Model>` (WARN, like gold) and
  `referential_integrity` (ERROR: every surrogate key exists in its dimension and is the
  version valid on the row's production date; no row with a natural key lacks its key).
"""

from collections.abc import Mapping
from typing import Annotated

import pandera.polars as pa
import polars as pl
from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetIn,
    AssetKey,
    MetadataValue,
    asset_check,
)

from manufacturing_assets.checks.quality import pandera_check, validate
from manufacturing_assets.contract import MACHINE_STATES
from manufacturing_assets.partitions import plant_date_partitions
from manufacturing_assets.transforms.dimensions import DIMENSIONS, DimensionSpec

UtcTimestamp = Annotated[pl.Datetime, "us", "UTC"]
MARTS = "marts"


def _sk(entity: str) -> object:
    return pa.Field(
        nullable=False,
        unique=True,
        description=f"Surrogate key of the {entity} version: stable hash of (natural key, valid_from).",
    )


def _valid_from() -> object:
    return pa.Field(nullable=False, description="First snapshot date of the version (inclusive).")


def _valid_to() -> object:
    return pa.Field(
        nullable=True,
        description=(
            "Exclusive end: the snapshot date of the next change or of the first snapshot "
            "the key is missing from; null while current."
        ),
    )


def _is_current() -> object:
    return pa.Field(nullable=False, description="True exactly when valid_to is null.")


class Scd2Checks(pa.DataFrameModel):
    """Row-level SCD2 invariants shared by every dimension with history."""

    @pa.dataframe_check(error="valid_to must be after valid_from")
    def positive_interval(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col("valid_to") > pl.col("valid_from")).fill_null(True))

    @pa.dataframe_check(error="is_current must be true exactly when valid_to is null")
    def current_is_open(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("is_current") == pl.col("valid_to").is_null())


class DimPlant(Scd2Checks):
    """Plants with history (master data `plants`)."""

    plant_sk: int = _sk("plant")
    plant_id: str = pa.Field(nullable=False, description="Natural key.")
    plant_name: str = pa.Field(nullable=True, description="Plant name.")
    region: str = pa.Field(nullable=True, description="Region.")
    country: str = pa.Field(nullable=True, description="Country.")
    timezone: str = pa.Field(nullable=True, description="IANA time zone.")
    valid_from: pl.Date = _valid_from()
    valid_to: pl.Date = _valid_to()
    is_current: bool = _is_current()

    class Config:
        strict = True
        unique = ["plant_id", "valid_from"]


class DimLine(Scd2Checks):
    """Production lines with history (master data `lines`)."""

    line_sk: int = _sk("line")
    line_id: str = pa.Field(nullable=False, description="Natural key.")
    plant_id: str = pa.Field(nullable=True, description="Plant of the line.")
    line_name: str = pa.Field(nullable=True, description="Line name.")
    valid_from: pl.Date = _valid_from()
    valid_to: pl.Date = _valid_to()
    is_current: bool = _is_current()

    class Config:
        strict = True
        unique = ["line_id", "valid_from"]


class DimMachine(Scd2Checks):
    """Machines with history (master data `machines`)."""

    machine_sk: int = _sk("machine")
    machine_id: str = pa.Field(nullable=False, description="Natural key.")
    plant_id: str = pa.Field(nullable=True, description="Plant of the machine.")
    line_id: str = pa.Field(nullable=True, description="Line of the machine (natural key).")
    machine_type: str = pa.Field(nullable=True, description="hydraulic, all-electric, hybrid...")
    tonnage: float = pa.Field(nullable=True, ge=0, description="Clamping force, tonnes.")
    valid_from: pl.Date = _valid_from()
    valid_to: pl.Date = _valid_to()
    is_current: bool = _is_current()

    class Config:
        strict = True
        unique = ["machine_id", "valid_from"]


class DimMold(Scd2Checks):
    """Molds with history (master data `molds`, part from `mold_parts`)."""

    mold_sk: int = _sk("mold")
    mold_id: str = pa.Field(nullable=False, description="Natural key.")
    cavities: int = pa.Field(nullable=True, ge=1, description="Parts per shot.")
    ideal_cycle_time_s: float = pa.Field(nullable=True, gt=0, description="Ideal cycle, s.")
    supplier_id: str = pa.Field(nullable=True, description="Supplier (company_id).")
    part_id: str = pa.Field(
        nullable=True, description="Part the mold makes (mold_parts as of the version's dates)."
    )
    valid_from: pl.Date = _valid_from()
    valid_to: pl.Date = _valid_to()
    is_current: bool = _is_current()

    class Config:
        strict = True
        unique = ["mold_id", "valid_from"]


class DimPart(Scd2Checks):
    """Parts with history (master data `parts`)."""

    part_sk: int = _sk("part")
    part_id: str = pa.Field(nullable=False, description="Natural key.")
    part_name: str = pa.Field(nullable=True, description="Part name.")
    unit_cost: float = pa.Field(nullable=True, ge=0, description="Cost per part.")
    unit_price: float = pa.Field(nullable=True, ge=0, description="Price per part.")
    customer_id: str = pa.Field(nullable=True, description="Customer (company_id).")
    valid_from: pl.Date = _valid_from()
    valid_to: pl.Date = _valid_to()
    is_current: bool = _is_current()

    class Config:
        strict = True
        unique = ["part_id", "valid_from"]


class DimCompany(Scd2Checks):
    """Suppliers and customers with history (master data `companies`)."""

    company_sk: int = _sk("company")
    company_id: str = pa.Field(nullable=False, description="Natural key.")
    company_name: str = pa.Field(nullable=True, description="Company name.")
    company_type: str = pa.Field(
        nullable=True, isin=["supplier", "customer"], description="supplier or customer."
    )
    valid_from: pl.Date = _valid_from()
    valid_to: pl.Date = _valid_to()
    is_current: bool = _is_current()

    class Config:
        strict = True
        unique = ["company_id", "valid_from"]


class DimDate(pa.DataFrameModel):
    """The calendar: one row per day of the partition range."""

    date_sk: int = pa.Field(nullable=False, unique=True, description="yyyymmdd.")
    date: pl.Date = pa.Field(nullable=False, unique=True, description="The day.")
    year: int = pa.Field(description="Calendar year.")
    quarter: int = pa.Field(ge=1, le=4, description="Calendar quarter.")
    month: int = pa.Field(ge=1, le=12, description="Month.")
    day: int = pa.Field(ge=1, le=31, description="Day of month.")
    iso_year: int = pa.Field(description="ISO-8601 week-numbering year.")
    iso_week: int = pa.Field(ge=1, le=53, description="ISO-8601 week.")
    weekday: int = pa.Field(ge=1, le=7, description="ISO weekday, 1 = Monday .. 7 = Sunday.")
    is_weekend: bool = pa.Field(description="Saturday or Sunday.")

    class Config:
        strict = True

    @pa.dataframe_check(error="date_sk must be yyyymmdd of date")
    def sk_is_date(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("date_sk") == pl.col("date").dt.strftime("%Y%m%d").cast(pl.Int64)
        )


DIMENSION_MODELS: dict[str, type[pa.DataFrameModel]] = {
    "plant": DimPlant,
    "line": DimLine,
    "machine": DimMachine,
    "mold": DimMold,
    "part": DimPart,
    "company": DimCompany,
}


# ---------------------------------------------------------------- facts


def _key(desc: str) -> object:
    return pa.Field(
        nullable=True,
        description=f"Surrogate key of the {desc} version valid on production_date (null: no version).",
    )


class FactKeys(pa.DataFrameModel):
    """Columns every fact starts with (partition, date and machine keys)."""

    plant_id: str = pa.Field(nullable=False, description="Plant (partition).")
    production_date: pl.Date = pa.Field(nullable=False, description="Plant-local date (partition).")
    date_sk: int = pa.Field(nullable=False, description="yyyymmdd of production_date (dim_date).")
    machine_id: str = pa.Field(nullable=False, description="Machine (natural key).")
    line_id: str = pa.Field(nullable=True, description="Line of the machine version.")
    plant_sk: int = _key("plant")
    machine_sk: int = _key("machine")
    line_sk: int = _key("line")

    @pa.dataframe_check(error="date_sk must be yyyymmdd of production_date")
    def date_sk_matches(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("date_sk") == pl.col("production_date").dt.strftime("%Y%m%d").cast(pl.Int64)
        )


class FactShot(FactKeys):
    """One injection shot (silver/shots) with its dimension keys."""

    shot_id: str = pa.Field(nullable=False, description="Shot id (degenerate dimension).")
    ts: UtcTimestamp = pa.Field(nullable=False, description="Shot time, UTC.")
    mold_id: str = pa.Field(nullable=True, description="Mold (null: unresolved).")
    part_id: str = pa.Field(nullable=True, description="Part of the mold version.")
    mold_sk: int = _key("mold")
    part_sk: int = _key("part")
    mold_source: str = pa.Field(nullable=True, description="How the mold was found.")
    is_resolved: bool = pa.Field(nullable=True, description="A mold was found for the shot.")
    cycle_time_s: float = pa.Field(nullable=True, description="Cycle time, s.")
    cushion_mm: float = pa.Field(nullable=True, description="Cushion, mm.")
    injection_pressure_bar: float = pa.Field(nullable=True, description="Injection pressure, bar.")
    melt_temp_c: float = pa.Field(nullable=True, description="Melt temperature, C.")
    mold_temp_c: float = pa.Field(nullable=True, description="Mold temperature, C.")
    shot_weight_g: float = pa.Field(nullable=True, description="Shot weight, g.")
    parts: int = pa.Field(nullable=True, ge=0, description="Cavities of the mold version.")
    ideal_cycle_time_s: float = pa.Field(nullable=True, description="Of the mold version.")
    flags: str = pa.Field(nullable=True, description="Silver flags.")

    class Config:
        strict = True
        unique = ["shot_id"]


class FactMachineState(FactKeys):
    """One machine-state interval (silver/machine_state_intervals) with its keys."""

    state: str = pa.Field(nullable=False, isin=list(MACHINE_STATES), description="Machine state.")
    reason_code: str = pa.Field(nullable=True, description="Reason code as sent.")
    start_ts: UtcTimestamp = pa.Field(nullable=False, description="Interval start, UTC.")
    end_ts: UtcTimestamp = pa.Field(nullable=False, description="Interval end, UTC.")
    duration_s: float = pa.Field(nullable=False, ge=0, description="end_ts - start_ts, s.")
    carried_over: bool = pa.Field(
        nullable=True, description="State carried over from a previous day."
    )

    class Config:
        strict = True
        unique = ["plant_id", "production_date", "machine_id", "start_ts"]


class FactSensorHourly(FactKeys):
    """Hourly sensor statistics (gold/sensor_hourly) with their keys."""

    hour_start_utc: UtcTimestamp = pa.Field(nullable=False, description="UTC hour.")
    readings: int = pa.Field(ge=0, description="Rows in silver.")
    valid_readings: int = pa.Field(ge=0, description="Rows with is_valid.")
    temperature_c_avg: float = pa.Field(nullable=True, description="Mean of valid values.")
    temperature_c_min: float = pa.Field(nullable=True, description="Min of valid values.")
    temperature_c_max: float = pa.Field(nullable=True, description="Max of valid values.")
    humidity_pct_avg: float = pa.Field(nullable=True, description="Mean of valid values.")
    humidity_pct_min: float = pa.Field(nullable=True, description="Min of valid values.")
    humidity_pct_max: float = pa.Field(nullable=True, description="Max of valid values.")
    pressure_bar_avg: float = pa.Field(nullable=True, description="Mean of valid values.")
    pressure_bar_min: float = pa.Field(nullable=True, description="Min of valid values.")
    pressure_bar_max: float = pa.Field(nullable=True, description="Max of valid values.")
    vibration_mm_s_avg: float = pa.Field(nullable=True, description="Mean of valid values.")
    vibration_mm_s_min: float = pa.Field(nullable=True, description="Min of valid values.")
    vibration_mm_s_max: float = pa.Field(nullable=True, description="Max of valid values.")
    vibration_mm_s_p95: float = pa.Field(nullable=True, description="95th percentile.")

    class Config:
        strict = True
        unique = ["plant_id", "production_date", "machine_id", "hour_start_utc"]


class FactOeeDaily(FactKeys):
    """Daily OEE per machine (gold/oee_daily) with its keys."""

    planned_time_s: float = pa.Field(nullable=False, ge=0, description="Planned time, s.")
    run_time_s: float = pa.Field(nullable=False, ge=0, description="Time RUNNING, s.")
    availability: float = pa.Field(nullable=True, ge=0, description="run / planned.")
    shots: int = pa.Field(nullable=False, ge=0, description="Shots of the day.")
    unresolved_shots: int = pa.Field(nullable=False, ge=0, description="Shots without a mold.")
    total_parts: int = pa.Field(nullable=False, ge=0, description="Sum of cavities.")
    ideal_time_s: float = pa.Field(nullable=False, ge=0, description="Sum of ideal cycles.")
    performance: float = pa.Field(nullable=True, ge=0, description="ideal / run (not capped).")
    rejected_parts: int = pa.Field(nullable=False, ge=0, description="Rejected parts.")
    good_parts: int = pa.Field(nullable=False, description="total - rejected.")
    quality: float = pa.Field(nullable=True, description="good / total.")
    oee: float = pa.Field(nullable=True, description="availability x performance x quality.")

    class Config:
        strict = True
        unique = ["plant_id", "production_date", "machine_id"]


# ---------------------------------------------------------------- check logic (Polars)


def current_version_violations(
    dim: pl.DataFrame, reference: pl.DataFrame, spec: DimensionSpec
) -> pl.DataFrame:
    """Natural keys breaking "exactly one current row per key of the latest snapshot, none
    for keys that are not in it": ``key``, ``current_rows``, ``in_latest_snapshot``."""
    key = spec.key
    if dim.width == 0:
        dim = pl.DataFrame(schema={key: pl.String, "is_current": pl.Boolean})
    latest: set[str] = set()
    if reference.height:
        last = reference["snapshot_date"].max()
        latest = set(
            reference.filter(pl.col("snapshot_date") == last)[key]
            .cast(pl.String)
            .str.strip_chars()
            .drop_nulls()
            .to_list()
        ) - {""}
    current = dim.group_by(key).agg(pl.col("is_current").cast(pl.Int64).sum().alias("current_rows"))
    expected = pl.DataFrame({key: sorted(latest)}, schema={key: pl.String})
    return (
        current.join(
            expected.with_columns(pl.lit(True).alias("in_latest_snapshot")),
            on=key,
            how="full",
            coalesce=True,
        )
        .with_columns(
            pl.col("current_rows").fill_null(0),
            pl.col("in_latest_snapshot").fill_null(False),
        )
        .filter(
            pl.when(pl.col("in_latest_snapshot"))
            .then(pl.col("current_rows") != 1)
            .otherwise(pl.col("current_rows") != 0)
        )
        .sort(key)
    )


def overlapping_versions(dim: pl.DataFrame, key: str) -> pl.DataFrame:
    """Versions whose interval overlaps the previous version of the same key (or follow
    an open one): ``key``, ``valid_from``, ``previous_valid_to``."""
    if dim.height == 0:
        return pl.DataFrame(
            schema={key: pl.String, "valid_from": pl.Date, "previous_valid_to": pl.Date}
        )
    ordered = dim.sort(key, "valid_from").with_columns(
        pl.col("valid_to").shift(1).over(key).alias("previous_valid_to"),
        pl.col("valid_from").rank("ordinal").over(key).alias("_n"),
    )
    return ordered.filter(
        (pl.col("_n") > 1)
        & (
            pl.col("previous_valid_to").is_null()
            | (pl.col("previous_valid_to") > pl.col("valid_from"))
        )
    ).select(key, "valid_from", "previous_valid_to")


# fact surrogate key column -> (dimension, natural key column in the fact)
FACT_REFERENCES: dict[str, dict[str, tuple[str, str]]] = {
    "fact_shot": {
        "plant_sk": ("plant", "plant_id"),
        "machine_sk": ("machine", "machine_id"),
        "line_sk": ("line", "line_id"),
        "mold_sk": ("mold", "mold_id"),
        "part_sk": ("part", "part_id"),
        "date_sk": ("date", "production_date"),
    },
    **{
        fact: {
            "plant_sk": ("plant", "plant_id"),
            "machine_sk": ("machine", "machine_id"),
            "line_sk": ("line", "line_id"),
            "date_sk": ("date", "production_date"),
        }
        for fact in ("fact_machine_state", "fact_sensor_hourly", "fact_oee_daily")
    },
}


def referential_violations(
    fact: pl.DataFrame, dims: Mapping[str, pl.DataFrame], references: Mapping[str, tuple[str, str]]
) -> dict[str, dict[str, int]]:
    """Per surrogate key column of ``fact``: rows whose key is not in the dimension
    (``dangling``), whose natural key has no key (``missing``: master data as of the date
    does not list it), and whose key is a version not valid on the row's production date
    (``not_valid_on_date``; contract 7, a date before the first snapshot takes the version
    in that snapshot)."""
    out: dict[str, dict[str, int]] = {}
    for sk, (dim_name, natural) in references.items():
        dim = dims[dim_name]
        dim_sk = f"{dim_name}_sk"
        counts = {"dangling": 0, "missing": 0, "not_valid_on_date": 0}
        if fact.height == 0:
            out[sk] = counts
            continue
        known = dim[dim_sk] if dim.width else pl.Series(dim_sk, [], pl.Int64)
        counts["dangling"] = fact.filter(
            pl.col(sk).is_not_null() & ~pl.col(sk).is_in(known.implode())
        ).height
        counts["missing"] = fact.filter(pl.col(natural).is_not_null() & pl.col(sk).is_null()).height
        if dim.width and "valid_from" in dim.columns:
            versions = dim.select(
                pl.col(dim_sk).alias(sk),
                "valid_from",
                "valid_to",
                pl.col("valid_from").min().alias("_first"),  # the first snapshot
            )
            d = pl.col("production_date")
            valid = (
                (pl.col("valid_from") <= d)
                | ((d < pl.col("_first")) & (pl.col("valid_from") == pl.col("_first")))
            ) & (pl.col("valid_to").is_null() | (d < pl.col("valid_to")))
            counts["not_valid_on_date"] = (
                fact.select(sk, "production_date").join(versions, on=sk).filter(~valid).height
            )
        out[sk] = counts
    return out


# ---------------------------------------------------------------- Dagster checks

SEVERITY = AssetCheckSeverity.ERROR


def _dim_key(table: str) -> AssetKey:
    return AssetKey([MARTS, table])


def dimension_pandera_check(table: str, model: type[pa.DataFrameModel]) -> AssetChecksDefinition:
    @asset_check(
        asset=_dim_key(table),
        name=f"pandera_{model.__name__}",
        description=f"Validates `{MARTS}/{table}` against the pandera model `{model.__name__}`.",
    )
    def _check(data: pl.DataFrame) -> AssetCheckResult:
        passed, metadata = validate(model, data)
        return AssetCheckResult(passed=passed, severity=SEVERITY, metadata=metadata)

    return _check


def one_current_version_check(spec: DimensionSpec) -> AssetChecksDefinition:
    @asset_check(
        asset=_dim_key(spec.table),
        name="one_current_version",
        additional_ins={"reference": AssetIn(key=["reference", spec.entity])},
        description=(
            f"Exactly one current row per `{spec.key}` present in the latest `{spec.entity}` "
            "snapshot, and none for keys that left master data (closed, not deleted)."
        ),
    )
    def _check(data: pl.DataFrame, reference: pl.DataFrame) -> AssetCheckResult:
        bad = current_version_violations(data, reference, spec)
        return AssetCheckResult(
            passed=bad.height == 0,
            severity=SEVERITY,
            metadata={
                "violations": bad.height,
                "examples": MetadataValue.md(_table(bad.head(20))),
            },
        )

    return _check


def no_overlap_check(spec: DimensionSpec) -> AssetChecksDefinition:
    @asset_check(
        asset=_dim_key(spec.table),
        name="no_overlapping_versions",
        description=f"The validity intervals of the versions of each `{spec.key}` do not overlap.",
    )
    def _check(data: pl.DataFrame) -> AssetCheckResult:
        bad = overlapping_versions(data, spec.key)
        return AssetCheckResult(
            passed=bad.height == 0,
            severity=SEVERITY,
            metadata={
                "violations": bad.height,
                "examples": MetadataValue.md(_table(bad.head(20))),
            },
        )

    return _check


def _table(frame: pl.DataFrame) -> str:
    if frame.height == 0:
        return "none"
    return "\n".join(
        "- " + ", ".join(f"{k}={v}" for k, v in row.items()) for row in frame.iter_rows(named=True)
    )


def referential_result(
    fact: str, data: pl.DataFrame, dims: Mapping[str, pl.DataFrame]
) -> AssetCheckResult:
    counts = referential_violations(data, dims, FACT_REFERENCES[fact])
    failing = {sk: c for sk, c in counts.items() if any(c.values())}
    return AssetCheckResult(
        passed=not failing,
        severity=SEVERITY,
        metadata={
            "rows": data.height,
            "violations": MetadataValue.json(counts),
            "failing_keys": ", ".join(sorted(failing)) or "none",
        },
    )


def referential_check(fact: str) -> AssetChecksDefinition:
    """Loads the fact partition(s) and the (unpartitioned) dimensions it references."""
    dims = sorted({d for d, _ in FACT_REFERENCES[fact].values()})
    ins = {f"dim_{d}": AssetIn(key=[MARTS, f"dim_{d}"]) for d in dims}
    common = {
        "asset": AssetKey([MARTS, fact]),
        "name": "referential_integrity",
        "additional_ins": ins,
        "partitions_def": plant_date_partitions,
        "description": (
            "Every surrogate key of the partition exists in its dimension and is the version "
            "valid on the row's production date; no row with a natural key lacks its key."
        ),
    }
    if "mold" in dims:

        @asset_check(**common)
        def _shot_check(
            data: pl.DataFrame,
            dim_date: pl.DataFrame,
            dim_line: pl.DataFrame,
            dim_machine: pl.DataFrame,
            dim_mold: pl.DataFrame,
            dim_part: pl.DataFrame,
            dim_plant: pl.DataFrame,
        ) -> AssetCheckResult:
            loaded = {
                "date": dim_date,
                "line": dim_line,
                "machine": dim_machine,
                "mold": dim_mold,
                "part": dim_part,
                "plant": dim_plant,
            }
            return referential_result(fact, data, loaded)

        return _shot_check

    @asset_check(**common)
    def _machine_check(
        data: pl.DataFrame,
        dim_date: pl.DataFrame,
        dim_line: pl.DataFrame,
        dim_machine: pl.DataFrame,
        dim_plant: pl.DataFrame,
    ) -> AssetCheckResult:
        loaded = {"date": dim_date, "line": dim_line, "machine": dim_machine, "plant": dim_plant}
        return referential_result(fact, data, loaded)

    return _machine_check


FACT_MODELS: dict[str, type[pa.DataFrameModel]] = {
    "fact_shot": FactShot,
    "fact_machine_state": FactMachineState,
    "fact_sensor_hourly": FactSensorHourly,
    "fact_oee_daily": FactOeeDaily,
}


def dimension_checks() -> list[AssetChecksDefinition]:
    checks = [dimension_pandera_check("dim_date", DimDate)]
    for name, spec in DIMENSIONS.items():
        checks += [
            dimension_pandera_check(spec.table, DIMENSION_MODELS[name]),
            one_current_version_check(spec),
            no_overlap_check(spec),
        ]
    return checks


def fact_checks(facts: list[str]) -> list[AssetChecksDefinition]:
    checks: list[AssetChecksDefinition] = []
    for fact in facts:
        checks += [
            pandera_check([MARTS, fact], FACT_MODELS[fact], blocking=False),
            referential_check(fact),
        ]
    return checks


mart_checks = [*dimension_checks(), *fact_checks(list(FACT_MODELS))]
