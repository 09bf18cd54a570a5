"""Shared fixtures. Servers (Spark, Kafka, S3) are started here or in their fixture modules
and stopped at the end of the session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

# Hand-made test cases are dated from early 2024 (before the sample's first day, where the
# `date` partitions start by default): start the partitions at the year's first day. Set
# before any test module imports `manufacturing_assets.partitions`.
os.environ.setdefault("MA_START_DATE", "2024-01-01")

# The sample run (the whole pipeline on the generated sample), once per test session for
# every module that asks for it: registered here, never imported into a test module (an
# imported fixture is instantiated once per importing module).
from manufacturing_assets_tests.sample_run import sample_run  # noqa: E402, F401


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local[2] Spark session in UTC (one per test session: it takes 10-20 s to start),
    with the small-data settings (one shuffle partition, no code generation: the tests'
    data is a few hundred rows)."""
    from manufacturing_assets.spark.session import SMALL_DATA_CONF, get_session

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = get_session("local[2]", SMALL_DATA_CONF)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def ui_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """One `dagster dev` (webserver + daemon) on a small sample for every UI test of the
    session (``ui_server.py``); its progress lines bypass output capture so CI logs show
    where the time goes."""
    from manufacturing_assets_tests import ui_server as ui

    capture = request.config.pluginmanager.getplugin("capturemanager")

    def sink(line: str) -> None:
        if capture is None:
            print(line, flush=True)
            return
        with capture.global_and_fixture_disabled():
            print(line, flush=True)

    ui.set_progress_sink(sink)
    with ui.start_ui_server(tmp_path_factory.mktemp("ui")) as server:
        yield server
