"""Shared fixtures. Servers (Spark, Kafka, S3) are started here or in their fixture modules
and stopped at the end of the session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local[2] Spark session in UTC (one per test session: it takes 10-20 s to start)."""
    from manufacturing_assets.resources.engine import spark_session

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = spark_session("local[2]")
    yield session
    session.stop()
