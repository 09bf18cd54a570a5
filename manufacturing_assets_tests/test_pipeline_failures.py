"""`manufacturing-assets run` when a stream's bronze fails: its downstream is not computed
for that plant (no empty silver or gold written as if all were well), the other streams are,
and the failure is reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterInstance

import manufacturing_assets.stages.bronze as bronze_stage
from manufacturing_assets.environment import Settings
from manufacturing_assets.io_managers.delta import read_delta
from manufacturing_assets.pipeline import run_pipeline
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets_tools.generator import GeneratorConfig, generate_landing_zone


def test_a_failed_bronze_stream_stops_its_downstream_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings.from_env({"MA_DATA_DIR": str(tmp_path)})
    generate_landing_zone(
        LandingZone(root=settings.landing_root), GeneratorConfig(days=1, machines_per_plant=1)
    )
    read = bronze_stage.read_landed_file

    def failing_for_shots(stream: str, key: str, *args, **kwargs):
        if stream == "shots" and "plant=P01" in key:
            raise OSError(f"storage error reading {key}")
        return read(stream, key, *args, **kwargs)

    monkeypatch.setattr(bronze_stage, "read_landed_file", failing_for_shots)
    with DagsterInstance.ephemeral() as instance:
        report = run_pipeline(settings, instance, log=lambda *_: None)

    assert any(step.startswith("bronze/shots P01") for step in report.failed_steps)
    assert not any("P02" in step for step in report.failed_steps)

    def plants(layer: str, table: str) -> set[str]:
        frame = read_delta(f"{settings.lake_root}/{layer}/{table}")
        return set(frame["plant_id"]) if frame is not None else set()

    # P01's shots and everything that reads them: not computed; P02 and other streams: are
    for layer, table in (
        ("silver", "shots"),
        ("quarantine", "shots"),
        ("silver", "machine_state_intervals"),
        ("gold", "oee_daily"),
        ("gold", "loss_daily"),
        ("marts", "fact_shot"),
    ):
        assert plants(layer, table) == {"P02"}, f"{layer}/{table}"
    for layer, table in (("silver", "sensor_readings"), ("gold", "sensor_hourly")):
        assert plants(layer, table) == {"P01", "P02"}, f"{layer}/{table}"
