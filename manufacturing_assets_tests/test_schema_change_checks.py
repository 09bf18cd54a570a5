"""Schema change (issue 12): Dagster's column-schema change checks on the bronze and silver
tables of the code location, fed by the Delta IO manager's ``dagster/column_schema``.

The real ``plant_day_job`` of ``build_defs`` materializes ``bronze/sensor_readings`` (real
landed files, real Delta table) twice; the second delivery carries a metric key nobody sent
before, which bronze keeps as a new column: the check passes the first times and fails (WARN)
the time the column appears, naming it.
"""

from __future__ import annotations

from pathlib import Path

from dagster import AssetCheckKey, AssetCheckSeverity, AssetKey, DagsterInstance, MultiPartitionKey

from manufacturing_assets.definitions import SCHEMA_CHANGE_CHECKS, build_defs
from manufacturing_assets.environment import Settings
from manufacturing_assets.partitions import PLANT_DIMENSION
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets_tests.helpers import jsonl, land, reading, write_plants

BRONZE = AssetKey(["bronze", "sensor_readings"])
CHECK = AssetCheckKey(BRONZE, "column_schema_change")


def test_every_bronze_and_silver_table_has_a_schema_change_check() -> None:
    defs = build_defs(Settings.from_env({"MA_DATA_DIR": "/nonexistent"}))
    checked = {k.asset_key for c in SCHEMA_CHANGE_CHECKS for k in c.check_keys}
    graph = defs.resolve_asset_graph()
    layers = {"bronze", "silver"}
    tables = {k for k in graph.get_all_asset_keys() if k.path[0] in layers}
    assert tables and tables <= checked
    assert all(k.name == "column_schema_change" for c in SCHEMA_CHANGE_CHECKS for k in c.check_keys)
    # they are part of the definitions and of the plant-day job
    assert CHECK in graph.asset_check_keys
    assert CHECK in defs.resolve_job_def("plant_day_job").asset_layer.asset_graph.asset_check_keys


def test_a_new_column_fails_the_schema_change_check_naming_it(tmp_path: Path) -> None:
    settings = Settings.from_env({"MA_DATA_DIR": str(tmp_path)})
    landing = LandingZone(root=settings.landing_root)
    write_plants(landing)
    defs = build_defs(settings)
    job = defs.resolve_job_def("plant_day_job")

    def run(day: str) -> tuple[bool, AssetCheckSeverity, str]:
        result = job.execute_in_process(
            partition_key=MultiPartitionKey({"date": day, PLANT_DIMENSION: "P01"}),
            instance=instance,
            asset_selection=[BRONZE],
        )
        assert result.success
        [evaluation] = [
            e for e in result.get_asset_check_evaluations() if e.asset_check_key == CHECK
        ]
        return evaluation.passed, evaluation.severity, evaluation.description or ""

    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(PLANT_DIMENSION, ["P01"])
        land(
            landing,
            "sensor_readings",
            "P01",
            "2024-03-04",
            "a.jsonl",
            jsonl([reading("P01-M001-T1", "2024-03-04T10:00:00+01:00")]),
        )
        passed, _, description = run("2024-03-04")
        assert passed and "fewer than 2 times" in description
        # same columns again (another day): passes
        land(
            landing,
            "sensor_readings",
            "P01",
            "2024-03-05",
            "a.jsonl",
            jsonl([reading("P01-M001-T1", "2024-03-05T10:00:00+01:00")]),
        )
        passed, _, description = run("2024-03-05")
        assert passed, description
        # a metric key nobody sent before: a new bronze column, the check fails (WARN)
        metrics = {"temperature_c": 70.0, "oil_level_pct": 81.5}
        land(
            landing,
            "sensor_readings",
            "P01",
            "2024-03-06",
            "a.jsonl",
            jsonl([reading("P01-M001-T1", "2024-03-06T10:00:00+01:00", metrics)]),
        )
        passed, severity, description = run("2024-03-06")
        assert not passed
        assert severity == AssetCheckSeverity.WARN
        assert "Added columns: metric__oil_level_pct" in description
        assert "Removed columns" not in description
