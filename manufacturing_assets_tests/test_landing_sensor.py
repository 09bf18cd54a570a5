"""Landing sensor against real stores: a local folder and a moto S3 server (landing and ledger).

Also: late files reach silver D-1..D+1 through the automation conditions, and a full
bronze -> silver -> gold materialization with landing zone AND Delta lake on moto S3.
"""

from __future__ import annotations

import json
import logging
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import polars as pl
import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    Definitions,
    RunRequest,
    SensorResult,
    build_sensor_context,
    evaluate_automation_conditions,
    instance_for_test,
    materialize,
)

from manufacturing_assets.assets.reference import reference_assets
from manufacturing_assets.definitions import ASSETS
from manufacturing_assets.environment import Settings, build_resources
from manufacturing_assets.io_managers.delta import read_delta
from manufacturing_assets.partitions import partition_key
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets.resources.ledger import LandingLedger, ledger_uri
from manufacturing_assets.sensors.landing import landing_sensor
from manufacturing_assets_tests.helpers import jsonl, reading
from manufacturing_assets_tools.benchmarks.landing_sensor import benchmark_landing_sensor

ALL_ASSETS = [  # master data .. gold (not the marts and the warehouse that read them)
    a for a in ASSETS if not {k.path[0] for k in a.keys} & {"marts", "warehouse"}
]
PLANTS_P01_P02 = (
    "plant_id,plant_name,region,country,timezone\n"
    "P01,Berlin Works,EMEA,DE,Europe/Berlin\n"
    "P02,Chicago Works,AMER,US,America/Chicago\n"
)
PLANTS_P03 = PLANTS_P01_P02 + "P03,Pune Works,APAC,IN,Asia/Kolkata\n"
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def readings_file(day: str, n: int = 3, device: str = "P01-M001-T1", tag: str = "") -> bytes:
    return jsonl(
        [reading(device, f"{day}T{8 + i:02d}:00:00+01:00", firmware=f"2.4.{tag}") for i in range(n)]
    )


def raw(stream: str, plant: str, day: str, name: str) -> str:
    return f"raw/{stream}/plant={plant}/date={day}/{name}"


def bronze_request(stream: str, plant: str, day: str) -> tuple[tuple[str, ...], str]:
    return (("bronze", stream), str(partition_key(plant, day)))


def requested(result: SensorResult) -> set[tuple[tuple[str, ...], str | None]]:
    out = set()
    for req in result.run_requests or []:
        assert len(req.asset_selection) == 1
        key = req.asset_selection[0].path
        out.add((tuple(key), str(req.partition_key) if req.partition_key else None))
    return out


# ---------------------------------------------------------------- stores


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def s3_env(endpoint: str, bucket: str) -> dict[str, str]:
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=bucket)
    return {
        "MA_LANDING_ROOT": f"s3://{bucket}/landing",
        "MA_LAKE_ROOT": f"s3://{bucket}/lake",
        "MA_S3_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
    }


@dataclass
class Store:
    """Landing zone + ledger (+ the settings they came from) on one backend."""

    settings: Settings
    resources: dict[str, Any]

    @property
    def landing(self) -> LandingZone:
        return self.resources["landing"]

    @property
    def ledger(self) -> LandingLedger:
        return self.resources["landing_ledger"]


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path) -> Store:
    env = {"MA_DATA_DIR": str(tmp_path / "data")}
    if request.param == "s3":
        env |= s3_env(request.getfixturevalue("moto_endpoint"), f"b-{uuid.uuid4().hex[:10]}")
    settings = Settings.from_env(env)
    resources = build_resources(settings)
    assert resources["landing_ledger"].uri == ledger_uri(settings.lake_root)
    return Store(settings, resources)


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with instance_for_test() as inst:
        yield inst


def tick(
    store: Store, instance: DagsterInstance, cursor: str | None, apply: bool = True
) -> SensorResult:
    """One sensor evaluation; applies its dynamic partition requests like the daemon does
    (``apply=False``: the daemon died before it could)."""
    ctx = build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"landing": store.landing, "landing_ledger": store.ledger},
    )
    result = landing_sensor(ctx)
    assert isinstance(result, SensorResult)
    for req in (result.dynamic_partitions_requests or []) if apply else []:
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    return result


def ledger_rows(store: Store) -> dict[str, dict[str, Any]]:
    """key -> latest ledger row (bookkeeping `hashed` rows left out)."""
    frame = store.ledger.read().filter(pl.col("status") != "hashed").sort("tick")
    return {r["key"]: r for r in frame.iter_rows(named=True)}


