"""Bad input never crashes a run and is never silently lost (Dagster-level)."""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance, materialize

from manufacturing_assets.environment import Settings, build_resources
from manufacturing_assets.io_managers.delta import read_delta
from manufacturing_assets.partitions import PLANT_DIMENSION, partition_key
from manufacturing_assets.pipeline import ALL_DEFS, QUIET
from manufacturing_assets_tests.helpers import jsonl, land, reading, write_plants

BRONZE = [AssetKey(["bronze", "sensor_readings"])]
SILVER = [
    AssetKey(["silver", "sensor_readings"]),
    AssetKey(["quarantine", "sensor_readings"]),
    AssetKey(["gold", "sensor_hourly"]),
]
REF = [AssetKey(["reference", "plants"])]


@pytest.fixture
def env(tmp_path: Path):
    settings = Settings.from_env({"MA_DATA_DIR": str(tmp_path)})
    resources = build_resources(settings)
    (tmp_path / "home").mkdir()
    with DagsterInstance.local_temp(str(tmp_path / "home")) as instance:
        instance.add_dynamic_partitions(PLANT_DIMENSION, ["P01", "P02"])
        yield settings, resources, instance


def run(env, selection, plant: str, day: str, raise_on_error: bool = True):
    settings, resources, instance = env
    return materialize(
        ALL_DEFS,
        selection=selection,
        partition_key=None if selection == REF else str(partition_key(plant, day)),
        instance=instance,
        resources=resources,
        raise_on_error=raise_on_error,
        run_config=QUIET,
    )


def test_corrupt_file_unknown_column_and_malformed_record(env) -> None:
    settings, resources, _ = env
    landing = resources["landing"]
    write_plants(landing)
    land(
        landing,
        "sensor_readings",
        "P01",
        "2024-03-04",
        "good.jsonl",
        jsonl([reading("P01-M01-T1", "2024-03-04T10:00:00+01:00"), "{broken"]),
    )
    land(
        landing, "sensor_readings", "P01", "2024-03-04", "bad.jsonl.gz", b"\x1f\x8b not really gzip"
    )
    land(
        landing,
        "sensor_readings",
        "P01",
        "2024-03-04",
        "html.jsonl",
        b"<html>\n<body>oops</body>\n</html>\n",
    )
    csv = (
        "device_id,plant_id,machine_id,ts,firmware,status,temperature_c,humidity_pct,pressure_bar,vibration_mm_s,oil_level_pct\n"
        "P01-M02-T1,P01,P01-M02,2024-03-04T11:00:00+01:00,2.4.0,active,60,40,2,1,77.5\n"
    )
    land(landing, "sensor_readings", "P01", "2024-03-04", "extra.csv", csv.encode())
    run(env, REF, "", "")
    bronze_result = run(env, BRONZE, "P01", "2024-03-04")
    meta = bronze_result.asset_materializations_for_node("bronze__sensor_readings")[0].metadata
    assert "bad.jsonl.gz" in str(meta["unreadable_files"].value)
    assert run(env, SILVER, "P01", "2024-03-04").success

    silver = read_delta(f"{settings.lake_root}/silver/sensor_readings")
    quarantine = read_delta(f"{settings.lake_root}/quarantine/sensor_readings")
    assert silver.height == 2 and silver["oil_level_pct"].drop_nulls().to_list() == [77.5]
    rows = {
        (Path(r["source"]).name, r["line_number"]): (r["reason"], r["detail"])
        for r in quarantine.iter_rows(named=True)
    }
    assert rows[("good.jsonl", 2)] == ("malformed_record", "invalid JSON")
    assert rows[("bad.jsonl.gz", 0)][0] == "malformed_record"
    assert rows[("bad.jsonl.gz", 0)][1].startswith("file unreadable: ")
    assert [rows[("html.jsonl", n)][0] for n in (1, 2, 3)] == ["malformed_record"] * 3


def test_empty_partition_runs_and_does_not_touch_others(env) -> None:
    settings, resources, _ = env
    landing = resources["landing"]
    write_plants(landing)
    land(
        landing,
        "sensor_readings",
        "P02",
        "2024-03-04",
        "a.jsonl",
        jsonl([reading("P02-M01-T1", "2024-03-04T10:00:00-06:00", plant_id="P02")]),
    )
    run(env, REF, "", "")
    for plant in ("P01", "P02"):
        assert run(env, BRONZE, plant, "2024-03-04").success
        assert run(env, SILVER, plant, "2024-03-04").success
    silver = read_delta(f"{settings.lake_root}/silver/sensor_readings")
    assert silver.select("plant_id", "production_date").rows() == [("P02", date(2024, 3, 4))]
    gold = read_delta(f"{settings.lake_root}/gold/sensor_hourly")
    assert gold["plant_id"].to_list() == ["P02"]


def test_plant_without_timezone_fails_with_a_clear_message(env) -> None:
    _, resources, instance = env
    landing = resources["landing"]
    write_plants(landing)
    instance.add_dynamic_partitions(PLANT_DIMENSION, ["P09"])
    land(
        landing,
        "sensor_readings",
        "P09",
        "2024-03-04",
        "a.jsonl",
        jsonl([reading("P09-M01-T1", "2024-03-04T10:00:00Z")]),
    )
    run(env, REF, "", "")
    run(env, BRONZE, "P09", "2024-03-04")
    result = run(env, SILVER, "P09", "2024-03-04", raise_on_error=False)
    assert not result.success
    failure = [e for e in result.all_events if e.is_step_failure][0]
    assert "P09" in str(failure.event_specific_data.error) and "timezone" in str(
        failure.event_specific_data.error
    )


def test_gzip_jsonl_and_csv_are_read(env) -> None:
    settings, resources, _ = env
    landing = resources["landing"]
    write_plants(landing)
    land(
        landing,
        "sensor_readings",
        "P01",
        "2024-03-04",
        "a.jsonl.gz",
        gzip.compress(jsonl([reading("P01-M01-T1", "2024-03-04T10:00:00+01:00")])),
    )
    csv = (
        "device_id,plant_id,machine_id,ts,firmware,status,temperature_c,humidity_pct,"
        "pressure_bar,vibration_mm_s\n"
        "P01-M02-T1,P01,P01-M02,2024-03-04T11:00:00+01:00,2.4.0,active,70.0,40.0,2.0,3.0\n"
    )
    land(landing, "sensor_readings", "P01", "2024-03-04", "b.csv", csv.encode())
    run(env, REF, "", "")
    run(env, BRONZE, "P01", "2024-03-04")
    bronze = read_delta(f"{settings.lake_root}/bronze/sensor_readings").sort("source")
    assert bronze.select("source_format", "line_number", "parse_error", "device_id").rows() == [
        ("jsonl.gz", 1, None, "P01-M01-T1"),
        ("csv", 2, None, "P01-M02-T1"),
    ]
    assert bronze["landing_date"].to_list() == [date(2024, 3, 4)] * 2
    assert pl.Series(bronze["raw_payload"]).str.contains("P01-M0").all()
    # both reach silver with the same values (the CSV cells are parsed like JSON numbers)
    assert run(env, SILVER, "P01", "2024-03-04").success
    silver = read_delta(f"{settings.lake_root}/silver/sensor_readings").sort("device_id")
    metrics = ["temperature_c", "humidity_pct", "pressure_bar", "vibration_mm_s"]
    assert silver.select("device_id", *metrics, "flags").rows() == [
        ("P01-M01-T1", 70.0, 40.0, 2.0, 3.0, ""),
        ("P01-M02-T1", 70.0, 40.0, 2.0, 3.0, ""),
    ]
