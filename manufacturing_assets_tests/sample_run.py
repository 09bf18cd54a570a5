"""One run of the whole pipeline on the generated sample landing zone, shared by test modules.

The sample is the one `test_pipeline.py` builds: ``GeneratorConfig()`` (seed 7, 2024-03-30
for 3 days, plants P01 and P02) written into ``<root>/landing``, then
``run_pipeline`` into ``<root>/lake`` with a temporary Dagster instance.

Right after the run, the lake is copied to ``<root>/lake_after_run`` (``pristine_lake``):
tests that re-materialize partitions change the lake (new ``ingested_at``, float
aggregates up to summation order), so checks that must see the lake exactly as the run
left it read the copy, whatever ran before them.

Use it from a test module with::

    def test_x(sample_run): ...  # registered in conftest.py: one run per session

"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance

from manufacturing_assets.environment import Settings
from manufacturing_assets.pipeline import run_pipeline
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets_tools.generator import GeneratorConfig, generate_landing_zone


def run_sample(root: Path, instance: DagsterInstance) -> dict[str, Any]:
    """Generate the sample under ``root`` and run the whole pipeline on it."""
    settings = Settings.from_env({"MA_DATA_DIR": str(root)})
    manifest = generate_landing_zone(LandingZone(root=settings.landing_root), GeneratorConfig())
    report = run_pipeline(settings, instance, log=lambda *_: None)
    pristine = root / "lake_after_run"
    shutil.copytree(settings.lake_root, pristine)
    return {
        "generator": generate_landing_zone.__module__,
        "settings": settings,
        "manifest": manifest,
        "report": report,
        "instance": instance,
        "pristine_lake": str(pristine),
        # the runs of the sample run itself (tests that share the instance add others)
        "run_ids": {run.run_id for run in instance.get_runs()},
    }


def sample_run_in(root: Path) -> Iterator[dict[str, Any]]:
    """``run_sample`` with a temporary instance under ``root/dagster_home``; yields the run
    while the instance is open."""
    (root / "dagster_home").mkdir(parents=True, exist_ok=True)
    with DagsterInstance.local_temp(str(root / "dagster_home")) as instance:
        yield run_sample(root, instance)


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The sample run, once per test session: settings, manifest, report, instance and
    ``pristine_lake`` (the lake as the run left it), ``generator`` (its module)."""
    yield from sample_run_in(tmp_path_factory.mktemp("sample_run"))
