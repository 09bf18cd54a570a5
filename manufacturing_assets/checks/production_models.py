"""Pandera models of the production silver and gold tables, and their asset checks
(per partition; blocking on silver, warning on gold)."""

from typing import Annotated

import pandera.polars as pa
import polars as pl

from manufacturing_assets.checks.quality import pandera_check
from manufacturing_assets.contract import MACHINE_STATES

UtcTimestamp = Annotated[pl.Datetime, "us", "UTC"]
_TOL = 1e-6


class SilverShots(pa.DataFrameModel):
    """One validated shot (contract 3.2, 5, 7)."""

    plant_id: str = pa.Field(nullable=False, description="Plant of the landing folder.")
    production_date: pl.Date = pa.Field(nullable=False, description="Plant-local date of `ts`.")
    shot_id: str = pa.Field(nullable=False, description="Shot id.")
    machine_id: str = pa.Field(nullable=False, description="Machine.")
    ts: UtcTimestamp = pa.Field(nullable=False, description="Shot time, UTC (microseconds).")
    mold_id: str = pa.Field(
        nullable=True, description="Resolved mold (explicit, else mounted at ts); null if none."
    )
    mold_source: str = pa.Field(
        nullable=True,
        isin=["explicit", "assignment"],
        description="'explicit' (sent with the shot) or 'assignment' (mold_assignments).",
    )
    cycle_time_s: float = pa.Field(nullable=True, description="Cycle time, s.")
    cushion_mm: float = pa.Field(nullable=True, description="Cushion, mm.")
    injection_pressure_bar: float = pa.Field(nullable=True, description="Injection pressure, bar.")
    melt_temp_c: float = pa.Field(nullable=True, description="Melt temperature, degrees C.")
    mold_temp_c: float = pa.Field(nullable=True, description="Mold temperature, degrees C.")
    shot_weight_g: float = pa.Field(nullable=True, description="Shot weight, g.")
    is_resolved: bool = pa.Field(nullable=False, description="A mold was resolved.")
    flags: str = pa.Field(
        nullable=False,
        description="Comma-separated: unparseable_content, unparseable:<measure>, plant_mismatch, "
        "unresolved_mold.",
    )

    deliveries: int = pa.Field(ge=1, description="Copies of the record that arrived (>= 1).")
    record_plant_id: str = pa.Field(
        nullable=True, description="plant_id as sent in the record (may disagree: flagged)."
    )
    landing_date: pl.Date = pa.Field(nullable=False, description="Lineage: `date=` folder.")
    source: str = pa.Field(
        nullable=False, description="Lineage: landing file key or Kafka topic/partition/offset."
    )
    file_hash: str = pa.Field(nullable=True, description="Lineage: sha256 of the landed file.")
    line_number: int = pa.Field(nullable=False, description="Lineage: line in the source file.")
    ingested_at: UtcTimestamp = pa.Field(
        nullable=False, description="Lineage: when bronze read the file."
    )

    class Config:
        strict = False  # unknown content keys are promoted to extra columns
        unique = ["production_date", "shot_id"]

    @pa.dataframe_check(error="is_resolved must equal mold_id is not null, flagged otherwise")
    def resolution_consistent(cls, data: pa.PolarsData) -> pl.LazyFrame:
        resolved = pl.col("mold_id").is_not_null()
        flagged = pl.col("flags").str.contains("unresolved_mold")
        return data.lazyframe.select(
            (pl.col("is_resolved") == resolved)
            & (flagged == ~resolved)
            & (pl.col("mold_source").is_null() == ~resolved)
        )


class SilverMachineEvents(pa.DataFrameModel):
    """One validated machine state change (contract 3.3, 5, 7)."""

    plant_id: str = pa.Field(nullable=False, description="Plant of the landing folder.")
    production_date: pl.Date = pa.Field(nullable=False, description="Plant-local date of `ts`.")
    machine_id: str = pa.Field(nullable=False, description="Machine.")
    ts: UtcTimestamp = pa.Field(nullable=False, description="State change time, UTC.")
    state: str = pa.Field(isin=list(MACHINE_STATES), description="New state.")
    reason_code: str = pa.Field(nullable=True, description="Reason, e.g. HEATER_FAULT.")
    flags: str = pa.Field(nullable=False, description="Comma-separated flags (plant_mismatch).")

    deliveries: int = pa.Field(ge=1, description="Copies of the record that arrived (>= 1).")
    record_plant_id: str = pa.Field(
        nullable=True, description="plant_id as sent in the record (may disagree: flagged)."
    )
    landing_date: pl.Date = pa.Field(nullable=False, description="Lineage: `date=` folder.")
    source: str = pa.Field(
        nullable=False, description="Lineage: landing file key or Kafka topic/partition/offset."
    )
    file_hash: str = pa.Field(nullable=True, description="Lineage: sha256 of the landed file.")
    line_number: int = pa.Field(nullable=False, description="Lineage: line in the source file.")
    ingested_at: UtcTimestamp = pa.Field(
        nullable=False, description="Lineage: when bronze read the file."
    )

    class Config:
        strict = True
        unique = ["machine_id", "ts"]


