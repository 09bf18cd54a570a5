"""Runs over a range of plant-days see the whole range (manufacturing_assets/instance.py):
the tags a Dagster 1.13 job backfill puts on its run (the range *and* the first key's
dimension tags) are made consistent by the project's instance class, and refused clearly
by the assets on an instance without it. Asset backfills launched from the UI target
exactly the selected plant-days, not the neighbours Dagster's partition mappings add."""

from __future__ import annotations

import shutil
import time
from datetime import date
from pathlib import Path

from dagster import AssetKey, DagsterInstance, materialize
from dagster._core.execution.backfill import PartitionBackfill

from manufacturing_assets.assets.runner import NarrowedRunError
from manufacturing_assets.definitions import defs
from manufacturing_assets.environment import Settings, build_resources
from manufacturing_assets.instance import (
    PlantDayInstance,
    consistent_partition_tags,
    exact_asset_backfill,
)
from manufacturing_assets.io_managers.delta import read_delta
from manufacturing_assets.partitions import PLANT_DIMENSION
from manufacturing_assets.pipeline import ALL_DEFS, QUIET
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets_tests.helpers import jsonl, reading

REPO = Path(__file__).resolve().parents[1]
# what Dagster 1.13 tags a job-backfill run over 2024-03-04..06 of P01 with
JOB_BACKFILL_TAGS = {
    "dagster/asset_partition_range_start": "2024-03-04|P01",
    "dagster/asset_partition_range_end": "2024-03-06|P01",
    "dagster/partition/date": "2024-03-04",
    "dagster/partition/plant": "P01",
}
BRONZE = [AssetKey(["bronze", "sensor_readings"])]


def test_range_tags_win_over_single_partition_tags() -> None:
    fixed = consistent_partition_tags({**JOB_BACKFILL_TAGS, "dagster/backfill": "b1"})
    assert fixed == {
        "dagster/asset_partition_range_start": "2024-03-04|P01",
        "dagster/asset_partition_range_end": "2024-03-06|P01",
        "dagster/backfill": "b1",
        "manufacturing_assets/backfill_plant": "P01",  # for the per-plant run limit
    }
    single = {"dagster/partition": "2024-03-04|P01", "dagster/partition/plant": "P01"}
    assert consistent_partition_tags(single) == single
    one = {**JOB_BACKFILL_TAGS, "dagster/asset_partition_range_end": "2024-03-04|P01"}
    assert consistent_partition_tags(one) == one  # a range of one key: both views agree


def test_backfill_runs_name_their_one_plant() -> None:
    """``manufacturing_assets/backfill_plant``: on a backfill's runs of one plant only."""
    plant = "manufacturing_assets/backfill_plant"
    single = {"dagster/backfill": "b1", "dagster/partition": "2024-03-04|P02"}
    assert consistent_partition_tags(single)[plant] == "P02"  # type: ignore[index]
    range_tags = {k: v for k, v in JOB_BACKFILL_TAGS.items() if "partition/" not in k}
    assert consistent_partition_tags({**range_tags, "dagster/backfill": "b1"})[plant] == "P01"  # type: ignore[index]
    two_plants = {**range_tags, "dagster/asset_partition_range_end": "2024-03-06|P02"}
    assert plant not in consistent_partition_tags({**two_plants, "dagster/backfill": "b1"})  # type: ignore[operator]
    assert plant not in consistent_partition_tags(JOB_BACKFILL_TAGS)  # type: ignore[operator]


def _landing(tmp_path: Path) -> Settings:
    settings = Settings.from_env({"MA_DATA_DIR": str(tmp_path)})
    landing = LandingZone(root=settings.landing_root)
    for day in ("2024-03-04", "2024-03-05", "2024-03-06"):
        landing.write_bytes(
            f"raw/sensor_readings/plant=P01/date={day}/b.jsonl",
            jsonl([reading("P01-M001-T1", f"{day}T10:00:00+01:00")]),
        )
    return settings


