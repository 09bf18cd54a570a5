"""Partitions: plant (dynamic, filled from master data) x production date (daily)."""

from __future__ import annotations

from datetime import date

from dagster import (
    DailyPartitionsDefinition,
    DimensionPartitionMapping,
    DynamicPartitionsDefinition,
    IdentityPartitionMapping,
    MultiPartitionKey,
    MultiPartitionMapping,
    MultiPartitionsDefinition,
    TimeWindowPartitionMapping,
)

from manufacturing_assets.environment import partition_start_date

PLANT_DIMENSION = "plant"
DATE_DIMENSION = "date"

START_DATE = partition_start_date()

plant_partitions = DynamicPartitionsDefinition(name=PLANT_DIMENSION)
date_partitions = DailyPartitionsDefinition(start_date=START_DATE, end_offset=1)
plant_date_partitions = MultiPartitionsDefinition(
    {DATE_DIMENSION: date_partitions, PLANT_DIMENSION: plant_partitions}
)


def same_plant_days(start_offset: int, end_offset: int) -> MultiPartitionMapping:
    """Downstream plant-day (P, D) reads the upstream plant-days (P, D+start..D+end)."""
    return MultiPartitionMapping(
        {
            DATE_DIMENSION: DimensionPartitionMapping(
                dimension_name=DATE_DIMENSION,
                partition_mapping=TimeWindowPartitionMapping(
                    start_offset=start_offset,
                    end_offset=end_offset,
                    allow_nonexistent_upstream_partitions=True,
                ),
            ),
            PLANT_DIMENSION: DimensionPartitionMapping(
                dimension_name=PLANT_DIMENSION, partition_mapping=IdentityPartitionMapping()
            ),
        }
    )


# Silver for date D reads the landing folders D-1, D and D+1 of the same plant.
neighbouring_days = same_plant_days(-1, 1)
# The state intervals of day D need each machine's last state before D: a real dependency on
# the events of D-1 and D (so a late file for D marks D+1 stale too).
previous_and_same_day = same_plant_days(-1, 0)


def partition_key(plant_id: str, day: date | str) -> MultiPartitionKey:
    return MultiPartitionKey({DATE_DIMENSION: str(day), PLANT_DIMENSION: plant_id})


def split_key(key: str) -> tuple[str, date]:
    """``'2024-03-04|P01'`` (or a MultiPartitionKey) -> ``('P01', date(2024, 3, 4))``."""
    if isinstance(key, MultiPartitionKey):
        dims = key.keys_by_dimension
        return dims[PLANT_DIMENSION], date.fromisoformat(dims[DATE_DIMENSION])
    day, plant = str(key).split("|")
    return plant, date.fromisoformat(day)


def plants_and_dates(keys: list[str]) -> dict[str, list[date]]:
    """Group partition keys of a run by plant (a single-run backfill may hold many)."""
    out: dict[str, list[date]] = {}
    for key in keys:
        plant, day = split_key(key)
        out.setdefault(plant, []).append(day)
    return {p: sorted(set(d)) for p, d in sorted(out.items())}
