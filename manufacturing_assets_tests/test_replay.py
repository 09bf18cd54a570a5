"""Replay of quarantine and dead letters (issue 12): real files, real Delta quarantine from a
small generated run, a real Kafka broker for dead letters; replaying twice re-lands nothing;
the re-landed records reach silver through the pipeline."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from dagster import AssetCheckKey, AssetKey, DagsterInstance

from manufacturing_assets.cli import main as cli
from manufacturing_assets.environment import Settings, build_resources
from manufacturing_assets.io_managers.delta import read_delta
from manufacturing_assets.kafka.files import DEADLETTER_PREFIX
from manufacturing_assets.kafka.lander import LandingOptions, run_landing_pass
from manufacturing_assets.kafka.settings import KafkaSettings
from manufacturing_assets.ops.feed import new_evaluations
from manufacturing_assets.ops.replay_job import replay_job
from manufacturing_assets.pipeline import run_pipeline
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets.resources.replay_ledger import ReplayLedger
from manufacturing_assets_tests import kafka_fixtures
from manufacturing_assets_tests.helpers import write_plants
from manufacturing_assets_tests.kafka_fixtures import (
    KAFKA_TEST_SESSION_TIMEOUT_MS,
    create_topics,
    produce,
    unique_group,
    unique_topic,
)
from manufacturing_assets_tools.generator import GeneratorConfig, generate_landing_zone

kafka_broker = kafka_fixtures.kafka_broker  # the session's Tansu broker fixture


def raw_keys(landing: LandingZone) -> set[str]:
    return {o.key for o in landing.list_objects("raw/")}


def test_quarantine_replay_relands_once_and_reaches_silver(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings.from_env({"MA_DATA_DIR": str(tmp_path)})
    landing = LandingZone(root=settings.landing_root)
    generate_landing_zone(landing, GeneratorConfig(days=1, machines_per_plant=1))
    with DagsterInstance.ephemeral() as instance:
        assert not run_pipeline(settings, instance, log=lambda *_: None).failed_steps
    lake = settings.lake_root
    quarantine = read_delta(f"{lake}/quarantine/shots")
    assert quarantine is not None
    bad = quarantine.filter(
        (pl.col("plant_id") == "P02") & (pl.col("reason") == "missing_machine_id")
    )
    assert bad.height >= 1
    shot_ids = sorted(json.loads(p)["shot_id"] for p in bad["raw_payload"])
    before = raw_keys(landing)

    # the fix: the machine the shots came from; replay them
    args = ["--data-dir", str(tmp_path), "replay", "quarantine", "--stream", "shots"]
    args += ["--plant", "P02", "--reason", "missing_machine_id", "--set", "machine_id=P02-M001"]
    assert cli([*args, "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert (first["selected"], first["relanded"], first["already_replayed"]) == (
        bad.height,
        bad.height,
        0,
    )
    day = bad["landing_date"][0].isoformat()
    assert first["counts"] == [
        {"stream": "shots", "plant_id": "P02", "date": day, "records": bad.height}
    ]
    [key] = first["files"]
    assert key.startswith(f"raw/shots/plant=P02/date={day}/replay-quarantine-")
    assert raw_keys(landing) - before == {key}
    lines = [json.loads(x) for x in landing.read_bytes(key).decode().splitlines()]
    assert sorted(x["shot_id"] for x in lines) == shot_ids
    assert all(x["machine_id"] == "P02-M001" for x in lines)
    assert {x["_replay"]["origin"] for x in lines} == {
        f"{s}:{n}" for s, n in bad.select("source", "line_number").iter_rows()
    }
    ledger = ReplayLedger(lake_root=lake).read()
    assert ledger.height == bad.height and set(ledger["file_key"]) == {key}

    # a second replay of the same records re-lands nothing (the printed report says so)
    assert cli(args) == 0
    out = capsys.readouterr().out
    assert f"{bad.height} selected, re-landed 0, {bad.height} already replayed" in out
    assert raw_keys(landing) - before == {key}
    assert ReplayLedger(lake_root=lake).read().height == bad.height

    # the landing zone now holds the fixed records: through the pipeline they reach silver
    with DagsterInstance.ephemeral() as instance:
        assert not run_pipeline(settings, instance, log=lambda *_: None).failed_steps
        check = AssetCheckKey(AssetKey(["silver", "shots"]), "quarantine_share")
        evaluations, _ = new_evaluations(instance, [check], {})
    # the replayed originals no longer count in their plant-day's quarantine share
    expected = Counter(bad["production_date"].to_list())
    replayed = {
        date.fromisoformat(e.partition.split("|")[0]): e.metadata["replayed"]
        for e in evaluations
        if e.partition and e.partition.endswith("|P02")
    }
    assert {d: n for d, n in replayed.items() if n} == dict(expected)
    for e in evaluations:
        if e.partition and e.partition.endswith("|P02") and e.metadata["replayed"]:
            open_rows = e.metadata["quarantined"] - e.metadata["replayed"]
            total = e.metadata["silver_rows"] + open_rows
            assert e.metadata["quarantine_share"] == round(open_rows / total, 6)
    silver = read_delta(f"{lake}/silver/shots")
    assert silver is not None
    replayed = silver.filter(pl.col("source") == key)
    assert sorted(replayed["shot_id"]) == shot_ids
    assert set(replayed["machine_id"]) == {"P02-M001"}
    # the records quarantined as they were first delivered are still there, with their reason
    again = read_delta(f"{lake}/quarantine/shots")
    assert again is not None
    assert again.filter(pl.col("source") == key).is_empty()
    assert again.filter(pl.col("reason") == "missing_machine_id").height == (
        quarantine.filter(pl.col("reason") == "missing_machine_id").height
    )


MACHINES_CSV = (
    "machine_id,plant_id,line_id,machine_type,tonnage\nP01-M001,P01,P01-L1,hydraulic,350\n"
)
MARCH_5_NOON_MS = 1709640000000


@pytest.mark.integration
def test_deadletter_replay_job_relands_once_and_reaches_silver(
    kafka_broker: str, tmp_path: Path
) -> None:
    settings = Settings.from_env({"MA_DATA_DIR": str(tmp_path)})
    landing = LandingZone(root=settings.landing_root)
    write_plants(landing)
    landing.write_bytes(
        "reference/machines/snapshot_date=2024-03-01/machines.csv", MACHINES_CSV.encode()
    )
    topic = unique_topic("readings")
    create_topics(kafka_broker, [topic], partitions=1)

    def reading(machine: str, minute: int, **extra: object) -> bytes:
        rec = {
            "device_id": f"{machine}-T1",
            "machine_id": machine,
            "ts": f"2024-03-05T10:{minute:02d}:00+01:00",
            "firmware": "2.4.0",
            "status": "active",
            "metrics": {"temperature_c": 70.0},
        }
        return json.dumps(rec | extra).encode()

    # a machine master data does not know yet and no plant_id: dead letters; one not JSON
    records = [
        ("P01-M001", reading("P01-M001", 0, plant_id="P01")),
        ("P01-M009", reading("P01-M009", 1)),
        ("P01-M009", reading("P01-M009", 2)),
        ("P01-M009", b"<html>502</html>"),
    ]
    produce(kafka_broker, topic, records, timestamps=[MARCH_5_NOON_MS] * len(records))
    kafka = KafkaSettings(
        bootstrap_servers=kafka_broker,
        group_id=unique_group("replay"),
        topics={topic: "sensor_readings"},
        session_timeout_ms=KAFKA_TEST_SESSION_TIMEOUT_MS,
    )
    options = LandingOptions(idle_timeout_s=1.5, max_seconds=60, assign_timeout_s=60)
    report = run_landing_pass(kafka, landing, options)
    assert (report.landed, report.dead_letters) == (1, 3)
    assert len(list(landing.list_objects(DEADLETTER_PREFIX))) == 1
    before = raw_keys(landing)

    resources = build_resources(settings)
    config = {
        "ops": {
            "replay_records": {
                "config": {"kind": "deadletters", "set_fields": ["plant_id=P01"]},
            }
        }
    }

    def run_job() -> dict:
        with DagsterInstance.ephemeral() as instance:
            result = replay_job.execute_in_process(
                run_config=config, resources=resources, instance=instance
            )
        assert result.success
        [mat] = [
            e.event_specific_data.metadata  # type: ignore[union-attr]
            for e in result.all_node_events
            if e.event_type_value == "STEP_OUTPUT"
        ]
        return {k: v.value for k, v in mat.items()}

    first = run_job()
    assert (first["selected"], first["relanded"], first["skipped"]) == (3, 2, 1)
    assert first["counts"] == [
        {"stream": "sensor_readings", "plant_id": "P01", "date": "2024-03-05", "records": 2}
    ]
    assert first["skipped_records"][0]["why"].startswith("still a dead letter: invalid JSON")
    [key] = first["files"]
    assert raw_keys(landing) - before == {key}
    lines = [json.loads(x) for x in landing.read_bytes(key).decode().splitlines()]
    assert [x["_kafka"]["offset"] for x in lines] == [1, 2]
    assert Counter(x["_replay"]["origin"] for x in lines) == Counter(
        {f"kafka://{topic}/0/1": 1, f"kafka://{topic}/0/2": 1}
    )

    second = run_job()  # the same dead letters again: nothing re-landed
    assert (second["relanded"], second["already_replayed"], second["files"]) == (0, 2, [])
    assert raw_keys(landing) - before == {key}

    with DagsterInstance.ephemeral() as instance:
        assert not run_pipeline(settings, instance, log=lambda *_: None).failed_steps
    silver = read_delta(f"{settings.lake_root}/silver/sensor_readings")
    assert silver is not None
    assert sorted(silver.filter(pl.col("source") == key)["machine_id"]) == ["P01-M009"] * 2
    assert silver.filter(pl.col("production_date") == date(2024, 3, 5)).height == 3