class SilverQualityInspections(pa.DataFrameModel):
    """One validated inspection row per machine, hour and part (contract 3.4, 5, 7)."""

    plant_id: str = pa.Field(nullable=False, description="Plant of the landing folder.")
    production_date: pl.Date = pa.Field(
        nullable=False, description="Plant-local date of `hour_start`."
    )
    machine_id: str = pa.Field(nullable=False, description="Machine.")
    hour_start: UtcTimestamp = pa.Field(nullable=False, description="Inspected hour, UTC.")
    part_id: str = pa.Field(nullable=False, description="Part.")
    inspected_count: int = pa.Field(ge=0, description="Parts inspected.")
    rejected_count: int = pa.Field(ge=0, description="Parts rejected.")
    defect_code: str = pa.Field(nullable=True, description="Main defect, e.g. SHORT_SHOT.")
    flags: str = pa.Field(
        nullable=False,
        description="Comma-separated: rejected_exceeds_inspected, plant_mismatch.",
    )

    deliveries: int = pa.Field(ge=1, description="Copies of the record that arrived (>= 1).")
    record_plant_id: str = pa.Field(
        nullable=True, description="plant_id as sent in the record (may disagree: flagged)."
    )
    landing_date: pl.Date = pa.Field(nullable=False, description="Lineage: `date=` folder.")
    source: str = pa.Field(
        nullable=False, description="Lineage: landing file key or Kafka topic/partition/offset."
    )
    file_hash: str = pa.Field(nullable=True, description="Lineage: sha256 of the landed file.")
    line_number: int = pa.Field(nullable=False, description="Lineage: line in the source file.")
    ingested_at: UtcTimestamp = pa.Field(
        nullable=False, description="Lineage: when bronze read the file."
    )

    class Config:
        strict = True
        unique = ["machine_id", "hour_start", "part_id"]


class SilverMachineStateIntervals(pa.DataFrameModel):
    """Machine state intervals clipped at plant-local midnight (contract 3.3, 7)."""

    plant_id: str = pa.Field(nullable=False, description="Plant.")
    production_date: pl.Date = pa.Field(nullable=False, description="Plant-local day.")
    machine_id: str = pa.Field(nullable=False, description="Machine.")
    state: str = pa.Field(isin=list(MACHINE_STATES), description="State during the interval.")
    reason_code: str = pa.Field(nullable=True, description="Reason of the event that set it.")
    start_ts: UtcTimestamp = pa.Field(nullable=False, description="Interval start, UTC.")
    end_ts: UtcTimestamp = pa.Field(nullable=False, description="Interval end (exclusive), UTC.")
    duration_s: float = pa.Field(
        gt=0, le=90_000, description="end_ts - start_ts in seconds (UTC instants)."
    )
    carried_over: bool = pa.Field(
        description="Starts at local midnight with the state carried from before the day."
    )

    class Config:
        strict = True
        unique = ["plant_id", "machine_id", "start_ts"]

    @pa.dataframe_check(error="intervals of a machine-day must not overlap and sum to <= 90,000 s")
    def day_total(cls, data: pa.PolarsData) -> pl.LazyFrame:
        total = pl.col("duration_s").sum().over("plant_id", "production_date", "machine_id")
        return data.lazyframe.select(total <= 90_000 + _TOL)

    @pa.dataframe_check(error="duration_s must equal end_ts - start_ts")
    def duration_matches(cls, data: pa.PolarsData) -> pl.LazyFrame:
        span = (pl.col("end_ts") - pl.col("start_ts")).dt.total_microseconds() / 1e6
        return data.lazyframe.select((span - pl.col("duration_s")).abs() < _TOL)