# ---------------------------------------------------------------- run requests


def test_new_files_request_exactly_their_bronze_partitions(store: Store, instance) -> None:
    landing = store.landing
    landing.write_bytes(
        "reference/plants/snapshot_date=2024-03-01/plants.csv", PLANTS_P01_P02.encode()
    )
    landing.write_bytes(
        raw("sensor_readings", "P01", "2024-03-04", "a.jsonl"), readings_file("2024-03-04")
    )
    landing.write_bytes(
        raw("sensor_readings", "P01", "2024-03-04", "b.jsonl"), readings_file("2024-03-04", 5)
    )
    landing.write_bytes(raw("shots", "P01", "2024-03-04", "s.jsonl"), b'{"shot_id": "x"}\n')
    landing.write_bytes(raw("sensor_readings", "P02", "2024-03-05", "a.csv"), b"device_id,ts\n")
    landing.write_bytes(raw("machine_events", "P01", "2024-03-05", "e.jsonl"), b'{"state": 1}\n')
    landing.write_bytes("raw/unknown_stream/plant=P01/date=2024-03-05/x.jsonl", b"{}\n")
    landing.write_bytes("raw/sensor_readings/README.txt", b"not a data file")

    first = tick(store, instance, None)

    assert requested(first) == {
        bronze_request("sensor_readings", "P01", "2024-03-04"),
        bronze_request("shots", "P01", "2024-03-04"),
        bronze_request("sensor_readings", "P02", "2024-03-05"),
        bronze_request("machine_events", "P01", "2024-03-05"),
        (("reference", "plants"), None),
    }
    assert [list(r.partition_keys) for r in first.dynamic_partitions_requests] == [["P01", "P02"]]
    by_key = {r.run_key: r for r in first.run_requests}
    assert len(by_key) == 5
    req = next(
        r
        for r in first.run_requests
        if r.partition_key == partition_key("P01", "2024-03-04")
        and r.asset_selection[0].path[1] == "sensor_readings"
    )
    assert req.tags["dagster/partition/date"] == "2024-03-04"
    assert req.tags["dagster/partition/plant"] == "P01"
    assert req.tags["landing/files"] == "2"

    rows = ledger_rows(store)
    assert rows[raw("sensor_readings", "P01", "2024-03-04", "a.jsonl")]["status"] == "new"
    assert rows[raw("sensor_readings", "P01", "2024-03-04", "b.jsonl")]["run_key"] == req.run_key
    unknown = rows["raw/unknown_stream/plant=P01/date=2024-03-05/x.jsonl"]  # listed, reported
    assert (unknown["status"], unknown["detail"]) == (
        "ignored",
        "unknown stream folder 'raw/unknown_stream/'",
    )
    assert rows["raw/sensor_readings/README.txt"]["status"] == "ignored"
    assert rows[raw("shots", "P01", "2024-03-04", "s.jsonl")]["size"] == len(b'{"shot_id": "x"}\n')

    second = tick(store, instance, first.cursor)
    assert not second.run_requests
    assert not second.dynamic_partitions_requests
    assert len(store.ledger.read()) == len(rows)  # nothing new recorded


def test_redelivered_content_is_a_duplicate_and_not_processed(store: Store, instance) -> None:
    landing = store.landing
    instance.add_dynamic_partitions("plant", ["P01"])
    original = raw("sensor_readings", "P01", "2024-03-04", "batch-1.jsonl")
    landing.write_bytes(original, readings_file("2024-03-04", 4))
    first = tick(store, instance, None)
    assert requested(first) == {bronze_request("sensor_readings", "P01", "2024-03-04")}

    # Same content under another name (same folder and another day's folder) + one new file.
    copy_same_day = raw("sensor_readings", "P01", "2024-03-04", "batch-1-resent.jsonl")
    copy_other_day = raw("sensor_readings", "P01", "2024-03-06", "again.jsonl")
    landing.write_bytes(copy_same_day, readings_file("2024-03-04", 4))
    landing.write_bytes(copy_other_day, readings_file("2024-03-04", 4))
    other = raw("sensor_readings", "P01", "2024-03-05", "batch-2.jsonl")
    landing.write_bytes(other, readings_file("2024-03-04", 4, tag="9"))  # same size, new content
    second = tick(store, instance, first.cursor)

    assert requested(second) == {bronze_request("sensor_readings", "P01", "2024-03-05")}
    rows = ledger_rows(store)
    for key in (copy_same_day, copy_other_day):
        assert rows[key]["status"] == "duplicate"
        assert rows[key]["duplicate_of"] == original
        assert rows[key]["run_key"] is None
    assert rows[other]["status"] == "new"

    # Two identical new files in one tick: the first in key order is processed.
    a = raw("shots", "P01", "2024-03-07", "a.jsonl")
    b = raw("shots", "P01", "2024-03-08", "b.jsonl")
    landing.write_bytes(b, b'{"shot_id": "S1"}\n')
    landing.write_bytes(a, b'{"shot_id": "S1"}\n')
    third = tick(store, instance, second.cursor)
    assert requested(third) == {bronze_request("shots", "P01", "2024-03-07")}
    assert ledger_rows(store)[b]["duplicate_of"] == a


