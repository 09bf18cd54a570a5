"""Health rules (``ops/health.py``) and the ``plant_health`` sensor on generated data: devices
removed, files withheld from bronze, a plant that stops sending, a plant-day never built."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
from dagster import AssetKey, DagsterInstance, SensorResult, SkipReason, build_sensor_context
from deltalake import write_deltalake

from manufacturing_assets.environment import HealthSettings
from manufacturing_assets.io_managers.delta import DeltaLakeIOManager
from manufacturing_assets.ops.health import (
    incomplete_plant_days,
    landing_backlog,
    running_plants,
    silent_devices,
    stalled_plants,
)
from manufacturing_assets.resources.ledger import LEDGER_SCHEMA, LandingLedger, ledger_uri
from manufacturing_assets.sensors.health import evaluate_health

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
DAY = date(2024, 3, 9)


def readings(plant: str, devices: int, today: int) -> pl.DataFrame:
    """``devices`` devices on each of the 7 days before DAY; the first ``today`` on DAY."""
    rows = [
        (plant, DAY - timedelta(days=n), f"{plant}-M{d:02d}-T1")
        for n in range(1, 8)
        for d in range(devices)
    ]
    rows += [(plant, DAY, f"{plant}-M{d:02d}-T1") for d in range(today)]
    return pl.DataFrame(rows, schema=["plant_id", "production_date", "device_id"], orient="row")


def test_silent_devices_warns_above_ten_percent_of_last_weeks_devices() -> None:
    three_gone = silent_devices(readings("P01", 20, 17), "P01", DAY)
    assert not three_gone.passed
    meta = three_gone.metadata
    assert (meta["expected_devices"], meta["silent_devices"], meta["silent_share"]) == (20, 3, 0.15)
    assert meta["silent"] == "P01-M17-T1, P01-M18-T1, P01-M19-T1"
    assert three_gone.description.startswith("3 of 20 devices seen in the previous 7 days")
    assert silent_devices(readings("P01", 20, 18), "P01", DAY).passed  # 10 %: not above
    # a device seen only 8 days ago is not expected
    old = pl.DataFrame(
        [("P01", DAY - timedelta(days=8), "P01-OLD-T1")],
        schema=["plant_id", "production_date", "device_id"],
        orient="row",
    )
    both = pl.concat([readings("P01", 20, 20), old])
    assert silent_devices(both, "P01", DAY).metadata["expected_devices"] == 20


def ledger_rows(*rows: tuple[str, str, str, datetime]) -> pl.DataFrame:
    """(key, plant, landing date, first seen) -> ledger rows of new raw files."""
    base = dict.fromkeys(LEDGER_SCHEMA)
    return pl.DataFrame(
        [
            {
                **base,
                "key": key,
                "plant_id": plant,
                "landing_date": date.fromisoformat(day),
                "first_seen": seen,
                "last_modified": seen,
                "kind": "raw",
                "stream": "sensor_readings",
                "status": "new",
                "size": 1,
            }
            for key, plant, day, seen in rows
        ],
        schema=LEDGER_SCHEMA,
    )


LANDED = [
    ("raw/sensor_readings/plant=P01/date=2024-03-10/a.jsonl", "P01", "2024-03-10", NOW - timedelta(hours=2)),
    ("raw/sensor_readings/plant=P01/date=2024-03-10/b.jsonl", "P01", "2024-03-10", NOW - timedelta(hours=2)),
    ("raw/sensor_readings/plant=P01/date=2024-03-10/c.jsonl", "P01", "2024-03-10", NOW - timedelta(minutes=90)),
    ("raw/sensor_readings/plant=P01/date=2024-03-10/d.jsonl", "P01", "2024-03-10", NOW - timedelta(minutes=20)),
    ("raw/sensor_readings/plant=P02/date=2024-03-10/e.jsonl", "P02", "2024-03-10", NOW - timedelta(hours=3)),
]  # fmt: skip


def test_landing_backlog_lists_files_withheld_from_bronze() -> None:
    landed = ledger_rows(*LANDED)
    in_bronze = {LANDED[0][0], LANDED[4][0]}  # b and c withheld; d is too young to count
    verdicts = landing_backlog(landed, in_bronze, NOW, timedelta(hours=1))
    assert verdicts["P02"].passed
    p01 = verdicts["P01"]
    assert not p01.passed
    assert (p01.metadata["backlog_files"], p01.metadata["oldest_minutes"]) == (2, 120.0)
    assert p01.metadata["files"] == f"{LANDED[1][0]}, {LANDED[2][0]}"


def test_ingestion_stall_only_for_plants_scheduled_to_run() -> None:
    events = pl.DataFrame(
        [
            ("P01", "P01-M01", NOW - timedelta(hours=5), "RUNNING"),
            ("P02", "P02-M01", NOW - timedelta(hours=6), "RUNNING"),
            ("P02", "P02-M01", NOW - timedelta(hours=5), "PLANNED_STOP"),
            ("P03", "P03-M01", NOW - timedelta(hours=5), "IDLE"),
        ],
        schema=["plant_id", "machine_id", "ts", "state"],
        orient="row",
    )
    scheduled = running_plants(events)
    assert scheduled == {"P01", "P03"}  # P02's machines are in a planned stop
    landed = ledger_rows(*LANDED)
    verdicts = stalled_plants(landed, scheduled, NOW, timedelta(minutes=15))
    assert set(verdicts) == {"P01", "P03"}
    assert not verdicts["P01"].passed and verdicts["P01"].metadata["minutes_since_last_file"] == 20
    assert not verdicts["P03"].passed and verdicts["P03"].metadata["last_file_at"] == "never"
    assert stalled_plants(landed, {"P01"}, NOW, timedelta(minutes=30))["P01"].passed


def test_plant_day_not_complete_in_time_is_named() -> None:
    zones = {"P01": "Europe/Berlin", "P02": "America/Chicago"}
    expected = [("P01", DAY), ("P02", DAY), ("P01", date(2024, 3, 10))]
    # P01's 2024-03-09 ended at 23:00Z, due at 04:00Z on the 10th (5 h grace); P02's ended at
    # 06:00Z (CST), due at 11:00Z although Chicago moved its clocks that night
    verdicts = incomplete_plant_days(expected, {("P01", DAY)}, zones, NOW, timedelta(hours=5))
    assert set(verdicts) == {("P01", DAY), ("P02", DAY)}  # the 10th is not due yet
    assert verdicts[("P01", DAY)].passed
    late = verdicts[("P02", DAY)]
    assert not late.passed
    assert late.metadata["due_at"] == "2024-03-10T11:00:00+00:00"
    assert late.metadata["hours_late"] == 1.0
    assert "plant P02, 2024-03-09" in late.description


def test_sensor_reports_each_incident_once_and_the_recovery(tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    io = DeltaLakeIOManager(root_uri=lake)
    ledger = LandingLedger(uri=ledger_uri(lake))
    ledger.append(ledger_rows(*LANDED))
    bronze = pl.DataFrame(
        {
            "plant_id": ["P01", "P02"],
            "landing_date": [date(2024, 3, 10)] * 2,
            "source": [LANDED[0][0], LANDED[4][0]],
        }
    )
    write_deltalake(f"{lake}/bronze/sensor_readings", bronze.to_arrow(), partition_by=["plant_id", "landing_date"])  # fmt: skip
    events = pl.DataFrame(
        {
            "plant_id": ["P01"],
            "machine_id": ["P01-M01"],
            "ts": [NOW - timedelta(hours=1)],
            "state": ["RUNNING"],
            "production_date": [date(2024, 3, 10)],
        }
    )
    write_deltalake(f"{lake}/silver/machine_events", events.to_arrow())
    (tmp_path / "home").mkdir()
    settings = HealthSettings()
    with DagsterInstance.local_temp(str(tmp_path / "home")) as instance:

        def tick(cursor: str | None, now: datetime = NOW):
            context = build_sensor_context(instance=instance, cursor=cursor)
            return evaluate_health(context, ledger, io, settings, now=now), context.cursor

        first, cursor = tick(None)
        assert isinstance(first, SensorResult)
        got = {(e.check_name, e.metadata["plant_id"].value): e.passed for e in first.asset_events}
        assert got == {
            ("landing_backlog", "P01"): False,
            ("landing_backlog", "P02"): True,
            ("ingestion_stalled", "P01"): False,
        }
        assert all(e.asset_key == AssetKey("landing_zone") for e in first.asset_events)
        second, cursor = tick(cursor)
        assert isinstance(second, SkipReason)  # nothing changed: no repeated alert
        # the withheld files reach bronze: the backlog clears, reported once
        more = pl.DataFrame(
            {
                "plant_id": ["P01", "P01"],
                "landing_date": [date(2024, 3, 10)] * 2,
                "source": [LANDED[1][0], LANDED[2][0]],
            }
        )
        write_deltalake(f"{lake}/bronze/sensor_readings", more.to_arrow(), mode="append")
        third, cursor = tick(cursor)
        assert [(e.check_name, e.passed) for e in third.asset_events] == [("landing_backlog", True)]


# ------------------------------------------------- silent devices: a plant-day check of silver
FIRST = date(2024, 3, 1)
WEEK = [FIRST + timedelta(days=n) for n in range(8)]  # 7 days of history, then the 8th


def land_readings(landing, day: date, devices: list[str], name: str = "a.jsonl") -> None:
    from manufacturing_assets_tests.helpers import jsonl, land, reading

    rows = [reading(d, f"{day.isoformat()}T10:{m:02d}:00+01:00") for d in devices for m in (0, 5)]
    land(landing, "sensor_readings", "P01", day.isoformat(), name, jsonl(rows))


def silent_rows(lake: str) -> pl.DataFrame:
    from manufacturing_assets.io_managers.delta import read_delta

    table = read_delta(f"{lake}/ops/data_quality_results")
    assert table is not None
    return table.filter(pl.col("rule") == "silent_devices").sort("production_date", "evaluation_id")


def test_silent_devices_is_judged_per_plant_day_in_the_silver_step(tmp_path: Path) -> None:
    """Ten devices a day for a week; on the 8th two send nothing (20 % > 10 %): the silver
    step of that plant-day warns, naming them; every other plant-day passes. The devices
    come late: re-running only the 8th (history read from the silver table) passes."""
    import json

    from manufacturing_assets.environment import Settings
    from manufacturing_assets.pipeline import run_pipeline
    from manufacturing_assets.resources.landing_zone import LandingZone
    from manufacturing_assets_tests.helpers import write_plants

    settings = Settings.from_env({"MA_DATA_DIR": str(tmp_path)})
    landing = LandingZone(root=settings.landing_root)
    write_plants(landing)
    devices = [f"P01-M{n:03d}-T1" for n in range(1, 11)]
    for day in WEEK[:-1]:
        land_readings(landing, day, devices)
    land_readings(landing, WEEK[-1], devices[:8])
    with DagsterInstance.ephemeral() as instance:
        report = run_pipeline(settings, instance, log=lambda *_: None)
        assert not report.failed_steps
        rows = silent_rows(settings.lake_root).filter(pl.col("production_date").is_in(WEEK))
        assert rows["asset"].unique().to_list() == ["silver/sensor_readings"]
        assert rows.select("production_date", "passed").rows() == [
            *[(d, True) for d in WEEK[:-1]],
            (WEEK[-1], False),
        ]
        eighth = rows.row(-1, named=True)
        assert (eighth["plant_id"], eighth["severity"]) == ("P01", "WARN")
        measured = json.loads(eighth["measured"])
        assert (measured["expected_devices"], measured["silent_devices"]) == (10, 2)
        assert measured["silent_share"] == 0.2
        assert measured["silent"] == "P01-M009-T1, P01-M010-T1"
        assert "2 of 10 devices" in eighth["description"]
        first = json.loads(rows.row(0, named=True)["measured"])
        assert first["expected_devices"] == 0  # no history yet: nothing can be silent

        # the two devices' readings arrive late; only the 8th is re-run
        land_readings(landing, WEEK[-1], devices[8:], name="late.jsonl")
        report = run_pipeline(settings, instance, [("P01", WEEK[-1])], log=lambda *_: None)
        assert not report.failed_steps
        again = silent_rows(settings.lake_root).filter(pl.col("production_date") == WEEK[-1])
        assert again["passed"].to_list() == [False, True]
        measured = json.loads(again.row(-1, named=True)["measured"])
        assert (measured["expected_devices"], measured["silent_devices"]) == (10, 0)


def test_health_thresholds_from_a_careless_operator_fail_clearly() -> None:
    """A typo in a threshold stops the code location with the variable named (never a
    silver step failing later); a share reads as 0.10 or 10%."""
    import pytest

    assert HealthSettings.from_env({"MA_SILENT_DEVICE_SHARE": "15%"}).silent_device_share == 0.15
    assert HealthSettings.from_env({"MA_SILENT_DEVICE_SHARE": " "}).silent_device_share == 0.10
    for text, why in [
        ("ten percent", "expected a number"),
        ("10", "between 0 and 1"),  # ten percent written as 10
        ("nan", "between 0 and 1"),
    ]:
        with pytest.raises(ValueError, match=f"MA_SILENT_DEVICE_SHARE='{text}'.*{why}"):
            HealthSettings.from_env({"MA_SILENT_DEVICE_SHARE": text})
    with pytest.raises(ValueError, match="MA_STALL_MINUTES='15min': expected a number"):
        HealthSettings.from_env({"MA_STALL_MINUTES": "15min"})
    with pytest.raises(ValueError, match="MA_BACKLOG_MINUTES='-5'"):
        HealthSettings.from_env({"MA_BACKLOG_MINUTES": "-5"})
