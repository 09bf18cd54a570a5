"""Seconds per phase on every materialization (manufacturing_assets/profiling.py) and the
`benchmark --profile` table built from them, on the shared sample run."""

from __future__ import annotations

from typing import Any

import pytest
from dagster import AssetKey

from manufacturing_assets.io_managers.delta import read_delta
from manufacturing_assets_tools.benchmarks.profile import print_profile


def _metadata(instance, path: str) -> dict[str, Any]:
    event = instance.get_latest_materialization_event(AssetKey(path.split("/")))
    assert event is not None and event.asset_materialization is not None, path
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


@pytest.mark.parametrize(
    ("path", "phases"),
    [
        ("bronze/sensor_readings", {"read_files", "parse", "compute", "write"}),
        ("silver/sensor_readings", {"transform", "checks", "compute", "write"}),
        ("gold/sensor_hourly", {"write"}),
    ],
)
def test_materializations_say_where_the_time_went(sample_run, path: str, phases: set) -> None:
    metadata = _metadata(sample_run["instance"], path)
    seconds = {
        k.removeprefix("seconds_"): v for k, v in metadata.items() if k.startswith("seconds_")
    }
    assert set(seconds) == phases, seconds
    assert all(isinstance(v, float) and v >= 0 for v in seconds.values()), seconds
    if "compute" in seconds:  # reading, parsing and checking happen while chunks are computed
        inner = sum(v for k, v in seconds.items() if k not in ("compute", "write"))
        assert inner <= seconds["compute"] + 0.01, seconds


def test_the_profile_table_lists_each_asset_with_its_rows(sample_run, capsys) -> None:
    settings = sample_run["settings"]
    # the sample run's own runs: other tests re-materialize partitions on the same instance
    print_profile(settings.data_dir / "dagster_home", sample_run["run_ids"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:3] == ["asset", "rows", "read_files"], lines[:2]
    by_asset = {line.split()[0]: line.split() for line in lines[2:]}
    silver = read_delta(f"{settings.lake_root}/silver/sensor_readings")
    assert silver is not None
    # the run wrote silver in one step per plant: the rows column sums the steps' totals
    assert int(by_asset["silver/sensor_readings"][1].replace(",", "")) == silver.height
