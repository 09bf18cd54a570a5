"""The Spark twins of the plant x date assets (``assets/spark.py``, issue 14): the whole
``plant_day_job`` selection run through Dagster with ``MA_ENGINE=spark`` writes the same
Delta tables as the Polars run, records the same plant-day check evaluations (names,
partitions, verdicts), and a re-run replaces its partitions (identical tables)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetsDefinition, DagsterInstance

from manufacturing_assets.environment import Settings
from manufacturing_assets.partitions import PLANT_DIMENSION, partition_key
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets.spark.session import SMALL_DATA_CONF
from manufacturing_assets_tests.test_spark_engine import compare_lakes

pytestmark = pytest.mark.integration
LAYERS = ("bronze", "silver", "quarantine", "gold")


def _settings(root: Path, landing: Path, engine: str) -> Settings:
    env = {"MA_DATA_DIR": str(root), "MA_LANDING_ROOT": str(landing)}
    if engine == "spark":
        # the resource's session settings: the test fixture's small-data ones (the resource
        # applies its settings to the fixture's running session)
        env |= {
            "MA_ENGINE": "spark",
            "MA_SPARK_MASTER": "local[2]",
            "MA_SPARK_CONF": json.dumps(SMALL_DATA_CONF),
        }
    return Settings.from_env(env)


def _run(
    settings: Settings,
    instance: DagsterInstance,
    plant: str,
    day: date,
    reference: bool,
    selection: list | None = None,
):
    from manufacturing_assets.definitions import build_defs

    defs = build_defs(settings)
    if reference:
        assert defs.resolve_job_def("reference_job").execute_in_process(instance=instance).success
        instance.add_dynamic_partitions(PLANT_DIMENSION, [plant])
    job = defs.resolve_job_def("plant_day_job")
    result = job.execute_in_process(
        instance=instance,
        partition_key=str(partition_key(plant, day)),
        raise_on_error=False,
        asset_selection=selection,
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


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, date]:
    from manufacturing_assets_tools.generator import GeneratorConfig, generate_landing_zone
    from manufacturing_assets_tools.generator.config import DEFAULT_PLANTS

    landing = tmp_path_factory.mktemp("spark_assets") / "landing"
    config = GeneratorConfig(
        days=2,  # the bad-input injector needs two landing days; one plant-day is run
        plants=DEFAULT_PLANTS[:1],
        machines_per_plant=1,
        readings_per_machine_per_day=12,
        shots_per_machine_per_day=10,
    )
    generate_landing_zone(LandingZone(root=str(landing)), config)
    return landing, config.plants[0].plant_id, config.start_date


def _parity(
    spark: Any, tmp_path: Path, landed: tuple[Path, str, date], selection: list | None
) -> dict[str, int]:
    """Polars then Spark on the same landing zone (``selection`` of plant_day_job, None:
    all); the same tables and check evaluations; a Spark re-run leaves identical tables."""
    landing, plant, day = landed
    polars_settings = _settings(tmp_path / "polars", landing, "polars")
    spark_settings = _settings(tmp_path / "spark", landing, "spark")
    layers = LAYERS if selection is None else tuple(dict.fromkeys(k.path[0] for k in selection))
    with DagsterInstance.ephemeral() as polars_instance, DagsterInstance.ephemeral() as instance:
        _, polars_result = _run(polars_settings, polars_instance, plant, day, True, selection)
        defs, spark_result = _run(spark_settings, instance, plant, day, True, selection)
        # the job ran the Spark twins (kind spark), which wrote the tables themselves
        graph = defs.resolve_asset_graph()
        materialized = spark_result.get_asset_materialization_events()
        assert materialized
        for event in materialized:
            assert "dagster/kind/spark" in graph.get(event.asset_key).tags
        compared = compare_lakes(
            Path(polars_settings.lake_root), Path(spark_settings.lake_root), layers
        )
        expected = _evaluations(polars_result)
        assert expected and _evaluations(spark_result) == expected
        # per-partition row counts from the write (Parquet footers)
        key = str(partition_key(plant, day))
        for event in materialized:
            mat = event.event_specific_data.materialization
            assert mat.partition == key
            rows = mat.metadata["dagster/row_count"].value
            assert rows == compared[mat.asset_key.to_user_string()], mat.asset_key
        # a re-run replaces exactly its partitions: identical tables, no duplicates
        _, again = _run(spark_settings, instance, plant, day, False, selection)
        assert _evaluations(again) == expected
        again_compared = compare_lakes(
            Path(polars_settings.lake_root), Path(spark_settings.lake_root), layers
        )
        assert again_compared == compared
    return compared


def test_plant_day_job_on_spark_equals_polars(
    spark: Any, tmp_path: Path, landed: tuple[Path, str, date]
) -> None:
    """The whole plant_day_job selection (4 streams, intervals, gold)."""
    compared = _parity(spark, tmp_path, landed, None)
    assert len(compared) == 17  # 4 bronze, 5 silver, 4 quarantine, 4 gold
    assert compared["gold/oee_daily"] > 0 and compared["gold/loss_daily"] > 0
    for stream in ("sensor_readings", "shots", "machine_events", "quality_inspections"):
        assert compared[f"silver/{stream}"] > 0


def test_contract_as_spark_aggregations_fails_per_plant_day(spark: Any, tmp_path: Path) -> None:
    """A null in a non-null column, a value out of range and a duplicate key fail exactly
    the plant-days that hold them; a clean plant-day passes."""
    import polars as pl

    from manufacturing_assets.assets.spark import contract_outcomes
    from manufacturing_assets.catalogue.model import Column, Table
    from manufacturing_assets.spark.graph import SparkLake

    t = Table(
        layer="silver",
        name="tiny",
        description="test",
        columns=(
            Column("plant_id", pl.String, "plant", nullable=False),
            Column("production_date", pl.Date, "day", nullable=False),
            Column("id", pl.String, "id", nullable=False),
            Column("value", pl.Float64, "value", ge=0),
        ),
        unique=("plant_id", "production_date", "id"),
    )
    d1, d2, d3 = date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 3)
    rows = [
        ("P01", d1, "a", 1.0),
        ("P01", d1, "b", None),  # nullable value: fine
        ("P01", d2, None, 1.0),  # null id
        ("P01", d2, "c", -1.0),  # out of range
        ("P01", d3, "d", 1.0),
        ("P01", d3, "d", 2.0),  # duplicate key
    ]
    frame = spark.createDataFrame(
        rows, "plant_id string, production_date date, id string, value double"
    )
    lake = SparkLake(spark, str(tmp_path))
    parts = [("P01", d) for d in (d1, d2, d3)]
    lake.write(t, frame, [{"plant_id": p, "production_date": d} for p, d in parts])
    out = contract_outcomes(lake, t, parts)
    assert out[("P01", d1)].passed and out[("P01", d1)].metadata["rows"] == 2
    assert not out[("P01", d2)].passed and out[("P01", d2)].metadata["failures"] == 2
    text = out[("P01", d2)].metadata["failure_cases"].value
    assert "`id` not_nullable" in text and "`value` greater_than_or_equal_to" in text
    assert not out[("P01", d3)].passed
    assert "unique" in out[("P01", d3)].metadata["failure_cases"].value
