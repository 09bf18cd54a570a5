"""Checks evaluated per plant-day inside the step that materializes a partitioned table.

A run may carry many plant-days (a single-run backfill); every check here is judged on each
plant-day's own rows and recorded with that partition (never an average over the run), so
the UI's partition view, the Checks tab and the alerts name the plant and the date. The
asset step yields one ``AssetCheckEvaluation`` per plant-day (``assets/runner.py``).

- ``pandera_<Contract>``: the table's pandera contract (``checks/contracts.py``); blocking
  (ERROR) on silver, WARN on gold and facts;
- ``quarantine_share``: WARN when more than 5 % of a plant-day's records were quarantined;
- ``referential_integrity`` (facts, ERROR, not blocking): every surrogate key exists in its
  dimension and is the version valid on the row's production date;
- ``silent_devices`` (silver sensor readings, WARN): more than ``MA_SILENT_DEVICE_SHARE`` (10 %)
  of the devices the plant had in the previous 7 days sent nothing in the plant-day (rule in
  ``ops/health.silent_devices``; the asset reads the 7 days before from the silver table).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date

import polars as pl
from dagster import AssetCheckSeverity, AssetCheckSpec, AssetKey, MetadataValue

from manufacturing_assets.catalogue import Table
from manufacturing_assets.checks.contracts import (
    contract,
    contract_check_name,
    validate,
    validate_by_partition,
)
from manufacturing_assets.checks.marts_logic import referential_violations
from manufacturing_assets.ops.health import HISTORY_DAYS, silent_devices
from manufacturing_assets.partitions import plant_date_partitions

QUARANTINE_WARN_SHARE = 0.05

Frames = Mapping[str, pl.DataFrame]
"""The frames a check reads for one plant-day: ``table`` (the asset's rows of the day),
plus what the check names (``quarantine``, dimensions ...)."""


@dataclass(frozen=True)
class Outcome:
    passed: bool
    metadata: dict
    description: str | None = None


@dataclass(frozen=True)
class PlantDayCheck:
    name: str
    description: str
    severity: AssetCheckSeverity
    blocking: bool
    evaluate: Callable[[Frames], Outcome]
    evaluate_partitions: (
        Callable[[Frames, list[tuple[str, date]]], dict[tuple[str, date], Outcome]] | None
    ) = None
    """Optional: the same verdicts for many plant-days in one pass (faster on long runs)."""

    def spec(self, asset_key: AssetKey) -> AssetCheckSpec:
        return AssetCheckSpec(
            self.name,
            asset=asset_key,
            description=self.description,
            blocking=self.blocking,
            partitions_def=plant_date_partitions,
            metadata={"severity": self.severity.value},
        )


def contract_check(table: Table, blocking: bool) -> PlantDayCheck:
    schema = contract(table.path)

    def evaluate(frames: Frames) -> Outcome:
        passed, metadata = validate(schema, frames["table"])
        return Outcome(passed, metadata)

    def evaluate_partitions(
        frames: Frames, partitions: list[tuple[str, date]]
    ) -> dict[tuple[str, date], Outcome]:
        verdicts = validate_by_partition(schema, frames["table"], partitions)
        return {part: Outcome(passed, metadata) for part, (passed, metadata) in verdicts.items()}

    return PlantDayCheck(
        name=contract_check_name(table),
        description=(
            f"Validates each plant-day of `{table.path}` against its pandera contract (catalogue "
            "columns: type, nullability, range; unique key; table rules) "
            f"({'blocking: a failure stops downstream assets' if blocking else 'warning'})."
        ),
        severity=AssetCheckSeverity.ERROR if blocking else AssetCheckSeverity.WARN,
        blocking=blocking,
        evaluate=evaluate,
        evaluate_partitions=evaluate_partitions,
    )


def quarantine_share_outcome(
    silver_rows: int, quarantine: pl.DataFrame, replayed: Collection[str] = ()
) -> Outcome:
    """The share of a plant-day's records that were quarantined, judged on that day alone.

    ``replayed``: origins (``source:line``) re-landed by a replay (``ops/replay.py``); their
    quarantine rows stay as the record of what was rejected, but they no longer count: the
    fixed record is in silver (or quarantined again under its replay file)."""
    resolved = (
        quarantine.filter(
            pl.concat_str(
                [pl.col("source"), pl.col("line_number").cast(pl.String)], separator=":"
            ).is_in(list(replayed))
        ).height
        if replayed and quarantine.height
        else 0
    )
    open_rows = quarantine.height - resolved
    total = silver_rows + open_rows
    share = open_rows / total if total else 0.0
    reasons = quarantine.group_by("reason").len().sort("reason") if quarantine.height else None
    return Outcome(
        passed=share <= QUARANTINE_WARN_SHARE,
        metadata={
            "quarantine_share": round(share, 6),
            "threshold": QUARANTINE_WARN_SHARE,
            "quarantined": quarantine.height,
            "replayed": resolved,
            "silver_rows": silver_rows,
            "by_reason": MetadataValue.json(
                dict(reasons.iter_rows()) if reasons is not None else {}
            ),
        },
        description=(
            f"{share:.2%} of the plant-day's records were quarantined (warn above 5%)"
            + (
                f"; {resolved} quarantined record(s) were replayed and are not counted."
                if resolved
                else "."
            )
        ),
    )


def _quarantine_share(frames: Frames) -> Outcome:
    replayed = frames.get("replayed")
    origins = replayed["origin"].to_list() if replayed is not None else ()
    return quarantine_share_outcome(frames["table"].height, frames["quarantine"], origins)


QUARANTINE_SHARE = PlantDayCheck(
    name="quarantine_share",
    description=(
        "WARN when more than 5% of a plant-day's records are quarantined (records a replay "
        "re-landed after a fix no longer count)."
    ),
    severity=AssetCheckSeverity.WARN,
    blocking=False,
    evaluate=_quarantine_share,
)


def _silent_devices_by_partition(
    frames: Frames, partitions: list[tuple[str, date]]
) -> dict[tuple[str, date], Outcome]:
    """``frames["devices"]``: (plant_id, production_date, device_id) of the plant-days and
    the ``HISTORY_DAYS`` days before each; threshold from the environment."""
    import os

    from manufacturing_assets.environment import HealthSettings

    share = HealthSettings.from_env(dict(os.environ)).silent_device_share
    out = {}
    for plant, day in partitions:
        verdict = silent_devices(frames["devices"], plant, day, share)
        out[(plant, day)] = Outcome(verdict.passed, verdict.metadata, verdict.description)
    return out


def _needs_partitions(frames: Frames) -> Outcome:
    raise TypeError("silent_devices needs the plant-days it judges: use evaluate_partitions")


SILENT_DEVICES = PlantDayCheck(
    name="silent_devices",
    description=(
        "WARN when more than MA_SILENT_DEVICE_SHARE (10 %) of the devices the plant had in the "
        f"previous {HISTORY_DAYS} days sent nothing in the plant-day."
    ),
    severity=AssetCheckSeverity.WARN,
    blocking=False,
    evaluate=_needs_partitions,
    evaluate_partitions=_silent_devices_by_partition,
)


def referential_check(references: Mapping[str, tuple[str, str]]) -> PlantDayCheck:
    def evaluate(frames: Frames) -> Outcome:
        data = frames["table"]
        dims = {d: frames[f"dim_{d}"] for d, _ in references.values()}
        counts = referential_violations(data, dims, references)
        failing = {sk: c for sk, c in counts.items() if any(c.values())}
        return Outcome(
            passed=not failing,
            metadata={
                "rows": data.height,
                "violations": MetadataValue.json(counts),
                "failing_keys": ", ".join(sorted(failing)) or "none",
            },
        )

    return PlantDayCheck(
        name="referential_integrity",
        description=(
            "Every surrogate key of the plant-day exists in its dimension and is the version "
            "valid on the row's production date; no row with a natural key lacks its key."
        ),
        severity=AssetCheckSeverity.ERROR,
        blocking=False,
        evaluate=evaluate,
    )
