"""Checks judged per plant-day: one validation pass over a run of many plant-days gives each
plant-day the verdict it would get alone (checks/contracts.validate_by_partition)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl

from manufacturing_assets.checks.contracts import contract, validate, validate_by_partition
from manufacturing_assets_tests.test_checks_and_alerts import frame, silver_row

D1, D2, D3 = date(2024, 3, 4), date(2024, 3, 5), date(2024, 3, 6)


def _day(day: date, hour: int, **over) -> dict:
    return silver_row(
        production_date=day, ts=datetime(day.year, day.month, day.day, hour, tzinfo=UTC), **over
    )


def test_one_pass_gives_each_plant_day_its_own_verdict() -> None:
    rows = frame(
        _day(D1, 7),
        _day(D1, 7),  # duplicate (device_id, ts): fails D1 only
        _day(D2, 7),  # clean day
        _day(D3, 7, vibration_mm_s=150.0),  # out of range but is_valid = true: fails D3 only
        _day(D3, 8, plant_id="P02"),  # the other plant's clean day
    )
    parts = [("P01", D1), ("P01", D2), ("P01", D3), ("P02", D3), ("P02", D1)]
    schema = contract("silver/sensor_readings")
    together = validate_by_partition(schema, rows, parts)
    for plant, day in parts:
        alone = rows.filter((pl.col("plant_id") == plant) & (pl.col("production_date") == day))
        passed, meta = validate(schema, alone)
        assert together[(plant, day)][0] == passed, (plant, day)
        assert together[(plant, day)][1]["rows"] == meta["rows"] == alone.height
        if not passed:
            assert together[(plant, day)][1]["failures"] == meta["failures"]
    assert [p for p in parts if not together[p][0]] == [("P01", D1), ("P01", D3)]
    assert together[("P02", D1)] == (True, {"rows": 0})  # a plant-day without rows passes


def test_a_schema_error_fails_every_plant_day() -> None:
    rows = frame(_day(D1, 7), _day(D2, 7)).drop("is_valid")  # a missing column: no row named
    verdicts = validate_by_partition("silver/sensor_readings", rows, [("P01", D1), ("P01", D2)])
    assert [v[0] for v in verdicts.values()] == [False, False]
