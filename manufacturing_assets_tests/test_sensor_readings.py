"""Sensor readings bronze -> silver -> gold against hand-computed expectations (contract 3.1, 5-7)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest

from manufacturing_assets.transforms.sensor_readings import (
    gold_sensor_hourly,
    silver_sensor_readings,
)
from manufacturing_assets_tests.helpers import bronze_of, collect, jsonl, lazy, reading

TZ = "Europe/Berlin"
A = "raw/sensor_readings/plant=P01/date=2024-03-04/a.jsonl"
B = "raw/sensor_readings/plant=P01/date=2024-03-05/b.csv"
DEV = "P01-M01-T1"

FILE_A = jsonl(
    [
        reading(
            DEV,
            "2024-03-04T08:00:00+01:00",
            {"temperature_c": "71.5", "humidity_pct": 40, "pressure_bar": 2, "vibration_mm_s": 3},
        ),
        reading(DEV, "2024-03-04T07:00:00Z"),  # same instant as line 1: re-delivery
        reading(
            DEV,
            "2024-03-04T08:10:00+01:00",
            {
                "temperature_f": 212,
                "humidity_pct": "abc",
                "pressure_bar": 9999,
                "vibration_mm_s": 150,
                "spindle_rpm": 1200,
            },
            firmware="3.1.0",
        ),
        reading(
            DEV,
            "2024-03-04T08:20:00+01:00",
            {"temperature_c": -999, "humidity_pct": 41, "pressure_bar": 2.2, "vibration_mm_s": 5},
            status="broken",
        ),
        "not json",
        reading(DEV, "2024-03-04T08:25:00+01:00", machine_id=None),
        reading("", "2024-03-04T08:26:00+01:00", machine_id="P01-M01"),
        {k: v for k, v in reading(DEV, "x").items() if k != "ts"},
        reading(DEV, "yesterday"),
        reading(DEV, "2024-03-07T10:00:00+01:00"),
        reading(DEV, "2024-03-03T23:30:00+01:00"),
        reading(
            DEV,
            "2024-03-04T08:40:00",
            {"temperature_c": 72, "humidity_pct": 42, "pressure_bar": 2.5, "vibration_mm_s": 4},
            plant_id="P02",
        ),
        reading(DEV, "garbage", machine_id=" "),
    ]
)
FILE_B = (
    "device_id,plant_id,machine_id,ts,firmware,status,temperature_c,humidity_pct,pressure_bar,vibration_mm_s\n"
    f"{DEV},P01,P01-M01,2024-03-04T23:50:00+01:00,2.4.0,idle,65,45,,2\n"
    f"{DEV},P01,P01-M01,2024-03-04T08:00:00+01:00,2.4.0,active,71.5,40,2,3\n"
).encode()


@pytest.fixture(scope="module")
def bronze() -> pl.DataFrame:
    return bronze_of([(A, FILE_A), (B, FILE_B)])


def run_silver(bronze: pl.DataFrame, dates: list[date]) -> tuple[pl.DataFrame, pl.DataFrame]:
    result = silver_sensor_readings(lazy(bronze), TZ, dates)
    return collect(result.silver).sort("ts"), collect(result.quarantine).sort("line_number")


def test_bronze_keeps_every_record_with_lineage(bronze: pl.DataFrame) -> None:
    assert bronze.height == 15
    assert bronze.filter(pl.col("source") == A)["line_number"].to_list() == list(range(1, 14))
    assert bronze.filter(pl.col("source") == B)["line_number"].to_list() == [2, 3]
    bad = bronze.filter(pl.col("line_number") == 5, pl.col("source") == A)
    assert bad["raw_payload"].item() == "not json" and bad["parse_error"].item() == "invalid JSON"
    assert bronze["file_hash"].n_unique() == 2 and bronze["ingested_at"].null_count() == 0
    assert "metric__spindle_rpm" in bronze.columns


def test_silver_rows_values_and_flags(bronze: pl.DataFrame) -> None:
    silver, _ = run_silver(bronze, [date(2024, 3, 4)])
    assert silver.height == 5
    by_line = {(r["source"], r["line_number"]): r for r in silver.iter_rows(named=True)}
    first = by_line[(A, 1)]
    assert first["temperature_c"] == 71.5  # numeric string
    assert first["deliveries"] == 3  # line 2 and the CSV copy are re-deliveries
    assert first["ts"] == datetime(2024, 3, 4, 7, 0, tzinfo=UTC)
    assert first["flags"] == "" and first["is_valid"]

    drift = by_line[(A, 3)]
    assert drift["temperature_c"] == pytest.approx(100.0) and drift["temperature_from_f"]
    assert drift["humidity_pct"] is None and drift["pressure_bar"] is None
    assert drift["vibration_mm_s"] == 150.0 and not drift["is_valid"]
    assert drift["spindle_rpm"] == 1200.0
    assert (
        drift["flags"]
        == "unparseable:humidity_pct,sentinel:pressure_bar,out_of_range:vibration_mm_s"
    )

    status = by_line[(A, 4)]
    assert status["temperature_c"] is None and status["is_valid"]
    assert status["flags"] == "sentinel:temperature_c,invalid_status"

    naive = by_line[(A, 12)]
    assert naive["ts"] == datetime(2024, 3, 4, 7, 40, tzinfo=UTC)  # plant-local, CET
    assert naive["flags"] == "plant_mismatch" and naive["plant_id"] == "P01"

    neighbour = by_line[(B, 2)]  # landed in the 03-05 folder, belongs to 03-04
    assert neighbour["landing_date"] == date(2024, 3, 5)
    assert neighbour["production_date"] == date(2024, 3, 4)
    assert neighbour["pressure_bar"] is None and neighbour["flags"] == ""  # empty cell: no flag


def test_quarantine_reasons_in_contract_order(bronze: pl.DataFrame) -> None:
    _, quarantine = run_silver(bronze, [date(2024, 3, 4)])
    assert quarantine.select("line_number", "reason").rows() == [
        (5, "malformed_record"),
        (6, "missing_machine_id"),
        (7, "missing_device_id"),
        (8, "missing_ts"),
        (9, "unparseable_ts"),
        (10, "out_of_window"),
        (13, "missing_machine_id"),
    ]
    assert set(quarantine["production_date"]) == {date(2024, 3, 4)}
    oow = quarantine.filter(pl.col("reason") == "out_of_window")
    assert "2024-03-07" in oow["detail"].item() and "2024-03-04" in oow["detail"].item()
    assert quarantine.filter(pl.col("line_number") == 5)["raw_payload"].item() == "not json"
    assert quarantine["source"].to_list() == [A] * 7


def test_previous_day_record_goes_to_its_production_date(bronze: pl.DataFrame) -> None:
    silver, quarantine = run_silver(bronze, [date(2024, 3, 3)])
    assert silver.select("source", "line_number").rows() == [(A, 11)]
    assert quarantine.is_empty()


def test_nothing_is_lost(bronze: pl.DataFrame) -> None:
    """Every bronze record is in exactly one of silver, quarantine or the duplicate count."""
    days = [date(2024, 3, d) for d in (3, 4, 5)]
    silver, quarantine = run_silver(bronze, days)
    duplicates = int(silver["deliveries"].sum()) - silver.height
    assert silver.height + quarantine.height + duplicates == bronze.height
    assert duplicates == 2
    seen = pl.concat(
        [silver.select("source", "line_number"), quarantine.select("source", "line_number")]
    )
    assert seen.is_duplicated().sum() == 0


def test_gold_sensor_hourly_hand_computed(bronze: pl.DataFrame) -> None:
    silver, _ = run_silver(bronze, [date(2024, 3, 4)])
    gold = collect(gold_sensor_hourly(lazy(silver)))
    assert gold.height == 2
    h7 = gold.filter(pl.col("hour_start_utc") == datetime(2024, 3, 4, 7, tzinfo=UTC)).row(
        0, named=True
    )
    assert (h7["readings"], h7["valid_readings"]) == (4, 3)
    assert h7["temperature_c_avg"] == pytest.approx((71.5 + 100 + 72) / 3)
    assert (h7["temperature_c_min"], h7["temperature_c_max"]) == (71.5, pytest.approx(100.0))
    assert (h7["humidity_pct_avg"], h7["humidity_pct_min"], h7["humidity_pct_max"]) == (
        41.0,
        40.0,
        42.0,
    )
    assert h7["pressure_bar_avg"] == pytest.approx(6.7 / 3)
    assert (h7["vibration_mm_s_avg"], h7["vibration_mm_s_min"], h7["vibration_mm_s_max"]) == (
        4.0,
        3.0,
        5.0,
    )
    assert h7["vibration_mm_s_p95"] == pytest.approx(4.9)  # numpy linear: 4 + 0.9 * (5 - 4)
    h22 = gold.filter(pl.col("hour_start_utc") == datetime(2024, 3, 4, 22, tzinfo=UTC)).row(
        0, named=True
    )
    assert (h22["readings"], h22["valid_readings"], h22["temperature_c_avg"]) == (1, 1, 65.0)
    assert h22["pressure_bar_avg"] is None and h22["vibration_mm_s_p95"] == 2.0


def test_dst_gap_and_fold_local_timestamps() -> None:
    spring = "raw/sensor_readings/plant=P01/date=2024-03-31/dst.jsonl"
    autumn = "raw/sensor_readings/plant=P01/date=2024-10-27/dst.jsonl"
    bronze = bronze_of(
        [
            (spring, jsonl([reading(DEV, "2024-03-31T02:30:00")])),  # gap: shifted to 03:30 CEST
            (autumn, jsonl([reading(DEV, "2024-10-27T02:30:00")])),  # fold: earlier offset (CEST)
        ]
    )
    silver, quarantine = run_silver(bronze, [date(2024, 3, 31), date(2024, 10, 27)])
    assert quarantine.is_empty()
    assert silver["ts"].to_list() == [
        datetime(2024, 3, 31, 1, 30, tzinfo=UTC),
        datetime(2024, 10, 27, 0, 30, tzinfo=UTC),
    ]
