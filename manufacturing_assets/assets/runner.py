"""Running a stage over a Dagster run that carries one or many plant x date partitions.

A run of a plant x date asset may carry a whole backfill range (``BackfillPolicy.single_run``).
:func:`plants_of_run` turns its partition keys into one :class:`PlantDays` per plant, the
asset calls its stage once per plant, and :class:`PlantDayRecords` keeps what concerns each
plant-day on its own partition: check evaluations (one per check and plant-day, never an
average over the run) and materialization metadata. Row counts per partition are added by
the Delta IO manager.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from typing import Any

import polars as pl
from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetExecutionContext,
    AssetKey,
    AssetRecordsFilter,
    MetadataValue,
    Output,
)
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

from manufacturing_assets.checks.plant_day import Outcome, PlantDayCheck
from manufacturing_assets.ingest.reference import plant_timezones
from manufacturing_assets.instance import RANGE_END, RANGE_START
from manufacturing_assets.partitions import partition_key, plants_and_dates
from manufacturing_assets.stages.plants import PlantDays, plant_days

PARTITION_COLUMNS = ("plant_id", "production_date")


class NarrowedRunError(RuntimeError):
    """A run launched for a range of partitions resolved fewer partition keys."""


def check_run_carries_its_range(context: AssetExecutionContext) -> None:
    """Refuse, with a clear error, a run whose range tags name more partitions than Dagster
    resolved for it (a job backfill on an instance without ``PlantDayInstance``, see
    ``manufacturing_assets/instance.py``): it would materialize only the first plant-day
    and report success."""
    tags = context.run.tags
    start, end = tags.get(RANGE_START), tags.get(RANGE_END)
    if not (start and end) or start == end or len(context.partition_keys) > 1:
        return
    raise NarrowedRunError(
        f"this run was launched for the partitions {start} .. {end}, but Dagster resolved only "
        f"{context.partition_keys} (a job backfill carries the first partition's tags next to "
        "the range: dagster-io/dagster#28861). Nothing was written. Use the project's "
        "dagster.yaml (instance_class: manufacturing_assets.instance.PlantDayInstance), or "
        "launch the backfill from the asset graph."
    )


def plants_of_run(context: AssetExecutionContext, plants: pl.DataFrame) -> list[PlantDays]:
    """The run's plants with their time zones (master data) and dates."""
    check_run_carries_its_range(context)
    return plant_days(plants_and_dates(context.partition_keys), plant_timezones(plants))


def by_plant_day(frame: pl.DataFrame) -> dict[tuple[str, date], pl.DataFrame]:
    """Split rows by (plant_id, production_date)."""
    if frame.is_empty():
        return {}
    return {
        (str(k[0]), k[1]): part
        for k, part in frame.partition_by(list(PARTITION_COLUMNS), as_dict=True).items()
    }


def merge_outcomes(outcomes: Iterable[Outcome]) -> Outcome:
    """Outcomes of one plant-day evaluated in pieces (chunks of a big partition): passed if
    every piece passed; counts summed; the first failing piece's details."""
    outcomes = list(outcomes)
    if len(outcomes) == 1:
        return outcomes[0]
    failed = [o for o in outcomes if not o.passed]
    metadata: dict[str, Any] = {
        key: sum(o.metadata.get(key, 0) for o in outcomes)
        for key in ("rows", "failures")
        if any(key in o.metadata for o in outcomes)
    }
    for o in failed[:1]:
        metadata.update({k: v for k, v in o.metadata.items() if k not in metadata})
    return Outcome(not failed, metadata, failed[0].description if failed else None)


