"""The same Narwhals transformations on Polars and on PySpark (local mode) give the same tables."""

from __future__ import annotations

from datetime import date
from typing import Any

import narwhals as nw
import polars as pl
from polars.testing import assert_frame_equal

from manufacturing_assets.resources.engine import collect_polars, to_spark
from manufacturing_assets.transforms.sensor_readings import (
    gold_sensor_hourly,
    silver_sensor_readings,
)
from manufacturing_assets_tests.helpers import bronze_of, collect, lazy
from manufacturing_assets_tests.test_sensor_readings import FILE_A, FILE_B, A, B

DAYS = [date(2024, 3, 3), date(2024, 3, 4), date(2024, 3, 5)]


def on_spark(spark: Any, frame: pl.DataFrame) -> nw.LazyFrame:
    return nw.from_native(to_spark(spark, frame))


def same(left: pl.DataFrame, right: pl.DataFrame, keys: list[str]) -> None:
    assert sorted(left.columns) == sorted(right.columns)
    right = right.select(left.columns)
    assert_frame_equal(
        left.sort(keys), right.sort(keys), check_dtypes=False, abs_tol=1e-9, rel_tol=1e-9
    )


def test_sensor_readings_silver_and_gold_parity(spark: Any) -> None:
    bronze = bronze_of([(A, FILE_A), (B, FILE_B)])
    on_polars = silver_sensor_readings(lazy(bronze), "Europe/Berlin", DAYS)
    on_sp = silver_sensor_readings(on_spark(spark, bronze), "Europe/Berlin", DAYS)

    silver_pl, silver_sp = collect(on_polars.silver), collect_polars(on_sp.silver)
    assert silver_pl.height == 6
    same(silver_pl, silver_sp, ["source", "line_number"])
    same(collect(on_polars.quarantine), collect_polars(on_sp.quarantine), ["source", "line_number"])

    gold_pl = collect(gold_sensor_hourly(lazy(silver_pl)))
    gold_sp = collect_polars(gold_sensor_hourly(on_spark(spark, silver_pl)))
    assert gold_pl.height == 3
    same(gold_pl, gold_sp, ["production_date", "machine_id", "hour_start_utc"])


def test_dst_local_timestamps_parity(spark: Any) -> None:
    from manufacturing_assets_tests.helpers import jsonl, reading

    files = [
        (
            "raw/sensor_readings/plant=P01/date=2024-03-31/a.jsonl",
            jsonl([reading("P01-M01-T1", "2024-03-31T02:30:00")]),
        ),
        (
            "raw/sensor_readings/plant=P01/date=2024-10-27/a.jsonl",
            jsonl([reading("P01-M01-T1", "2024-10-27T02:30:00")]),
        ),
    ]
    bronze = bronze_of(files)
    days = [date(2024, 3, 31), date(2024, 10, 27)]
    pl_rows = collect(silver_sensor_readings(lazy(bronze), "Europe/Berlin", days).silver)
    sp_rows = collect_polars(
        silver_sensor_readings(on_spark(spark, bronze), "Europe/Berlin", days).silver
    )
    assert sorted(pl_rows["ts"].to_list()) == sorted(sp_rows["ts"].to_list())
