"""The Spark twins of the plant x date assets (``assets/spark.py``, issue 14): the whole
``plant_day_job`` selection run through Dagster with ``MA_ENGINE=spark`` writes the same
Delta tables as the Polars run, records the same plant-day check evaluations (names,
partitions, verdicts), and a re-run replaces its partitions (identical tables)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetsDefinition, DagsterInstance

from manufacturing_assets.environment import Settings
from manufacturing_assets.partitions import PLANT_DIMENSION, partition_key
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets_tests.spark_driver import TEST_CONF
from manufacturing_assets_tests.test_spark_engine import compare_lakes

pytestmark = pytest.mark.integration
LAYERS = ("bronze", "silver", "quarantine", "gold")


def _settings(root: Path, landing: Path, engine: str) -> Settings:
    env = {"MA_DATA_DIR": str(root), "MA_LANDING_ROOT": str(landing)}
    if engine == "spark":
        env |= {"MA_ENGINE": "spark", "MA_SPARK_MASTER": "local[2]"}
    return Settings.from_env(env)


def _run(settings: Settings, instance: DagsterInstance, plant: str, day: date, reference: bool):
    from manufacturing_assets.definitions import build_defs

    defs = build_defs(settings)
    if reference:
        assert defs.resolve_job_def("reference_job").execute_in_process(instance=instance).success
        instance.add_dynamic_partitions(PLANT_DIMENSION, [plant])
    job = defs.resolve_job_def("plant_day_job")
    result = job.execute_in_process(
        instance=instance, partition_key=str(partition_key(plant, day)), raise_on_error=False
    )
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return defs, result


def _evaluations(result: Any) -> dict[tuple[str, str, str], bool]:
    return {
        (e.asset_key.to_user_string(), e.check_name, e.partition): e.passed
        for e in result.get_asset_check_evaluations()
    }


def test_spark_definitions_mirror_polars() -> None:
    from manufacturing_assets.assets.spark import has_spark_twin, with_spark_assets
    from manufacturing_assets.definitions import ASSETS

    twins = with_spark_assets(ASSETS)
    replaced = [(a, b) for a, b in zip(ASSETS, twins, strict=True) if a is not b]
    assert len(replaced) == 17  # 4 bronze, 4 silver (+ quarantine), intervals, 4 gold, 4 facts
    for polars, spark in replaced:
        assert has_spark_twin(polars) and isinstance(spark, AssetsDefinition)
        assert spark.keys == polars.keys
        assert spark.partitions_def == polars.partitions_def
        assert spark.backfill_policy == polars.backfill_policy
        assert list(spark.check_specs) == list(polars.check_specs)
        for a, b in zip(polars.specs, spark.specs, strict=True):
            assert a.description == b.description and a.owners == b.owners
            assert a.metadata == b.metadata and a.group_name == b.group_name
            assert a.automation_condition == b.automation_condition
            assert a.freshness_policy == b.freshness_policy
            assert [(d.asset_key, d.partition_mapping) for d in a.deps] == [
                (d.asset_key, d.partition_mapping) for d in b.deps
            ]
            assert b.kinds == {"spark", "delta"}
            assert {k: v for k, v in a.tags.items() if not k.startswith("dagster/kind/")} == {
                k: v for k, v in b.tags.items() if not k.startswith("dagster/kind/")
            }


def test_plant_day_job_on_spark_equals_polars(spark: Any, tmp_path: Path) -> None:
    from manufacturing_assets_tools.generator import GeneratorConfig, generate_landing_zone
    from manufacturing_assets_tools.generator.config import DEFAULT_PLANTS

    for key, value in TEST_CONF.items():
        spark.conf.set(key, value)
    landing = tmp_path / "landing"
    config = GeneratorConfig(
        days=2,  # the bad-input injector needs two landing days; one plant-day is run
        plants=DEFAULT_PLANTS[:1],
        machines_per_plant=1,
        readings_per_machine_per_day=12,
        shots_per_machine_per_day=10,
    )
    generate_landing_zone(LandingZone(root=str(landing)), config)
    plant, day = config.plants[0].plant_id, config.start_date
    polars_settings = _settings(tmp_path / "polars", landing, "polars")
    spark_settings = _settings(tmp_path / "spark", landing, "spark")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    with DagsterInstance.ephemeral() as polars_instance, DagsterInstance.ephemeral() as instance:
        _, polars_result = _run(polars_settings, polars_instance, plant, day, reference=True)
        defs, spark_result = _run(spark_settings, instance, plant, day, reference=True)
        # the job ran the Spark twins (kind spark) and wrote through them
        node = defs.resolve_asset_graph().get(
            next(k for k in spark_result.get_asset_materialization_events()).asset_key
        )
        assert "dagster/kind/spark" in node.tags
        compared = compare_lakes(
            Path(polars_settings.lake_root), Path(spark_settings.lake_root), LAYERS
        )
        assert len(compared) == 17  # 4 bronze, 5 silver, 4 quarantine, 4 gold
        assert compared["silver/sensor_readings"] > 0 and compared["gold/oee_daily"] > 0
        assert compared["quarantine/sensor_readings"] > 0  # bad input reached quarantine
        expected = _evaluations(polars_result)
        assert expected and _evaluations(spark_result) == expected
        # per-partition row counts from the write (Parquet footers)
        key = str(partition_key(plant, day))
        for event in spark_result.get_asset_materialization_events():
            mat = event.event_specific_data.materialization
            assert mat.partition == key
            assert (
                mat.metadata["dagster/row_count"].value == compared[mat.asset_key.to_user_string()]
            )
        # a re-run replaces exactly its partitions: identical tables, no duplicates
        _, again = _run(spark_settings, instance, plant, day, reference=False)
        assert _evaluations(again) == expected
        assert (
            compare_lakes(Path(polars_settings.lake_root), Path(spark_settings.lake_root), LAYERS)
            == compared
        )
