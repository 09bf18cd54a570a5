"""Kafka landing against a real broker (Tansu): routing, dead letters, offsets committed only
after durability, settings pass-through, and exactly once under SIGKILL."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from pydantic import PrivateAttr

from manufacturing_assets.io_managers.delta import DeltaLakeIOManager
from manufacturing_assets.kafka.files import (
    DEADLETTER_PREFIX,
    data_file_key,
    deadletter_key,
    ledger_key,
    parse_kafka_file_name,
)
from manufacturing_assets.kafka.job import KafkaLandingConfig, kafka_landing_job
from manufacturing_assets.kafka.lander import LandingOptions, run_landing_pass
from manufacturing_assets.kafka.offsets import OffsetsLedger
from manufacturing_assets.kafka.records import landed_line
from manufacturing_assets.kafka.routing import ReferenceData, production_date
from manufacturing_assets.kafka.settings import KafkaSettings
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets.transforms.sensor_readings import silver_sensor_readings
from manufacturing_assets_tests import kafka_fixtures
from manufacturing_assets_tests.helpers import bronze_of, collect, lazy, write_plants
from manufacturing_assets_tests.kafka_fixtures import (
    KAFKA_TEST_SESSION_TIMEOUT_MS,
    committed_offsets,
    create_topics,
    produce,
    unique_group,
    unique_topic,
)

pytestmark = pytest.mark.integration
kafka_broker = kafka_fixtures.kafka_broker  # the session's Tansu broker fixture

MACHINES_CSV = (
    "machine_id,plant_id,line_id,machine_type,tonnage\n"
    "P01-M001,P01,P01-L1,hydraulic,350\n"
    "P01-M002,P01,P01-L1,hydraulic,220\n"
    "P02-M001,P02,P02-L1,hybrid,150\n"
)
FAST = LandingOptions(idle_timeout_s=1.5, max_seconds=60, assign_timeout_s=60)


def reference_landing(root: Path) -> LandingZone:
    landing = LandingZone(root=str(root))
    write_plants(landing)
    landing.write_bytes(
        "reference/machines/snapshot_date=2024-03-01/machines.csv", MACHINES_CSV.encode()
    )
    return landing


def settings_for(bootstrap: str, topics: dict[str, str], group: str | None = None) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=bootstrap,
        group_id=group or unique_group("land"),
        topics=topics,
        session_timeout_ms=KAFKA_TEST_SESSION_TIMEOUT_MS,
    )


def landed_offsets(landing: LandingZone) -> Counter:
    """(topic, partition, offset) of every landed line and dead letter, with multiplicity."""
    seen: Counter = Counter()
    for obj in landing.list_objects("raw/"):
        if parse_kafka_file_name(obj.key) is None:
            continue
        for line in landing.read_bytes(obj.key).decode().splitlines():
            meta = json.loads(line)["_kafka"]
            seen[(meta["topic"], meta["partition"], meta["offset"])] += 1
    for obj in landing.list_objects(DEADLETTER_PREFIX):
        for line in landing.read_bytes(obj.key).decode().splitlines():
            d = json.loads(line)
            seen[(d["topic"], d["partition"], d["offset"])] += 1
    return seen


def reading(machine: str, ts: str, plant: str = "P01", **extra: Any) -> bytes:
    rec = {
        "device_id": f"{machine}-T1",
        "plant_id": plant,
        "machine_id": machine,
        "ts": ts,
        "firmware": "2.4.0",
        "status": "active",
        "metrics": {"temperature_c": 71.30, "pressure_bar": "2.1"},
    }
    rec.update(extra)
    return json.dumps(rec).encode()


# ---- no broker ---------------------------------------------------------------------------
def test_production_date_follows_the_contract_dst_rules() -> None:
    berlin, chicago = ZoneInfo("Europe/Berlin"), ZoneInfo("America/Chicago")
    assert production_date("2024-03-04T23:30:00+00:00", berlin) == date(2024, 3, 5)
    assert production_date("2024-03-04T23:30:00Z", berlin) == date(2024, 3, 5)
    assert production_date("2024-03-04T23:30:00Z", chicago) == date(2024, 3, 4)
    assert production_date(" 2024-03-04 08:15:02.123456789+0100 ", berlin) == date(2024, 3, 4)
    # no offset = plant-local wall time
    assert production_date("2024-03-04T23:30:00", berlin) == date(2024, 3, 4)
    assert production_date("2024-03-04T00:30:00", chicago) == date(2024, 3, 4)
    # DST gap (02:30 does not exist on 2024-03-31 in Berlin) and fold (02:30 twice)
    assert production_date("2024-03-31T02:30:00", berlin) == date(2024, 3, 31)
    assert production_date("2024-10-27T02:30:00", berlin) == date(2024, 10, 27)
    for bad in ("2024-03-04", "not a time", "2024-02-30T10:00:00", "31/03/2024 08:15:00"):
        with pytest.raises(ValueError):
            production_date(bad, berlin)


def test_every_setting_reaches_the_client_config(monkeypatch: pytest.MonkeyPatch) -> None:
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient
    from dagster import EnvVar

    from manufacturing_assets.environment import Settings, build_resources

    ca = "/etc/ssl/certs/ca-certificates.crt"
    settings = KafkaSettings(
        bootstrap_servers="b1:9093,b2:9093",
        security_protocol="sasl_ssl",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="lander",
        sasl_password="s3cret",
        ssl_ca_location=ca,
        group_id="g-landing",
        session_timeout_ms=12_000,
        extra_config={"socket.keepalive.enable": "true"},
    )
    common = {
        "bootstrap.servers": "b1:9093,b2:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "lander",
        "sasl.password": "s3cret",
        "ssl.ca.location": ca,
        "socket.keepalive.enable": "true",
    }
    consumer_conf = settings.consumer_config()
    assert common.items() <= consumer_conf.items()
    assert consumer_conf["group.id"] == "g-landing"
    assert consumer_conf["session.timeout.ms"] == 12_000
    assert consumer_conf["enable.auto.commit"] is False  # offsets only after durability
    assert settings.consumer_config("other")["group.id"] == "other"
    assert common.items() <= settings.producer_config().items()
    assert settings.producer_config()["enable.idempotence"] is True
    assert common.items() <= settings.admin_config().items()
    if Path(ca).exists():  # librdkafka accepts every property (it would raise on a typo)
        Consumer(consumer_conf).close()
        Producer(settings.producer_config()).flush(0)
        AdminClient(settings.admin_config())

    plain = KafkaSettings(bootstrap_servers="b:9092").consumer_config()
    assert plain["security.protocol"] == "PLAINTEXT"
    assert not any(k.startswith(("sasl.", "ssl.")) for k in plain)
    assert plain["group.id"] == "manufacturing-assets-landing"
    with pytest.raises(ValueError, match="security_protocol"):
        KafkaSettings(bootstrap_servers="b:1", security_protocol="TLS").consumer_config()
    with pytest.raises(ValueError, match="sasl_username"):
        KafkaSettings(bootstrap_servers="b:1", security_protocol="SASL_PLAINTEXT").admin_config()
    with pytest.raises(ValueError, match="unknown streams"):
        KafkaSettings(bootstrap_servers="b:1", topics={"x": "nope"}).consumer_config()

    # Environment -> resource: off without KAFKA_BOOTSTRAP_SERVERS, credentials as EnvVar.
    assert "kafka" not in build_resources(Settings.from_env({}))
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": "k1:9094",
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        "KAFKA_SASL_USERNAME": "env-user",
        "KAFKA_SASL_PASSWORD": "env-pass",
        "KAFKA_SSL_CA_LOCATION": "/tmp/ca.pem",
        "KAFKA_GROUP_ID": "env-group",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    resource = build_resources(Settings.from_env())["kafka"]
    assert isinstance(resource.sasl_password, EnvVar)
    assert isinstance(resource.sasl_username, EnvVar)
    conf = resource.consumer_config()
    assert conf["bootstrap.servers"] == "k1:9094"
    assert conf["security.protocol"] == "SASL_PLAINTEXT"
    assert conf["sasl.mechanism"] == "SCRAM-SHA-256"
    assert (conf["sasl.username"], conf["sasl.password"]) == ("env-user", "env-pass")
    assert conf["ssl.ca.location"] == "/tmp/ca.pem"
    assert conf["group.id"] == "env-group"


def test_kafka_job_is_defined_only_with_bootstrap_servers() -> None:
    from manufacturing_assets.definitions import defs

    if "KAFKA_BOOTSTRAP_SERVERS" not in os.environ:
        repo = defs.get_repository_def()
        assert not repo.has_job("kafka_landing_job")
        assert "kafka" not in repo.get_top_level_resources()
    probe = (
        "from manufacturing_assets.definitions import defs\n"
        "repo = defs.get_repository_def()\n"
        "print(repo.has_job('kafka_landing_job'), 'kafka' in repo.get_top_level_resources())"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_")}
    env |= {"PYTHONWARNINGS": "ignore", "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9"}
    on = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert on.stdout.split() == ["True", "True"], on.stderr[-2000:]


# ---- against the broker ------------------------------------------------------------------
def test_events_land_in_plant_date_folders(kafka_broker: str, tmp_path: Path) -> None:
    readings, shots = unique_topic("readings"), unique_topic("shots")
    create_topics(kafka_broker, [readings, shots], partitions=2)
    landing = reference_landing(tmp_path)
    cases = [
        # (key, value, expected plant, expected production date)
        ("P01-M001", reading("P01-M001", "2024-03-04T08:15:02.123+01:00"), "P01", "2024-03-04"),
        ("P01-M001", reading("P01-M001", "2024-03-04T23:30:00Z"), "P01", "2024-03-05"),
        ("P02-M001", reading("P02-M001", "2024-03-05T03:30:00Z", "P02"), "P02", "2024-03-04"),
        ("P01-M002", reading("P01-M002", "2024-03-31T02:30:00"), "P01", "2024-03-31"),  # gap
        ("P01-M002", reading("P01-M002", "2024-03-30T23:59:59.999"), "P01", "2024-03-30"),
        # the key's machine decides the plant, not the record's plant_id (plant_mismatch later)
        ("P01-M001", reading("P01-M001", "2024-03-04T12:00:00", "P02"), "P01", "2024-03-04"),
        # unknown machine: the record's plant_id
        ("P02-M999", reading("P02-M999", "2024-03-04T12:00:00", "P02"), "P02", "2024-03-04"),
        # no key: the record's machine_id
        (None, reading("P02-M001", "2024-03-04T22:00:00-06:00", "P01"), "P02", "2024-03-04"),
    ]
    delivered = produce(kafka_broker, readings, [(k, v) for k, v, _, _ in cases])
    shot = {"shot_id": "S1", "machine_id": "P02-M001", "ts": "2024-03-04T06:00:00-06:00"}
    shot_at = produce(kafka_broker, shots, [("P02-M001", json.dumps(shot).encode())])

    topics = {readings: "sensor_readings", shots: "shots"}
    settings = settings_for(kafka_broker, topics)
    report = run_landing_pass(settings, landing, FAST)
    assert (report.messages, report.landed, report.dead_letters) == (9, 9, 0)
    assert report.stop_reason == "idle"

    # One file per (plant, date) and partition chunk, named by the chunk's offset range.
    ranges: dict[int, tuple[int, int]] = {}
    for p, o in delivered:
        lo, hi = ranges.get(p, (o, o))
        ranges[p] = (min(lo, o), max(hi, o))
    expected: dict[str, list[int]] = {}
    for (_, _, plant, day), (p, o) in zip(cases, delivered, strict=True):
        key = data_file_key(
            "sensor_readings", plant, date.fromisoformat(day), readings, p, *ranges[p], "jsonl"
        )
        expected.setdefault(key, []).append(o)
    (sp, so) = shot_at[0]
    shot_key = data_file_key("shots", "P02", date(2024, 3, 4), shots, sp, so, so, "jsonl")
    raw_keys = [o.key for o in landing.list_objects("raw/")]
    assert sorted(raw_keys) == sorted([*expected, shot_key])
    for key, offsets in expected.items():
        lines = [json.loads(x) for x in landing.read_bytes(key).decode().splitlines()]
        assert [x["_kafka"]["offset"] for x in lines] == sorted(offsets)
        assert all(x["_kafka"]["topic"] == readings for x in lines)
    # the value is kept as sent (number literals untouched), with the lineage appended
    first = landing.read_bytes(raw_keys[0]).decode().splitlines()[0]
    assert '"temperature_c": 71.3' in first and '"pressure_bar": "2.1"' in first
    assert '"_kafka":{"topic":' in first

    # The bronze reader and the silver transformation read the landed files as any other.
    bronze = bronze_of([(k, landing.read_bytes(k)) for k in expected])
    assert bronze.height == 8 and bronze["parse_error"].is_null().all()
    assert set(bronze.columns) >= {"metric__temperature_c", "metric__pressure_bar"}
    p01 = bronze.filter(pl.col("plant_id") == "P01")
    silver = silver_sensor_readings(
        lazy(p01), "Europe/Berlin", [date(2024, 3, d) for d in (4, 5, 30, 31)]
    )
    rows = collect(silver.silver)
    assert rows.height == 5 and collect(silver.quarantine).height == 0
    assert rows.filter(pl.col("flags").str.contains("plant_mismatch")).height == 1

    # Offsets: committed = next offset after everything landed; ledger agrees.
    committed = committed_offsets(kafka_broker, settings.group_id, readings, partitions=2)
    ledger = OffsetsLedger(landing)
    for p, (_, hi) in ranges.items():
        assert committed[p] == hi + 1
        assert ledger.read(readings, p) == (hi + 1, None)


MARCH_5_NOON_MS = 1709640000000  # 2024-03-05T12:00:00Z: 13:00 in Berlin


def test_dead_letters_are_recorded_and_never_block(kafka_broker: str, tmp_path: Path) -> None:
    topic = unique_topic("events")
    create_topics(kafka_broker, [topic], partitions=1)
    landing = reference_landing(tmp_path)
    good = {"machine_id": "P01-M001", "plant_id": "P01", "state": "RUNNING"}
    records: list[tuple[Any, Any]] = [
        ("P01-M001", json.dumps(good | {"ts": "2024-03-04T06:00:00+01:00"}).encode()),
        ("P01-M001", b"<html>502 Bad Gateway</html>"),
        ("P01-M001", b"[1, 2]"),
        ("P01-M001", json.dumps(good).encode()),  # no ts: lands for quarantine
        ("P01-M001", json.dumps(good | {"ts": "yesterday"}).encode()),  # lands for quarantine
        ("P01-M001", json.dumps(good | {"ts": 1709532000}).encode()),  # lands for quarantine
        ("P09-M001", json.dumps({"machine_id": "P09-M001", "ts": "2024-03-04T06:00:00"}).encode()),
        ("P01-M001", b"\xff\xfe not utf-8"),
        ("P01-M001", None),  # tombstone
        ("P01-M001", json.dumps(good | {"ts": "2024-03-04T07:00:00+01:00"}).encode()),
        ("P09-M001", json.dumps({"machine_id": "P09-M001"}).encode()),  # no ts and no plant
    ]
    produce(kafka_broker, topic, records, timestamps=[MARCH_5_NOON_MS] * len(records))
    settings = settings_for(kafka_broker, {topic: "machine_events"})
    report = run_landing_pass(settings, landing, FAST)
    assert (report.messages, report.landed, report.dead_letters) == (11, 5, 6)
    assert report.bad_ts == 3

    dl_key = deadletter_key(topic, 0, 0, 10)
    dead = [json.loads(x) for x in landing.read_bytes(dl_key).decode().splitlines()]
    assert [d["offset"] for d in dead] == [1, 2, 6, 7, 8, 10]
    assert all(d["topic"] == topic and d["partition"] == 0 for d in dead)
    assert all(d["stream"] == "machine_events" for d in dead)
    assert all(d["timestamp"] == MARCH_5_NOON_MS for d in dead)
    assert dead[0]["key"] == "P01-M001" and dead[0]["value"] == "<html>502 Bad Gateway</html>"
    errors = [d["error"] for d in dead]
    assert errors[0].startswith("invalid JSON")
    assert errors[1].startswith("not a JSON object")
    assert "no time zone" in errors[2] or "no plant" in errors[2]
    assert errors[3].startswith("value is not UTF-8") and "value_base64" in dead[3]
    assert errors[4].startswith("empty message") and dead[4]["value"] is None
    assert errors[5].startswith("no plant")  # what cannot be routed at all stays a dead letter
    # the messages after the bad ones landed; the partition moved on past all of them
    key = data_file_key("machine_events", "P01", date(2024, 3, 4), topic, 0, 0, 10, "jsonl")
    assert [json.loads(x)["_kafka"]["offset"] for x in landing.read_bytes(key).splitlines()] == [
        0,
        9,
    ]
    # events without a usable ts: landed as sent under their Kafka timestamp's plant-local
    # date (2024-03-05 in Berlin), for silver to quarantine
    no_ts = data_file_key("machine_events", "P01", date(2024, 3, 5), topic, 0, 0, 10, "jsonl")
    lines = [json.loads(x) for x in landing.read_bytes(no_ts).splitlines()]
    assert [x["_kafka"]["offset"] for x in lines] == [3, 4, 5]
    assert ["ts" in lines[0], lines[1]["ts"], lines[2]["ts"]] == [False, "yesterday", 1709532000]
    assert committed_offsets(kafka_broker, settings.group_id, topic, 1) == {0: 11}

    # A later pass continues after them: new chunk, nothing re-landed.
    produce(kafka_broker, topic, [("P01-M001", b"{broken"), records[0]])
    again = run_landing_pass(settings, landing, FAST)
    assert (again.messages, again.landed, again.dead_letters) == (2, 1, 1)
    assert landing.exists(deadletter_key(topic, 0, 11, 12))
    assert landed_offsets(landing) == Counter({(topic, 0, o): 1 for o in range(13)})
    assert committed_offsets(kafka_broker, settings.group_id, topic, 1) == {0: 13}


def test_events_without_a_usable_ts_reach_the_stream_quarantine(
    kafka_broker: str, tmp_path: Path
) -> None:
    """Landed by the pass, then through the real pipeline (bronze, silver, Delta): each event
    without a usable ts is one row of quarantine/<stream> with the contract's reason, in the
    plant-day of its Kafka timestamp; the good events are in silver."""
    from dagster import DagsterInstance

    from manufacturing_assets.environment import Settings
    from manufacturing_assets.io_managers.delta import read_delta
    from manufacturing_assets.pipeline import run_pipeline

    topic = unique_topic("readings")
    create_topics(kafka_broker, [topic], partitions=1)
    settings = Settings.from_env({"MA_DATA_DIR": str(tmp_path)})
    landing = reference_landing(Path(settings.landing_root))
    records = [
        ("P01-M001", reading("P01-M001", "2024-03-05T10:00:00+01:00")),
        ("P01-M001", reading("P01-M001", "")),  # blank
        ("P01-M002", json.dumps({"device_id": "P01-M002-T1", "machine_id": "P01-M002"}).encode()),
        ("P01-M001", reading("P01-M001", "31/03/2024 08:15")),
        ("P02-M001", reading("P02-M001", "2024-03-05T25:00:00", plant="P02")),
        ("P01-M002", reading("P01-M002", "2024-03-05T11:00:00+01:00")),
    ]
    # Kafka timestamps: 2024-03-05 12:00 UTC (Berlin and Chicago: 2024-03-05)
    produce(kafka_broker, topic, records, timestamps=[MARCH_5_NOON_MS] * len(records))
    report = run_landing_pass(settings_for(kafka_broker, {topic: "sensor_readings"}), landing, FAST)
    assert (report.messages, report.landed, report.dead_letters, report.bad_ts) == (6, 6, 0, 4)
    assert not list(landing.list_objects(DEADLETTER_PREFIX))

    with DagsterInstance.ephemeral() as instance:
        result = run_pipeline(settings, instance, log=lambda *_: None)
    assert not result.failed_steps
    lake = settings.lake_root
    quarantine = read_delta(f"{lake}/quarantine/sensor_readings")
    assert quarantine is not None
    offset = pl.col("raw_payload").str.json_path_match("$._kafka.offset").cast(pl.Int64)
    rows = quarantine.sort(offset).select(
        "plant_id", "production_date", "reason", "detail", "source", "raw_payload"
    )
    assert rows.select("plant_id", "production_date", "reason", "detail").rows() == [
        ("P01", date(2024, 3, 5), "missing_ts", "field 'ts' is missing"),
        ("P01", date(2024, 3, 5), "missing_ts", "field 'ts' is missing"),
        (
            "P01",
            date(2024, 3, 5),
            "unparseable_ts",
            "field 'ts' is not an ISO-8601 timestamp: 31/03/2024 08:15",
        ),
        (
            "P02",
            date(2024, 3, 5),
            "unparseable_ts",
            "field 'ts' is not an ISO-8601 timestamp: 2024-03-05T25:00:00",
        ),
    ]
    # lineage leads back to the Kafka offset: the file and the line's "_kafka" coordinates
    assert all(parse_kafka_file_name(s) is not None for s in rows["source"])
    offsets = [json.loads(p)["_kafka"]["offset"] for p in rows["raw_payload"]]
    assert offsets == [1, 2, 3, 4]
    silver = read_delta(f"{lake}/silver/sensor_readings")
    assert silver is not None and sorted(silver["machine_id"].to_list()) == [
        "P01-M001",
        "P01-M002",
    ]


class FailingLanding(LandingZone):
    """Fails the n-th write of a data file (raw/), like a full disk or an S3 outage."""

    fail_at: int = 3
    _raw_writes: int = PrivateAttr(default=0)

    def write_bytes(self, key: str, data: bytes) -> None:
        if key.startswith("raw/"):
            self._raw_writes += 1
            if self._raw_writes == self.fail_at:
                raise OSError(f"simulated write failure on {key}")
        super().write_bytes(key, data)


def test_offsets_are_committed_only_after_files_are_durable(
    kafka_broker: str, tmp_path: Path
) -> None:
    topic = unique_topic("readings")
    create_topics(kafka_broker, [topic], partitions=1)
    reference_landing(tmp_path)
    records = [
        (m, reading(m, f"2024-03-0{1 + i % 3}T1{i % 10}:00:00+01:00"))
        for i, m in enumerate(["P01-M001", "P02-M001", "P01-M002"] * 20)
    ]
    produce(kafka_broker, topic, records)
    settings = settings_for(kafka_broker, {topic: "sensor_readings"})
    # small chunks: 60 messages -> several chunks of 3 files each
    options = LandingOptions(idle_timeout_s=1.5, flush_messages=12, poll_batch=12, max_seconds=60)

    # 1. A write fails in the middle of the second chunk: the pass fails, the group's offset
    #    stays at the end of the first chunk, the ledger names the chunk in flight.
    failing = FailingLanding(root=str(tmp_path), fail_at=5)
    stages: list[tuple[str, dict]] = []
    with pytest.raises(OSError, match="simulated"):
        run_landing_pass(settings, failing, options, hooks=lambda s, i: stages.append((s, i)))
    durable = [i for s, i in stages if s == "durable"]
    assert len(durable) == 1
    committed = committed_offsets(kafka_broker, settings.group_id, topic, 1)[0]
    assert committed == durable[0]["last"] + 1
    next_offset, pending = OffsetsLedger(failing).read(topic, 0)
    assert next_offset == committed and pending is not None and pending.first == committed

    # 2. The next pass redoes exactly that chunk (same names, same bytes), then goes on;
    #    at every commit the files of the committed offsets are already in the landing zone.
    landing = LandingZone(root=str(tmp_path))
    written: list[str] = []
    checked: list[int] = []

    def check(stage: str, info: dict) -> None:
        if stage == "file_written":
            written.append(info["key"])
        if stage == "committed":
            offset = info["offsets"][f"{topic}/0"]
            assert all(landing.exists(k) for k in written)
            assert OffsetsLedger(landing).read(topic, 0) == (offset, None)
            landed = landed_offsets(landing)
            assert all(landed[(topic, 0, o)] == 1 for o in range(offset))
            checked.append(offset)

    report = run_landing_pass(settings, landing, options, hooks=check)
    assert report.redone_chunks == 1 and report.files_unchanged >= 1
    assert checked[-1] == 60
    assert landed_offsets(landing) == Counter({(topic, 0, o): 1 for o in range(60)})
    assert committed_offsets(kafka_broker, settings.group_id, topic, 1) == {0: 60}


def test_kafka_landing_job_reports_metadata(kafka_broker: str, tmp_path: Path) -> None:
    topic = unique_topic("shots")
    create_topics(kafka_broker, [topic], partitions=1)
    landing = reference_landing(tmp_path)
    shot = {"shot_id": "S1", "machine_id": "P01-M001", "ts": "2024-03-04T10:00:00+01:00"}
    produce(kafka_broker, topic, [("P01-M001", json.dumps(shot).encode()), ("P01-M001", b"x")])
    settings = settings_for(kafka_broker, {topic: "shots"})
    result = kafka_landing_job.execute_in_process(
        # the lake's IO manager, as in the deployed code location
        resources={
            "landing": landing,
            "kafka": settings,
            "io_manager": DeltaLakeIOManager(root_uri=str(tmp_path / "lake")),
        },
        run_config={
            "ops": {
                "land_kafka_topics": {
                    "config": KafkaLandingConfig(idle_timeout_s=1.5, max_seconds=60).model_dump()
                }
            }
        },
    )
    assert result.success
    [event] = [e for e in result.all_node_events if e.event_type_value == "STEP_OUTPUT"]
    meta = {k: v.value for k, v in event.step_output_data.metadata.items()}
    assert meta["messages"] == 2 and meta["landed_events"] == 1 and meta["dead_letters"] == 1
    assert meta["files_written"] == 2
    assert meta["offsets"] == {
        f"{topic}/0": {"start_offset": None, "next_offset": 2, "committed": 2}
    }
    assert not (tmp_path / "lake").exists()  # nothing stored in the lake


# ---- exactly once under SIGKILL ------------------------------------------------------------
class _Message:
    """The fields of a consumed message that landing uses (for the oracle)."""

    def __init__(self, topic: str, partition: int, offset: int, key: Any, value: Any):
        self._t, self._p, self._o, self._k, self._v = topic, partition, offset, key, value

    def topic(self) -> str:
        return self._t

    def partition(self) -> int:
        return self._p

    def offset(self) -> int:
        return self._o

    def key(self) -> bytes | None:
        return self._k

    def value(self) -> bytes | None:
        return self._v

    def timestamp(self) -> tuple[int, int]:
        return (0, 0)


def _silver_readings(landing: LandingZone, tzs: dict[str, str]) -> pl.DataFrame:
    files = [
        (o.key, landing.read_bytes(o.key)) for o in landing.list_objects("raw/sensor_readings/")
    ]
    bronze = bronze_of(files)
    frames = []
    for plant, tz in sorted(tzs.items()):
        part = bronze.filter(pl.col("plant_id") == plant)
        dates = sorted(set(part["landing_date"].to_list()))
        frames.append(collect(silver_sensor_readings(lazy(part), tz, dates).silver))
    lineage = ["source", "file_hash", "line_number", "ingested_at"]
    return pl.concat(frames, how="diagonal_relaxed").drop(lineage).sort("device_id", "ts")


def test_sigkill_at_random_points_lands_every_event_exactly_once(
    kafka_broker: str, tmp_path: Path
) -> None:
    from manufacturing_assets_tools.generator import GeneratorConfig
    from manufacturing_assets_tools.simulator import generated_events

    rng = random.Random(20240331)
    root = tmp_path / "landing"
    landing = LandingZone(root=str(root))
    config = GeneratorConfig(
        seed=11,
        days=1,
        machines_per_plant=2,
        readings_per_machine_per_day=300,
        shots_per_machine_per_day=150,
    )
    events = generated_events(config, reference_to=landing)
    topic_of = {
        "sensor-readings": "sensor_readings",
        "shots": "shots",
        "machine-events": "machine_events",
    }
    topics = {unique_topic(t): s for t, s in topic_of.items()}
    by_stream = {s: t for t, s in topics.items()}
    create_topics(kafka_broker, list(topics))
    produced: dict[tuple[str, int, int], _Message] = {}
    for name, stream in topic_of.items():
        topic = by_stream[stream]
        batch = [(e.key, e.value) for e in events if e.topic == name]
        for (k, v), (p, o) in zip(batch, produce(kafka_broker, topic, batch, False), strict=True):
            produced[(topic, p, o)] = _Message(topic, p, o, k, v)
    assert len(produced) == len(events) > 2000

    group = unique_group("sigkill")
    cmd = [
        sys.executable,
        "-m",
        "manufacturing_assets.kafka",
        "--bootstrap",
        kafka_broker,
        "--landing-root",
        str(root),
        "--group",
        group,
        "--session-timeout-ms",
        str(KAFKA_TEST_SESSION_TIMEOUT_MS),
        "--idle-timeout",
        "1.5",
        "--max-seconds",
        "120",
        "--flush-messages",
        "40",
        "--poll-batch",
        "40",
        "--progress",
        *[a for t, s in topics.items() for a in ("--topic", f"{t}={s}")],
    ]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    # Four crashes, at seeded random points: two SIGKILLs from outside after a random number
    # of landing steps plus a random few milliseconds (anywhere, asynchronously), and two
    # SIGKILLs the pass sends itself right after a random step inside the protocol: one
    # while a chunk is in flight (after its intent or after one of its files), one after
    # a chunk is durable and before its offsets are committed.
    # Budget: > 2,000 events in chunks of <= 40 per partition make > 50 chunks (about 5
    # steps each); the plan stops the passes after at most ~40 chunks, so every kill lands.
    plan: list[tuple[str, Any]] = [
        ("self", f"{rng.choice(['intent', 'file_written'])}:{rng.randint(2, 15)}"),
        ("outside", (rng.randint(1, 30), rng.uniform(0, 0.02))),
        ("self", f"durable:{rng.randint(1, 6)}"),
        ("outside", (rng.randint(1, 30), rng.uniform(0, 0.02))),
    ]
    kills = redone = ahead_of_group = 0
    for how, where in plan:
        extra = ["--crash-after", where] if how == "self" else []
        proc = subprocess.Popen(
            cmd + extra, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True
        )
        assert proc.stdout is not None
        steps = 0
        for line in proc.stdout:
            progress = json.loads(line)
            stage = progress["stage"]
            if stage == "assigned":
                starts = progress["partitions"].values()
                redone += sum(1 for p in starts if p["redo"])
            if stage == "committed" and steps == 0:
                ahead_of_group += 1  # the ledger was ahead: offsets committed on assignment
            if stage in ("intent", "file_written", "durable", "committed"):
                steps += 1
                if how == "outside" and steps >= where[0]:
                    time.sleep(where[1])
                    proc.kill()  # SIGKILL
                    break
        returncode = proc.wait(timeout=60)
        proc.stdout.close()
        kills += returncode == -signal.SIGKILL
    assert kills == 4
    assert redone >= 1  # a chunk in flight at a crash was redone by the next pass
    assert ahead_of_group >= 1  # a crash between 'durable' and the commit was caught up

    # Run to completion.
    final = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=150)
    assert final.returncode == 0, final.stderr[-2000:]
    report = json.loads(final.stdout.splitlines()[-1])["report"]
    assert report["stop_reason"] == "idle"

    # Every produced message is in the landing zone exactly once (data line or dead letter).
    landed = landed_offsets(landing)
    duplicates = {k: n for k, n in landed.items() if n > 1}
    assert not duplicates
    assert set(landed) == set(produced)
    for topic in topics:
        committed = committed_offsets(kafka_broker, group, topic)
        ends = {p: o + 1 for (t, p, o) in produced if t == topic}
        assert committed == {p: ends.get(p) for p in range(3)}
        for p, end in ends.items():
            assert OffsetsLedger(landing).read(topic, p) == (end, None)
    # On disk (not the listing, which hides temporary files): every data file is a landed
    # object, and what a kill left behind is at most one hidden temporary file per kill
    # from outside (the only ones that can stop a write half-way), never a file under a
    # landed name.
    on_disk = [p for p in root.rglob("*") if p.is_file()]
    temporary = [p for p in on_disk if p.name.endswith(".tmp")]
    listed = {o.key for o in landing.list_objects("raw/")}
    data_files = {p.relative_to(root).as_posix() for p in on_disk if p not in temporary}
    assert {k for k in data_files if k.startswith("raw/")} == listed
    assert all(p.name.startswith(".") for p in temporary), temporary
    assert len(temporary) <= sum(1 for how, _ in plan if how == "outside")

    # Silver equals the silver of an oracle landing without Kafka and without crashes.
    oracle = LandingZone(root=str(tmp_path / "oracle"))
    reference = ReferenceData(landing)
    router = reference.router(reference.latest_pin())
    lines: dict[str, list[str]] = {}
    for (topic, _p, _o), msg in sorted(produced.items()):
        if topics[topic] != "sensor_readings":
            continue
        try:
            plant, day, line = landed_line(msg, router)
        except Exception:  # dead letter
            continue
        lines.setdefault(f"raw/sensor_readings/plant={plant}/date={day}/oracle.jsonl", []).append(
            line
        )
    for key, content in lines.items():
        oracle.write_bytes(key, ("\n".join(content) + "\n").encode())
    tzs = {"P01": "Europe/Berlin", "P02": "America/Chicago"}
    got, want = _silver_readings(landing, tzs), _silver_readings(oracle, tzs)
    assert got.height == want.height > 500
    assert got.equals(want)
    assert ledger_key(next(iter(topics)), 0).startswith("ledger/kafka/")


def test_simulator_produces_keyed_events_at_a_rate(kafka_broker: str, tmp_path: Path) -> None:
    import gzip

    from confluent_kafka import Consumer, TopicPartition

    from manufacturing_assets_tools.simulator import events_from_landing, simulate

    source = LandingZone(root=str(tmp_path))
    folder = "raw/sensor_readings/plant=P01/date=2024-03-04"
    lines = [reading("P01-M001", f"2024-03-04T10:{m:02d}:00+01:00").decode() for m in range(30)]
    source.write_bytes(f"{folder}/a.jsonl", ("\n".join(lines[:20]) + "\n{broken\n").encode())
    source.write_bytes(f"{folder}/b.jsonl.gz", gzip.compress("\n".join(lines[20:]).encode()))
    source.write_bytes(
        f"{folder}/c.csv",
        b"device_id,plant_id,machine_id,ts,firmware,status,temperature_c,spindle_rpm\n"
        b"P01-M002-T1,P01,P01-M002,2024-03-04T09:00:00+01:00,3.1.0,active,70.5,\n",
    )
    source.write_bytes(
        "raw/machine_events/plant=P01/date=2024-03-04/e.jsonl",
        b'{"machine_id": "P01-M001", "ts": "2024-03-04T06:00:00+01:00", "state": "IDLE"}\n',
    )
    topics = {unique_topic("sr"): "sensor_readings", unique_topic("me"): "machine_events"}
    events = events_from_landing(source, topics)
    assert len(events) == 33
    assert [e.order for e in events] == sorted(e.order for e in events)
    csv_event = json.loads(next(e.value for e in events if e.key == b"P01-M002"))
    assert csv_event["metrics"] == {"temperature_c": 70.5} and csv_event["firmware"] == "3.1.0"
    assert sum(e.key is None for e in events) == 1  # the broken line, sent as it is

    create_topics(kafka_broker, list(topics), partitions=1)
    settings = settings_for(kafka_broker, topics)
    result = simulate(settings, events, rate=100, log=lambda _: None)
    assert result["sent"] == 33 and result["undelivered"] == 0
    assert result["per_topic"] == {
        t: 32 if s == "sensor_readings" else 1 for t, s in topics.items()
    }
    assert result["seconds"] >= 0.25  # 33 events at 100/s, not all at once

    consumer = Consumer({"bootstrap.servers": kafka_broker, "group.id": unique_group("sim")})
    sensor_topic = next(t for t, s in topics.items() if s == "sensor_readings")
    consumer.assign([TopicPartition(sensor_topic, 0, 0)])
    got: list[Any] = []
    deadline = time.monotonic() + 20
    while len(got) < 32 and time.monotonic() < deadline:
        got += [m for m in consumer.consume(100, 0.5) if m.error() is None]
    consumer.close()
    assert len(got) == 32
    assert b"{broken" in [m.value() for m in got]
    assert {m.key() for m in got} == {b"P01-M001", b"P01-M002", None}