def _run(instance: DagsterInstance, settings: Settings):
    instance.add_dynamic_partitions(PLANT_DIMENSION, ["P01"])
    return materialize(
        ALL_DEFS,
        selection=BRONZE,
        instance=instance,
        resources=build_resources(settings),
        tags=JOB_BACKFILL_TAGS,
        run_config=QUIET,
        raise_on_error=False,
    )


def test_the_project_instance_runs_the_whole_range(tmp_path: Path) -> None:
    settings = _landing(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    with DagsterInstance.from_ref(DagsterInstance.local_temp(str(home)).get_ref()) as instance:
        assert isinstance(instance, PlantDayInstance)
        result = _run(instance, settings)
        assert result.success
        run = instance.get_run_by_id(result.run_id)
        assert "dagster/partition/date" not in run.tags
    bronze = read_delta(f"{settings.lake_root}/bronze/sensor_readings")
    assert sorted(bronze["landing_date"].unique()) == [
        date(2024, 3, 4),
        date(2024, 3, 5),
        date(2024, 3, 6),
    ]


def test_a_plain_instance_refuses_instead_of_narrowing(tmp_path: Path) -> None:
    settings = _landing(tmp_path)
    with DagsterInstance.ephemeral() as instance:
        result = _run(instance, settings)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert NarrowedRunError.__name__ in str(failure.event_specific_data.error)
    assert "2024-03-04|P01 .. 2024-03-06|P01" in str(failure.event_specific_data.error)
    assert read_delta(f"{settings.lake_root}/bronze/sensor_readings") is None  # nothing written


def _ui_asset_backfill(instance: DagsterInstance, keys: list[str], tags: dict[str, str]):
    """What the asset graph's Materialize dialog creates: every partitioned asset of the
    graph, the selected keys (GraphQL ``launchPartitionBackfill`` with ``partitionNames``)."""
    graph = defs.resolve_asset_graph()
    return PartitionBackfill.from_asset_partitions(
        backfill_id="b1",
        asset_graph=graph,
        partition_names=keys,
        asset_selection=[k for k in graph.materializable_asset_keys if graph.get(k).is_partitioned],
        backfill_timestamp=time.time(),
        tags=tags,
        dynamic_partitions_store=instance,
        all_partitions=False,
        title=None,
        description=None,
        run_config=None,
    )


def _targets(backfill: PartitionBackfill) -> dict[str, set[str]]:
    subsets = backfill.asset_backfill_data.target_subset.partitions_subsets_by_asset_key
    return {k.to_user_string(): set(s.get_partition_keys()) for k, s in subsets.items()}


def test_a_ui_asset_backfill_targets_exactly_the_selection() -> None:
    selected = {"2024-03-05|P01", "2024-03-06|P01", "2024-03-05|P02"}
    with DagsterInstance.ephemeral() as instance:
        widened = _ui_asset_backfill(instance, sorted(selected), {"dagster/from_ui": "true"})
        # Dagster's own target: silver reaches D-1..D+1 of the selected bronze days
        assert _targets(widened)["silver/sensor_readings"] == selected | {
            "2024-03-04|P01",
            "2024-03-07|P01",
            "2024-03-04|P02",
            "2024-03-06|P02",
        }
        assert _targets(widened)["silver/machine_state_intervals"] > selected
        exact = exact_asset_backfill(widened)
        targets = _targets(exact)
        assert set(targets) == set(_targets(widened))  # every selected asset stays
        assert all(keys == selected for keys in targets.values()), targets
        assert "left out" in (exact.description or "")
        assert "2024-03-07|P01" in (exact.description or "")


def test_backfills_not_launched_from_the_ui_keep_dagsters_targets() -> None:
    with DagsterInstance.ephemeral() as instance:
        keys = ["2024-03-05|P01"]
        api = _ui_asset_backfill(instance, keys, {})
        assert exact_asset_backfill(api) is api
        retry_tags = {"dagster/from_ui": "true", "dagster/parent_backfill_id": "b0"}
        retry = _ui_asset_backfill(instance, keys, retry_tags)
        assert exact_asset_backfill(retry) is retry
