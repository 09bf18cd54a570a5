"""Pandera checks: a failed blocking silver check stops gold; failed checks are alerted once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance, Definitions, asset, build_sensor_context, materialize

from manufacturing_assets.assets.gold import sensor_hourly
from manufacturing_assets.catalogue.silver import SENSOR_READINGS
from manufacturing_assets.checks.contracts import contract, contract_asset_check, validate
from manufacturing_assets.io_managers.delta import DeltaLakeIOManager
from manufacturing_assets.partitions import PLANT_DIMENSION, partition_key, plant_date_partitions
from manufacturing_assets.resources.engine import EngineResource
from manufacturing_assets.resources.notifier import Notifier
from manufacturing_assets.sensors.check_alerts import check_failure_alerts


def silver_row(**over) -> dict:
    row = {
        "plant_id": "P01",
        "production_date": date(2024, 3, 4),
        "device_id": "P01-M01-T1",
        "machine_id": "P01-M01",
        "ts": datetime(2024, 3, 4, 7, tzinfo=UTC),
        "firmware": "2.4.0",
        "status": "active",
        "temperature_from_f": False,
        "temperature_c": 70.0,
        "humidity_pct": 40.0,
        "pressure_bar": 2.0,
        "vibration_mm_s": 3.0,
        "is_valid": True,
        "flags": "",
        "deliveries": 1,
        "record_plant_id": "P01",
        "landing_date": date(2024, 3, 4),
        "source": "raw/x.jsonl",
        "file_hash": "abc",
        "line_number": 1,
        "ingested_at": datetime(2024, 3, 5, tzinfo=UTC),
    }
    row.update(over)
    return row


def frame(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows)).with_columns(
        pl.col("ts").dt.cast_time_unit("us"), pl.col("ingested_at").dt.cast_time_unit("us")
    )


SILVER_CONTRACT = contract_asset_check(SENSOR_READINGS, blocking=True)


@asset(key=["reference", "plants"])
def plants() -> pl.DataFrame:
    return pl.DataFrame(
        {"snapshot_date": [date(2024, 3, 1)], "plant_id": ["P01"], "timezone": ["Europe/Berlin"]}
    )


def test_silver_model_accepts_good_and_rejects_inconsistent_rows() -> None:
    assert validate(contract("silver/sensor_readings"), frame(silver_row()))[0]
    bad = frame(
        silver_row(vibration_mm_s=150.0),
        silver_row(line_number=2, ts=datetime(2024, 3, 4, 7, 5, tzinfo=UTC), status="weird"),
    )
    passed, meta = validate(contract("silver/sensor_readings"), bad)
    assert not passed and meta["failures"] >= 2
    assert (
        "is_valid" in meta["failure_cases"].value
        and "invalid_status" in meta["failure_cases"].value
    )


class Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), Hook)
    Hook.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def test_failed_blocking_check_stops_gold_and_alert_is_sent_once(
    tmp_path: Path, webhook: str
) -> None:
    @asset(key=["silver", "sensor_readings"], partitions_def=plant_date_partitions)
    def broken_silver() -> pl.DataFrame:
        return frame(silver_row(vibration_mm_s=150.0))  # out of range but is_valid = true

    (tmp_path / "home").mkdir()
    with DagsterInstance.local_temp(str(tmp_path / "home")) as instance:
        instance.add_dynamic_partitions(PLANT_DIMENSION, ["P01"])
        result = materialize(
            [broken_silver, plants, sensor_hourly, SILVER_CONTRACT],
            partition_key=str(partition_key("P01", "2024-03-04")),
            instance=instance,
            resources={
                "io_manager": DeltaLakeIOManager(root_uri=str(tmp_path / "lake")),
                "engine": EngineResource(),
            },
            raise_on_error=False,
        )
        evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert evaluations == {"pandera_SilverSensorReadings": False}
        assert not result.success
        assert (
            instance.get_latest_materialization_event(AssetKey(["gold", "sensor_hourly"])) is None
        )

        notifier = Notifier(kind="webhook", webhook_url=webhook)
        repo = Definitions(
            assets=[broken_silver, plants, sensor_hourly],
            asset_checks=[SILVER_CONTRACT],
            resources={
                "io_manager": DeltaLakeIOManager(root_uri=str(tmp_path / "lake")),
                "engine": EngineResource(),
            },
        ).get_repository_def()
        context = build_sensor_context(
            instance=instance, resources={"notifier": notifier}, repository_def=repo
        )
        result = check_failure_alerts(context)
        # the failed check and the run it stopped: one message for the asset
        assert len(Hook.received) == 1
        [message] = Hook.received
        assert [a["kind"] for a in message["alerts"]] == ["check", "run"]
        assert "pandera_SilverSensorReadings" in message["text"]
        assert "plant P01, 2024-03-04" in message["text"]
        assert "run failed at silver__sensor_readings_pandera" in message["text"]
        # the alert is recorded on the asset and plant-day it concerns (visible in the UI)
        [observation] = result.asset_events
        assert observation.asset_key == AssetKey(["silver", "sensor_readings"])
        assert observation.partition == "2024-03-04|P01"
        meta = {k: v.value for k, v in observation.metadata.items()}
        assert meta["check"] == "pandera_SilverSensorReadings"
        assert (meta["plant_id"], meta["production_date"]) == ("P01", "2024-03-04")
        assert (meta["notifier"], meta["delivery"], meta["severity"]) == (
            "webhook",
            "delivered",
            "ERROR",
        )
        context = build_sensor_context(
            instance=instance,
            resources={"notifier": notifier},
            cursor=context.cursor,
            repository_def=repo,
        )
        check_failure_alerts(context)
        assert len(Hook.received) == 1  # sent once

        # a notifier that is down: recorded as undelivered, the tick does not fail
        down = Notifier(
            kind="webhook", webhook_url="http://127.0.0.1:9/hook", timeout_s=2, max_attempts=1
        )
        context = build_sensor_context(
            instance=instance, resources={"notifier": down}, repository_def=repo
        )
        [observation] = check_failure_alerts(context).asset_events
        delivery = observation.metadata["delivery"].value
        assert delivery.startswith("undelivered: URLError"), delivery