def test_new_plant_in_master_data_becomes_a_partition_before_its_runs(
    store: Store, instance
) -> None:
    landing = store.landing
    landing.write_bytes(
        "reference/plants/snapshot_date=2024-03-01/plants.csv", PLANTS_P01_P02.encode()
    )
    first = tick(store, instance, None)
    assert sorted(instance.get_dynamic_partitions("plant")) == ["P01", "P02"]

    landing.write_bytes("reference/plants/snapshot_date=2024-03-02/plants.csv", PLANTS_P03.encode())
    landing.write_bytes(raw("shots", "P03", "2024-03-02", "s.jsonl"), b'{"shot_id": "S9"}\n')
    landing.write_bytes(raw("shots", "P09", "2024-03-02", "s.jsonl"), b'{"shot_id": "S8"}\n')
    second = tick(store, instance, first.cursor)

    assert [list(r.partition_keys) for r in second.dynamic_partitions_requests] == [["P03"]]
    assert requested(second) == {
        bronze_request("shots", "P03", "2024-03-02"),
        (("reference", "plants"), None),
    }
    assert sorted(instance.get_dynamic_partitions("plant")) == ["P01", "P02", "P03"]
    # P09 is in no plants snapshot: its file waits (not in the ledger) and is retried.
    assert raw("shots", "P09", "2024-03-02", "s.jsonl") not in ledger_rows(store)
    waiting = tick(store, instance, second.cursor)
    assert not waiting.run_requests
    assert "1 file(s) waiting: plant P09 not in master data" in waiting.skip_reason.skip_message
    # Master data names it later: partition first, then its run.
    landing.write_bytes(
        "reference/plants/snapshot_date=2024-03-03/plants.csv",
        (PLANTS_P03 + "P09,Porto Works,EMEA,PT,Europe/Lisbon\n").encode(),
    )
    third = tick(store, instance, waiting.cursor)
    assert [list(r.partition_keys) for r in third.dynamic_partitions_requests] == [["P09"]]
    assert bronze_request("shots", "P09", "2024-03-02") in requested(third)


def test_unacknowledged_tick_is_replayed_with_the_same_run_keys(tmp_path, instance) -> None:
    settings = Settings.from_env({"MA_DATA_DIR": str(tmp_path)})
    store = Store(settings, build_resources(settings))
    landing = store.landing
    landing.write_bytes(
        "reference/plants/snapshot_date=2024-03-01/plants.csv", PLANTS_P01_P02.encode()
    )
    landing.write_bytes(raw("shots", "P01", "2024-03-02", "a.jsonl"), b'{"shot_id": "A"}\n')
    first = tick(store, instance, None)
    landing.write_bytes("reference/plants/snapshot_date=2024-03-02/plants.csv", PLANTS_P03.encode())
    landing.write_bytes(raw("shots", "P03", "2024-03-03", "b.jsonl"), b'{"shot_id": "BB"}\n')
    # The tick wrote the ledger, then died: Dagster stored neither its runs, nor its new
    # plant, nor its cursor. The next tick gets the old cursor again ...
    lost = tick(store, instance, first.cursor, apply=False)
    assert instance.get_dynamic_partitions("plant") == ["P01", "P02"]
    again = tick(store, instance, first.cursor)
    # ... and requests the same runs with the same keys (Dagster skips keys it already ran),
    # after adding the plant again.
    assert {r.run_key for r in again.run_requests} == {r.run_key for r in lost.run_requests}
    assert len(again.run_requests) == 2  # bronze/shots P03 and reference/plants
    assert [list(r.partition_keys) for r in again.dynamic_partitions_requests] == [["P03"]]
    assert json.loads(again.cursor)["acked_tick"] == 2
    assert not tick(store, instance, again.cursor).run_requests


