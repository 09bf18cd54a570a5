"""Stages that split a big partition into buckets give exactly what one pass gives
(issue 10: silver shots in shot-id buckets, gold sensor_hourly in machine buckets)."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from manufacturing_assets.ingest.reference import read_reference
from manufacturing_assets.resources.engine import EngineResource
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets.stages import gold, silver
from manufacturing_assets.stages.bronze import read_bronze
from manufacturing_assets.stages.plants import PlantDays
from manufacturing_assets_tools.benchmarks.production_data import generate_production_benchmark
from manufacturing_assets_tools.benchmarks.sensor_readings_data import (
    generate_sensor_readings_benchmark,
)
from manufacturing_assets_tools.benchmarks.timing import DAY, PLANT, TZ


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    columns = sorted(frame.columns)
    return frame.select(columns).sort(columns, nulls_last=True)


def test_silver_shots_in_buckets_equal_one_pass(tmp_path, monkeypatch) -> None:
    landing = LandingZone(root=str(tmp_path))
    generate_production_benchmark(landing, PLANT, DAY, 3_000, machines=6, timezone=TZ)
    bronze = read_bronze(landing, "shots", {PLANT: [DAY]}, datetime.now(UTC))[0]
    # re-deliveries with a padded id in another file, and records without an id
    again = bronze.head(300).with_columns(
        (" " + pl.col("shot_id") + " ").alias("shot_id"), (pl.col("source") + "-again")
    )
    no_id = bronze.slice(500, 50).with_columns(
        pl.lit(None, pl.String).alias("shot_id"), pl.col("line_number") + 1_000_000
    )
    bronze = pl.concat([bronze, again, no_id])
    assignments = read_reference(landing, "mold_assignments")[0]
    plant = PlantDays(PLANT, TZ, (DAY,))
    whole = silver.silver_shots(EngineResource(), bronze, plant, assignments)
    monkeypatch.setattr(silver, "SHOT_BUCKET_ROWS", 400)  # about 9 buckets
    parts = silver.silver_shots(EngineResource(), bronze, plant, assignments)
    assert whole.quarantine.height == 50 and whole.quarantine["raw_payload"].null_count() == 0
    assert _sorted(parts.silver).equals(_sorted(whole.silver))
    assert _sorted(parts.quarantine).equals(_sorted(whole.quarantine))


def test_gold_sensor_hourly_in_buckets_equals_one_pass(tmp_path, monkeypatch) -> None:
    landing = LandingZone(root=str(tmp_path))
    generate_sensor_readings_benchmark(landing, PLANT, DAY, 20_000, files=2, machines=7)
    bronze = read_bronze(landing, "sensor_readings", {PLANT: [DAY]}, datetime.now(UTC))[0]
    plant = PlantDays(PLANT, TZ, (DAY,))
    rows = next(silver.silver_sensor_readings(EngineResource(), bronze.lazy(), plant)).silver
    whole = gold.sensor_hourly(EngineResource(), rows.lazy())
    monkeypatch.setattr(gold, "GOLD_BUCKET_ROWS", 3_000)  # 7 buckets
    assert gold.sensor_hourly(EngineResource(), rows.lazy()).equals(whole)
