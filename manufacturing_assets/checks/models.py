"""Pandera models: the quality contract of silver and gold tables (pandera.polars)."""

from __future__ import annotations

from typing import Annotated

import pandera.polars as pa
import polars as pl

from manufacturing_assets.contract import METRIC_RANGES, SENSOR_STATUSES

UtcTimestamp = Annotated[pl.Datetime, "us", "UTC"]


class SilverSensorReadings(pa.DataFrameModel):
    """One validated, deduplicated sensor reading (contract 3.1, 5, 7)."""

    plant_id: str = pa.Field(nullable=False, description="Plant of the landing folder.")
    production_date: pl.Date = pa.Field(nullable=False, description="Plant-local date of `ts`.")
    device_id: str = pa.Field(nullable=False, description="Sensor device.")
    machine_id: str = pa.Field(nullable=False, description="Machine the device is mounted on.")
    ts: UtcTimestamp = pa.Field(nullable=False, description="Reading time, UTC (microseconds).")
    firmware: str = pa.Field(nullable=True, description="Device firmware as sent.")
    status: str = pa.Field(
        nullable=True, description="active, idle or faulty; anything else is flagged."
    )
    temperature_from_f: bool = pa.Field(
        description="Temperature was sent in Fahrenheit and converted."
    )
    temperature_c: float = pa.Field(
        nullable=True, description="Degrees Celsius (null: missing, sentinel or unparseable)."
    )
    humidity_pct: float = pa.Field(nullable=True, description="Relative humidity, percent.")
    pressure_bar: float = pa.Field(nullable=True, description="Pressure, bar.")
    vibration_mm_s: float = pa.Field(nullable=True, description="Vibration velocity, mm/s.")
    is_valid: bool = pa.Field(description="False only when a metric is out of its range.")
    flags: str = pa.Field(
        nullable=False, description="Comma-separated flags, e.g. `sentinel:pressure_bar`."
    )
    source: str = pa.Field(
        nullable=False, description="Lineage: landing file key or Kafka topic/partition/offset."
    )
    line_number: int = pa.Field(nullable=False, description="Lineage: line in the source file.")
    ingested_at: UtcTimestamp = pa.Field(
        nullable=False, description="Lineage: when bronze read the file."
    )

    class Config:
        strict = False  # unknown metrics are promoted to extra columns
        unique = ["device_id", "ts"]

    @pa.dataframe_check(error="is_valid must be false exactly when a metric is out of range")
    def is_valid_matches_ranges(cls, data: pa.PolarsData) -> pl.LazyFrame:
        out = pl.lit(False)
        for m, (lo, hi) in METRIC_RANGES.items():
            out = out | (pl.col(m).is_not_null() & ~pl.col(m).is_between(lo, hi)).fill_null(False)
        return data.lazyframe.select(pl.col("is_valid") == ~out)

    @pa.dataframe_check(error="status outside active/idle/faulty must be flagged invalid_status")
    def invalid_status_flagged(cls, data: pa.PolarsData) -> pl.LazyFrame:
        ok = pl.col("status").is_in(list(SENSOR_STATUSES)).fill_null(False)
        return data.lazyframe.select(ok | pl.col("flags").str.contains("invalid_status"))


class GoldSensorHourly(pa.DataFrameModel):
    """Hourly sensor statistics per plant and machine (contract 6.1)."""

    plant_id: str = pa.Field(nullable=False, description="Plant.")
    production_date: pl.Date = pa.Field(
        nullable=False, description="Plant-local production date of the readings."
    )
    machine_id: str = pa.Field(nullable=False, description="Machine.")
    hour_start_utc: UtcTimestamp = pa.Field(
        nullable=False, description="UTC floor of the reading time."
    )
    readings: int = pa.Field(ge=1, description="Rows in silver for the hour.")
    valid_readings: int = pa.Field(ge=0, description="Rows with is_valid.")
    temperature_c_avg: float = pa.Field(
        nullable=True, ge=-40, le=150, description="Mean of valid values."
    )
    temperature_c_min: float = pa.Field(
        nullable=True, ge=-40, le=150, description="Min of valid values."
    )
    temperature_c_max: float = pa.Field(
        nullable=True, ge=-40, le=150, description="Max of valid values."
    )
    humidity_pct_avg: float = pa.Field(
        nullable=True, ge=0, le=100, description="Mean of valid values."
    )
    humidity_pct_min: float = pa.Field(
        nullable=True, ge=0, le=100, description="Min of valid values."
    )
    humidity_pct_max: float = pa.Field(
        nullable=True, ge=0, le=100, description="Max of valid values."
    )
    pressure_bar_avg: float = pa.Field(
        nullable=True, ge=0, le=400, description="Mean of valid values."
    )
    pressure_bar_min: float = pa.Field(
        nullable=True, ge=0, le=400, description="Min of valid values."
    )
    pressure_bar_max: float = pa.Field(
        nullable=True, ge=0, le=400, description="Max of valid values."
    )
    vibration_mm_s_avg: float = pa.Field(
        nullable=True, ge=0, le=100, description="Mean of valid values."
    )
    vibration_mm_s_min: float = pa.Field(
        nullable=True, ge=0, le=100, description="Min of valid values."
    )
    vibration_mm_s_max: float = pa.Field(
        nullable=True, ge=0, le=100, description="Max of valid values."
    )
    vibration_mm_s_p95: float = pa.Field(
        nullable=True, ge=0, le=100, description="95th percentile (linear)."
    )

    class Config:
        strict = True
        unique = ["plant_id", "production_date", "machine_id", "hour_start_utc"]

    @pa.dataframe_check(error="valid_readings must not exceed readings")
    def valid_le_total(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("valid_readings") <= pl.col("readings"))

    @pa.dataframe_check(error="min <= avg <= max for every metric")
    def ordered_stats(cls, data: pa.PolarsData) -> pl.LazyFrame:
        ok = pl.lit(True)
        for m in METRIC_RANGES:
            ok = ok & (
                (pl.col(f"{m}_min") <= pl.col(f"{m}_avg") + 1e-9)
                & (pl.col(f"{m}_avg") <= pl.col(f"{m}_max") + 1e-9)
            ).fill_null(True)
        return data.lazyframe.select(ok)