# ---------------------------------------------------------------- late files -> automation


def run_request(instance: DagsterInstance, req: RunRequest, resources: dict[str, Any]) -> None:
    """Execute a run request the way the daemon would (same selection and partition)."""
    result = materialize(
        ALL_ASSETS,
        selection=req.asset_selection,
        partition_key=str(req.partition_key) if req.partition_key else None,
        instance=instance,
        resources=resources,
        tags=dict(req.tags),
        run_config=QUIET,
    )
    assert result.success


def run_range(
    instance: DagsterInstance, keys: list[AssetKey], first: str, last: str, resources: dict
) -> None:
    """One single-run backfill of a plant's date range (as the automation sensor launches)."""
    result = materialize(
        ALL_ASSETS,
        selection=keys,
        instance=instance,
        resources=resources,
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        },
        run_config=QUIET,
    )
    assert result.success


def test_late_file_recomputes_its_bronze_day_then_silver_neighbours(tmp_path, instance) -> None:
    settings = Settings.from_env({"MA_DATA_DIR": str(tmp_path)})
    resources = build_resources(settings)
    store = Store(settings, resources)
    landing = store.landing
    landing.write_bytes(
        "reference/plants/snapshot_date=2024-03-01/plants.csv", PLANTS_P01_P02.encode()
    )
    days = ["2024-03-03", "2024-03-04", "2024-03-05", "2024-03-06"]
    for day in days:
        landing.write_bytes(
            raw("sensor_readings", "P01", day, "b1.jsonl"), readings_file(day, tag=day[-1])
        )

    # Everything already landed was processed (e.g. by `manufacturing-assets run`) before the
    # sensor was switched on: it is recorded as already ingested, nothing is re-run.
    instance.add_dynamic_partitions("plant", ["P01", "P02"])
    all_reference = [a.key for a in reference_assets]
    run_request(instance, RunRequest(asset_selection=all_reference), resources)
    for day in days:
        run_request(
            instance,
            RunRequest(
                asset_selection=[AssetKey(["bronze", "sensor_readings"])],
                partition_key=partition_key("P01", day),
            ),
            resources,
        )
    first = tick(store, instance, None)
    assert not first.run_requests
    defs = Definitions(assets=ALL_ASSETS, resources=resources)
    assert {r["status"] for r in ledger_rows(store).values()} == {"already_ingested"}
    automation = evaluate_automation_conditions(defs, instance)  # initial evaluation
    assert automation.total_requested == 0

    # A file for 2024-03-04 lands days late.
    late = raw("sensor_readings", "P01", "2024-03-04", "late-resend-7.jsonl")
    landing.write_bytes(late, readings_file("2024-03-04", 2, device="P01-M002-T1"))
    second = tick(store, instance, first.cursor)
    assert requested(second) == {bronze_request("sensor_readings", "P01", "2024-03-04")}

    # Nothing downstream moves before bronze is materialized ...
    automation = evaluate_automation_conditions(defs, instance, cursor=automation.cursor)
    assert automation.total_requested == 0
    (req,) = second.run_requests
    run_request(instance, req, resources)

    # ... then silver (and quarantine, gold) of every date whose window holds 03-04.
    automation = evaluate_automation_conditions(defs, instance, cursor=automation.cursor)
    expected = {str(partition_key("P01", d)) for d in ("2024-03-03", "2024-03-04", "2024-03-05")}
    for key in (
        ["silver", "sensor_readings"],
        ["quarantine", "sensor_readings"],
        ["gold", "sensor_hourly"],
    ):
        assert set(automation.get_requested_partitions(AssetKey(key))) == expected, key
    assert automation.get_num_requested(AssetKey(["bronze", "sensor_readings"])) == 0

    # Once requested they are handled: the next evaluation requests nothing again.
    automation = evaluate_automation_conditions(defs, instance, cursor=automation.cursor)
    assert automation.total_requested == 0

    # A late machine-events file for 03-04: silver machine events of 03-03..03-05 first ...
    events = raw("machine_events", "P01", "2024-03-04", "late.jsonl")
    landing.write_bytes(
        events,
        b'{"machine_id": "P01-M001", "plant_id": "P01", "ts": "2024-03-04T06:00:00+01:00", '
        b'"state": "RUNNING", "reason_code": null}\n',
    )
    third = tick(store, instance, second.cursor)
    (req,) = third.run_requests
    run_request(instance, req, resources)
    automation = evaluate_automation_conditions(defs, instance, cursor=automation.cursor)
    d3_to_d5 = [str(partition_key("P01", f"2024-03-0{d}")) for d in (3, 4, 5)]
    silver_events = [
        AssetKey(["silver", "machine_events"]),
        AssetKey(["quarantine", "machine_events"]),
    ]
    for key in silver_events:
        assert sorted(automation.get_requested_partitions(key)) == d3_to_d5
    assert automation.get_num_requested(AssetKey(["silver", "sensor_readings"])) == 0
    run_range(instance, silver_events, d3_to_d5[0], d3_to_d5[-1], resources)

    # ... then, states carrying over midnight, the intervals of 03-03..03-06 (D+1 of every
    # recomputed day) and the OEE of 03-06; Dagster requests a dependent through a D-1..D
    # mapping on the tick after its parent updated, not in the parent's run ...
    automation = evaluate_automation_conditions(defs, instance, cursor=automation.cursor)
    d6 = str(partition_key("P01", "2024-03-06"))
    intervals = AssetKey(["silver", "machine_state_intervals"])
    assert sorted(automation.get_requested_partitions(intervals)) == [*d3_to_d5, d6]
    assert set(automation.get_requested_partitions(AssetKey(["gold", "oee_daily"]))) == {d6}
    run_range(instance, [intervals], d3_to_d5[0], d6, resources)

    # ... and, once the intervals are in, the OEE of 03-03..03-05 again (it was first computed
    # together with the events, before the intervals; 03-06 ran with the intervals).
    automation = evaluate_automation_conditions(defs, instance, cursor=automation.cursor)
    oee = sorted(automation.get_requested_partitions(AssetKey(["gold", "oee_daily"])))
    assert oee == d3_to_d5