class PlantDayRecords:
    """Per plant-day check outcomes and metadata of one asset in one run."""

    def __init__(
        self,
        context: AssetExecutionContext,
        asset_key: AssetKey,
        checks: Iterable[PlantDayCheck] = (),
    ) -> None:
        self.context = context
        self.asset_key = asset_key
        selected = context.selected_asset_check_keys
        self.checks = [c for c in checks if AssetCheckKey(asset_key, c.name) in selected]
        self.outcomes: dict[tuple[str, str, date], list[Outcome]] = {}

    def check(
        self,
        plant: PlantDays,
        frames: Mapping[str, pl.DataFrame],
        context_frames: Mapping[str, pl.DataFrame] | None = None,
        only: Iterable[str] | None = None,
    ) -> None:
        """Evaluate the checks on each of the plant's dates. ``frames`` are split by
        plant-day (a date without rows is checked on empty frames); ``context_frames``
        (dimensions ...) are passed whole. ``only``: names of the checks to run."""
        wanted = set(only) if only is not None else None
        checks = [c for c in self.checks if wanted is None or c.name in wanted]
        partitions = [(plant.plant, day) for day in plant.dates]
        for check in [c for c in checks if c.evaluate_partitions is not None]:
            whole = {**frames, **(context_frames or {})}
            for (_, day), outcome in check.evaluate_partitions(whole, partitions).items():  # type: ignore[misc]
                self.outcomes.setdefault((check.name, plant.plant, day), []).append(outcome)
        checks = [c for c in checks if c.evaluate_partitions is None]
        if not checks:
            return
        split = {role: by_plant_day(frame) for role, frame in frames.items()}
        for day in plant.dates:
            day_frames = {
                role: parts.get((plant.plant, day), frames[role].clear())
                for role, parts in split.items()
            }
            day_frames.update(context_frames or {})
            for check in checks:
                key = (check.name, plant.plant, day)
                self.outcomes.setdefault(key, []).append(check.evaluate(day_frames))

    def record(self, name: str, plant: str, day: date, outcome: Outcome) -> None:
        """Add an outcome computed outside :meth:`check`."""
        self.outcomes.setdefault((name, plant, day), []).append(outcome)

    def add_metadata(self, plant: PlantDays, per_day: Mapping[date, Mapping[str, Any]]) -> None:
        """Materialization metadata of each of the plant's partitions."""
        for day in plant.dates:
            if day in per_day:
                self.context.add_asset_metadata(
                    dict(per_day[day]),
                    asset_key=self.asset_key,
                    partition_key=str(partition_key(plant.plant, day)),
                )

    def _latest_materializations(
        self,
    ) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
        """Partition -> the materialization each evaluation judges (this run's, written
        just before): the UI shows a check's partition status only for evaluations that
        point at the partition's latest materialization."""
        keys = sorted({str(partition_key(p, d)) for _, p, d in self.outcomes})
        if not keys:
            return {}
        records = self.context.instance.fetch_materializations(
            AssetRecordsFilter(asset_key=self.asset_key, asset_partitions=keys),
            limit=len(keys) * 4,
        ).records
        latest: dict[str, AssetCheckEvaluationTargetMaterializationData] = {}
        for record in records:  # newest first
            part = record.partition_key
            if part is not None and part not in latest:
                latest[part] = AssetCheckEvaluationTargetMaterializationData(
                    storage_id=record.storage_id,
                    run_id=record.event_log_entry.run_id,
                    timestamp=record.timestamp,
                )
        return latest

    def results(self) -> Iterator[AssetCheckEvaluation | Output]:
        """One evaluation per check and plant-day, then the check's step output."""
        output_names = {
            spec.key: name
            for name, spec in self.context.assets_def.check_specs_by_output_name.items()
        }
        targets = self._latest_materializations()
        for check in self.checks:
            for (name, plant, day), outcomes in sorted(self.outcomes.items()):
                if name != check.name:
                    continue
                outcome = merge_outcomes(outcomes)
                key = str(partition_key(plant, day))
                yield AssetCheckEvaluation(
                    asset_key=self.asset_key,
                    check_name=check.name,
                    passed=outcome.passed,
                    metadata={
                        **outcome.metadata,
                        "plant_id": plant,
                        "production_date": day.isoformat(),
                        "severity": MetadataValue.text(check.severity.value),
                    },
                    severity=check.severity,
                    description=outcome.description,
                    blocking=check.blocking,
                    partition=key,
                    target_materialization_data=targets.get(key),
                )
            yield Output(None, output_name=output_names[AssetCheckKey(self.asset_key, check.name)])


def day_stats(frame: pl.DataFrame, stats: Any) -> dict[date, dict[str, Any]]:
    """``stats(rows_of_one_day)`` for each production date present in ``frame``."""
    if frame.is_empty():
        return {}
    return {
        k[0]: stats(part) for k, part in frame.partition_by("production_date", as_dict=True).items()
    }
