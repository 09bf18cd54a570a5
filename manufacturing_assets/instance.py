"""The Dagster instance class of this project (``instance_class`` in ``dagster.yaml``).

It differs from ``DagsterInstance`` in one thing: a run created for a *range* of partitions
never carries single-partition tags. Dagster 1.13 launches a job backfill over a range of
multi-partition keys as one run tagged with the range **and** with the first key's
``dagster/partition/<dimension>`` tags; the run then resolves its partitions from those
tags and materializes only the first key while reporting success (dagster-io/dagster#28861,
#17404). Dropping the single-partition tags when range tags are present lets the run see
exactly the range it was launched for, whatever launched it. (Asset backfills and the
asset graph's Materialize button never produce such runs.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
PARTITION = "dagster/partition"
DIMENSION_PREFIX = "dagster/partition/"


def consistent_partition_tags(tags: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """``tags`` without single-partition tags when they also name a range of partitions."""
    if not tags or not (tags.get(RANGE_START) and tags.get(RANGE_END)):
        return tags
    if tags[RANGE_START] == tags[RANGE_END]:
        return tags  # a range of one key: both views agree
    return {k: v for k, v in tags.items() if k != PARTITION and not k.startswith(DIMENSION_PREFIX)}


class PlantDayInstance(DagsterInstance):
    """``DagsterInstance`` whose runs over a partition range see the whole range."""

    @classmethod
    def config_schema(cls) -> dict[str, Any]:
        return {}  # no settings of its own

    @staticmethod
    def config_defaults(base_dir: str) -> Mapping[str, Any]:
        return InstanceRef.config_defaults(base_dir)  # storage as a plain instance's

    def create_run(self, *, tags: Mapping[str, Any] | None, **kwargs: Any):  # type: ignore[override]
        """Runs the daemon and the webserver create (backfills, launches from the UI)."""
        return super().create_run(tags=consistent_partition_tags(tags), **kwargs)

    def create_run_for_job(self, job_def: Any, *args: Any, **kwargs: Any):  # type: ignore[override]
        """Runs executed in process (``materialize``, ``manufacturing-assets run``)."""
        if "tags" in kwargs:
            kwargs["tags"] = consistent_partition_tags(kwargs["tags"])
        return super().create_run_for_job(job_def, *args, **kwargs)