# ---------------------------------------------------------------- everything on S3


def test_bronze_silver_gold_with_landing_and_lake_on_moto_s3(moto_endpoint) -> None:
    env = s3_env(moto_endpoint, f"e2e-{uuid.uuid4().hex[:8]}")
    settings = Settings.from_env(env)
    assert settings.delta_storage_options()["AWS_ENDPOINT_URL"] == moto_endpoint
    resources = build_resources(settings)
    store = Store(settings, resources)
    landing = store.landing
    landing.write_bytes(
        "reference/plants/snapshot_date=2024-03-01/plants.csv", PLANTS_P01_P02.encode()
    )
    landing.write_bytes(
        raw("sensor_readings", "P01", "2024-03-04", "b1.jsonl"), readings_file("2024-03-04", 6)
    )
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("plant", ["P01", "P02"])

    with instance_for_test() as sensor_instance:  # the sensor context needs a persistent one
        sensor_instance.add_dynamic_partitions("plant", ["P01", "P02"])
        result = tick(store, sensor_instance, None)
    requests = {tuple(r.asset_selection[0].path): r for r in result.run_requests}
    assert set(requests) == {("reference", "plants"), ("bronze", "sensor_readings")}
    run_request(instance, requests[("reference", "plants")], resources)
    run_request(instance, requests[("bronze", "sensor_readings")], resources)
    downstream = materialize(
        ALL_ASSETS,
        selection=[
            AssetKey(["silver", "sensor_readings"]),
            AssetKey(["quarantine", "sensor_readings"]),
            AssetKey(["gold", "sensor_hourly"]),
        ],
        partition_key=str(partition_key("P01", "2024-03-04")),
        instance=instance,
        resources=resources,
        run_config=QUIET,
    )
    assert downstream.success

    opts = settings.delta_storage_options()
    lake = settings.lake_root
    assert lake.startswith("s3://")
    bronze = read_delta(f"{lake}/bronze/sensor_readings", opts)
    silver = read_delta(f"{lake}/silver/sensor_readings", opts)
    gold = read_delta(f"{lake}/gold/sensor_hourly", opts)
    assert bronze is not None and bronze.height == 6
    assert silver is not None and silver.height == 6
    assert gold is not None and gold["readings"].sum() == 6
    assert gold["production_date"].cast(pl.String).unique().to_list() == ["2024-03-04"]
    ledger = read_delta(ledger_uri(lake), opts)
    assert ledger is not None and ledger.height == 2


def test_benchmark_runs_on_a_small_landing_zone() -> None:
    result = benchmark_landing_sensor(200, backends=("local",))["local"]
    assert result["first_tick_run_requests"] == 40  # 4 streams x 5 plants x 2 days
    assert result["idle_tick_run_requests"] == 0
    assert result["late_file_tick_run_requests"] == 1
