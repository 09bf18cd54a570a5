"""The Dagster instance class of this project (``instance_class`` in ``dagster.yaml``).

It differs from ``DagsterInstance`` in two things, both so that what the UI launches is
exactly what was selected (issue 8).

1. A run created for a *range* of partitions never carries single-partition tags. Dagster 1.13 launches a job backfill over a range of
multi-partition keys as one run tagged with the range **and** with the first key's
``dagster/partition/<dimension>`` tags; the run then resolves its partitions from those
tags and materializes only the first key while reporting success (dagster-io/dagster#28861,
#17404). Dropping the single-partition tags when range tags are present lets the run see
exactly the range it was launched for, whatever launched it. (Asset backfills and the
asset graph's Materialize button never produce such runs.)

Both keep ``manufacturing_assets/backfill_plant`` on every run of a backfill that covers one
plant (the plant of its partition or range), so that a deployment can limit a backfill's
runs per plant (``tag_concurrency_limits`` in ``deploy/dagster.yaml``).

2. An asset backfill launched from the UI targets exactly the plant-days selected. The
asset graph's Materialize dialog sends the selected assets and partition keys; Dagster
(``AssetBackfillData.from_asset_partitions``) gives the keys to the root assets only and
widens every downstream asset through its partition mapping, so selecting bronze + silver
for 3 days also materializes silver of the day before and the day after (silver D reads
bronze D-1..D+1) and machine-state intervals of the day after. :func:`exact_asset_backfill`
narrows such a backfill to the selected keys before it is stored, so the backfill page,
the runs and the tables agree with the selection; the description says what was left out.
Only UI launches (tag ``dagster/from_ui``) whose target has that shape are narrowed:
re-executions of a backfill, sensors and API callers get Dagster's own targets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import DagsterInstance
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.definitions.partitions.subset import DefaultPartitionsSubset
from dagster._core.execution.backfill import PartitionBackfill
from dagster._core.instance.ref import InstanceRef

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
PARTITION = "dagster/partition"
DIMENSION_PREFIX = "dagster/partition/"
PLANT_DIMENSION_TAG = DIMENSION_PREFIX + "plant"
BACKFILL = "dagster/backfill"
BACKFILL_PLANT = "manufacturing_assets/backfill_plant"
FROM_UI = "dagster/from_ui"
PARENT_BACKFILL = "dagster/parent_backfill_id"


def _plant_of_key(key: str) -> str | None:
    """The plant of a ``<date>|<plant>`` partition key."""
    parts = str(key).split("|")
    return parts[1] if len(parts) == 2 else None


def backfill_plant(tags: Mapping[str, Any]) -> str | None:
    """The one plant a backfill's run covers (``None``: not a backfill run, or no single
    plant), from its partition or range tags."""
    if BACKFILL not in tags:
        return None
    if tags.get(PLANT_DIMENSION_TAG):
        return str(tags[PLANT_DIMENSION_TAG])
    keys = (
        [tags.get(k) for k in (RANGE_START, RANGE_END)]
        if tags.get(RANGE_START)
        else [tags.get(PARTITION)]
    )
    plants = {_plant_of_key(k) for k in keys if k}
    return plants.pop() if len(plants) == 1 and None not in plants else None


def consistent_partition_tags(tags: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """``tags`` without single-partition tags when they also name a range of partitions,
    and with ``manufacturing_assets/backfill_plant`` on a backfill's run of one plant (the
    deployment limits backfill runs per plant with it, ``deploy/dagster.yaml``)."""
    if not tags:
        return tags
    out = dict(tags)
    plant = backfill_plant(out)
    if plant is not None:
        out[BACKFILL_PLANT] = plant
    if out.get(RANGE_START) and out.get(RANGE_END) and out[RANGE_START] != out[RANGE_END]:
        out = {
            k: v for k, v in out.items() if k != PARTITION and not k.startswith(DIMENSION_PREFIX)
        }
    return out


def selected_partition_keys(target: AssetGraphSubset) -> set[str] | None:
    """The keys the UI selected, when ``target`` is a selection widened downstream.

    Dagster gives the selected keys to the root assets and widens (never narrows) the
    others through their partition mappings, so the selection is the keys every partitioned
    asset has, and at least one asset (a root) has exactly those. ``None`` when the target
    has another shape (nothing to narrow, or not a widened selection).
    """
    subsets = target.partitions_subsets_by_asset_key
    if len(subsets) < 2 or not all(
        isinstance(s, DefaultPartitionsSubset) for s in subsets.values()
    ):
        return None
    key_sets = [set(s.get_partition_keys()) for s in subsets.values()]
    selected = set.intersection(*key_sets)
    if not selected or selected not in key_sets or all(keys == selected for keys in key_sets):
        return None
    return selected


def exact_asset_backfill(backfill: PartitionBackfill) -> PartitionBackfill:
    """``backfill`` narrowed to the partitions selected in the UI (see the module doc)."""
    data = backfill.asset_backfill_data
    tags = backfill.tags or {}
    if data is None or tags.get(FROM_UI) != "true" or PARENT_BACKFILL in tags:
        return backfill
    target = data.target_subset
    selected = selected_partition_keys(target)
    if selected is None:
        return backfill
    dropped_keys: set[str] = set()
    dropped = 0
    for subset in target.partitions_subsets_by_asset_key.values():
        extra = set(subset.get_partition_keys()) - selected
        dropped_keys |= extra
        dropped += len(extra)
    exact = AssetGraphSubset(
        partitions_subsets_by_asset_key={
            key: DefaultPartitionsSubset(subset=set(selected))
            for key in target.partitions_subsets_by_asset_key
        },
        non_partitioned_asset_keys=target.non_partitioned_asset_keys,
    )
    note = (
        f"Targets exactly the {len(selected)} selected plant-day(s): left out {dropped} "
        "asset partitions that Dagster's partition mappings add downstream of the selection, "
        f"on {', '.join(sorted(dropped_keys))}."
    )
    description = f"{backfill.description}\n\n{note}" if backfill.description else note
    return backfill._replace(
        asset_backfill_data=data._replace(target_subset=exact), description=description
    )


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

    def add_backfill(self, partition_backfill: PartitionBackfill) -> None:
        """Backfills launched from the UI target exactly the partitions selected."""
        super().add_backfill(exact_asset_backfill(partition_backfill))

    def create_run_for_job(self, job_def: Any, *args: Any, **kwargs: Any):  # type: ignore[override]
        """Runs executed in process (``materialize``, ``manufacturing-assets run``)."""
        if "tags" in kwargs:
            kwargs["tags"] = consistent_partition_tags(kwargs["tags"])
        return super().create_run_for_job(job_def, *args, **kwargs)