class GoldOeeDaily(pa.DataFrameModel):
    """OEE per plant, machine and production date (contract 6.2, 7)."""

    plant_id: str = pa.Field(nullable=False, description="Plant.")
    production_date: pl.Date = pa.Field(nullable=False, description="Plant-local day.")
    machine_id: str = pa.Field(nullable=False, description="Machine.")
    planned_time_s: float = pa.Field(
        ge=0, le=90_000, description="Day length (UTC) minus PLANNED_STOP time."
    )
    run_time_s: float = pa.Field(ge=0, le=90_000, description="Time in RUNNING.")
    availability: float = pa.Field(
        nullable=True, ge=0, description="run_time_s / planned_time_s (null if planned is 0)."
    )
    shots: int = pa.Field(ge=0, description="Silver shots of the day (resolved or not).")
    unresolved_shots: int = pa.Field(ge=0, description="Shots without a resolvable mold.")
    total_parts: int = pa.Field(ge=0, description="Sum of the resolved shots' mold cavities.")
    ideal_time_s: float = pa.Field(
        ge=0, description="Sum of the resolved shots' mold ideal_cycle_time_s."
    )
    performance: float = pa.Field(
        nullable=True, ge=0, description="ideal_time_s / run_time_s, not capped (null if run 0)."
    )
    rejected_parts: int = pa.Field(ge=0, description="Sum of inspections' rejected_count.")
    good_parts: int = pa.Field(description="total_parts - rejected_parts.")
    quality: float = pa.Field(
        nullable=True, description="good_parts / total_parts (null if total_parts is 0)."
    )
    oee: float = pa.Field(
        nullable=True, description="availability x performance x quality (null if any is null)."
    )

    class Config:
        strict = True
        unique = ["plant_id", "production_date", "machine_id"]

    @pa.dataframe_check(error="ratios must match their definitions (contract 6.2, 7)")
    def ratios(cls, data: pa.PolarsData) -> pl.LazyFrame:
        def same(col: str, expected: pl.Expr) -> pl.Expr:
            c = pl.col(col)
            return (c.is_null() & expected.is_null()) | ((c - expected).abs() <= _TOL)

        def ratio(num: str, den: str) -> pl.Expr:
            return pl.when(pl.col(den) != 0).then(pl.col(num) / pl.col(den))

        a = ratio("run_time_s", "planned_time_s")
        p = ratio("ideal_time_s", "run_time_s")
        q = ratio("good_parts", "total_parts")
        return data.lazyframe.select(
            same("availability", a)
            & same("performance", p)
            & same("quality", q)
            & same("oee", a * p * q)
            & (pl.col("good_parts") == pl.col("total_parts") - pl.col("rejected_parts"))
            & (pl.col("unresolved_shots") <= pl.col("shots"))
            & (pl.col("run_time_s") <= pl.col("planned_time_s") + _TOL)
        )


class GoldRunRateHourly(pa.DataFrameModel):
    """Run rate per plant, machine and UTC hour (contract 6.3, 7)."""

    plant_id: str = pa.Field(nullable=False, description="Plant.")
    production_date: pl.Date = pa.Field(nullable=False, description="Plant-local day.")
    machine_id: str = pa.Field(nullable=False, description="Machine.")
    hour_start_utc: UtcTimestamp = pa.Field(nullable=False, description="UTC hour.")
    shots: int = pa.Field(ge=0, description="Shots in the hour.")
    running_s: float = pa.Field(ge=0, le=3600 + _TOL, description="Seconds in RUNNING.")
    run_rate_per_h: float = pa.Field(
        nullable=True, ge=0, description="shots / running_s x 3600 (null if running_s is 0)."
    )
    ideal_rate_per_h: float = pa.Field(
        nullable=True, gt=0, description="3600 / ideal_cycle_time_s of the hour's mold."
    )
    mold_id: str = pa.Field(
        nullable=True, description="Mold with the most shots in the hour, else the one mounted."
    )

    class Config:
        strict = True
        unique = ["plant_id", "production_date", "machine_id", "hour_start_utc"]

    @pa.dataframe_check(error="a row needs RUNNING time or shots")
    def has_activity(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col("running_s") > 0) | (pl.col("shots") > 0))


class GoldLossDaily(pa.DataFrameModel):
    """Scrap cost and downtime margin loss per plant, machine and day (contract 6.3, 7)."""

    plant_id: str = pa.Field(nullable=False, description="Plant.")
    production_date: pl.Date = pa.Field(nullable=False, description="Plant-local day.")
    machine_id: str = pa.Field(nullable=False, description="Machine.")
    planned_time_s: float = pa.Field(ge=0, description="As in oee_daily.")
    run_time_s: float = pa.Field(ge=0, description="As in oee_daily.")
    mold_id: str = pa.Field(nullable=True, description="Mold mounted most of the day.")
    part_id: str = pa.Field(nullable=True, description="Its part (mold_parts).")
    cavities: int = pa.Field(nullable=True, ge=0, description="Its cavities.")
    ideal_cycle_time_s: float = pa.Field(nullable=True, description="Its ideal cycle time.")
    unit_cost: float = pa.Field(nullable=True, description="Part unit cost.")
    unit_price: float = pa.Field(nullable=True, description="Part unit price.")
    rejected_parts: int = pa.Field(ge=0, description="As in oee_daily.")
    scrap_cost: float = pa.Field(
        ge=0, description="Sum over inspection rows of rejects x that row's part unit_cost."
    )
    downtime_margin_loss: float = pa.Field(
        nullable=True,
        description="(planned - run) / ideal_cycle_time_s x cavities x (unit_price - unit_cost).",
    )

    class Config:
        strict = True
        unique = ["plant_id", "production_date", "machine_id"]


production_checks = [
    pandera_check(["silver", "shots"], SilverShots, blocking=True),
    pandera_check(["silver", "machine_events"], SilverMachineEvents, blocking=True),
    pandera_check(["silver", "quality_inspections"], SilverQualityInspections, blocking=True),
    pandera_check(
        ["silver", "machine_state_intervals"], SilverMachineStateIntervals, blocking=True
    ),
    pandera_check(["gold", "oee_daily"], GoldOeeDaily, blocking=False),
    pandera_check(["gold", "run_rate_hourly"], GoldRunRateHourly, blocking=False),
    pandera_check(["gold", "loss_daily"], GoldLossDaily, blocking=False),
]
