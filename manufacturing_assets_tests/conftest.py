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


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local[2] Spark session in UTC (one per test session: it takes 10-20 s to start)."""
    from manufacturing_assets.resources.engine import spark_session

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = spark_session("local[2]")
    yield session
    session.stop()
