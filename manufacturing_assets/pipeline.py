"""Materialize the whole asset graph on the embedded default, outside the UI.

Used by `manufacturing-assets run` (README step 1) and by end-to-end tests. What to run and
in which order comes from the definitions themselves (``definitions.ASSETS``): the
unpartitioned assets (master data, dimensions, calendar) in one run, then, per plant, every
plant x date asset over each contiguous range of its dates in one run (a single-run
backfill: the runner processes the plant's dates together and records checks and row
counts per plant-day). The runs go to a real Dagster instance (``$DAGSTER_HOME``, else
``<data dir>/dagster_home``), so `dagster dev` pointed at the same home shows every
materialization and check.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from dagster import AssetKey, AssetsDefinition, DagsterInstance, materialize

from manufacturing_assets.catalogue import TABLES
from manufacturing_assets.definitions import ASSET_CHECKS, ASSETS
from manufacturing_assets.environment import Settings, build_resources
from manufacturing_assets.ingest.readers import parse_landing_key
from manufacturing_assets.ingest.reference import plant_timezones, read_reference
from manufacturing_assets.io_managers.delta import scan_delta
from manufacturing_assets.partitions import PLANT_DIMENSION, partition_key

REPO_ROOT = Path(__file__).resolve().parents[1]
ALL_DEFS: list[Any] = [*ASSETS, *ASSET_CHECKS]
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _keys(partitioned: bool) -> list[AssetKey]:
    return [
        key
        for a in ASSETS
        if isinstance(a, AssetsDefinition) and (a.partitions_def is not None) == partitioned
        for key in a.keys
    ]


UNPARTITIONED_KEYS = _keys(partitioned=False)
PARTITIONED_KEYS = _keys(partitioned=True)
# plant x date assets by layer, in dependency order (for running one layer at a time)
# (quarantine is written by the silver steps: one layer)
LAYERS: list[list[AssetKey]] = [
    layer_keys
    for layers in (("bronze",), ("silver", "quarantine"), ("gold",), ("marts",))
    if (layer_keys := [k for k in PARTITIONED_KEYS if k.path[0] in layers])
]


@dataclass
class PipelineReport:
    partitions: list[tuple[str, date]]
    checks: list[dict[str, Any]] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)


def dagster_instance(settings: Settings) -> DagsterInstance:
    """The persistent instance the CLI and `dagster dev` share."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        home = str(settings.data_dir / "dagster_home")
        os.environ["DAGSTER_HOME"] = home
    Path(home).mkdir(parents=True, exist_ok=True)
    target = Path(home) / "dagster.yaml"
    if not target.exists() and (REPO_ROOT / "dagster.yaml").exists():
        shutil.copy(REPO_ROOT / "dagster.yaml", target)
    return DagsterInstance.get()


def landed_partitions(settings: Settings) -> list[tuple[str, date]]:
    """Every (plant, date) with a landed file of any stream, and the days either side
    (silver for D-1 and D+1 reads the folder D: records cross midnight)."""
    landing = build_resources(settings)["landing"]
    found = set()
    for obj in landing.list_objects("raw/"):
        key = parse_landing_key(obj.key)
        if key:
            for offset in (-1, 0, 1):
                found.add((key.plant_id, key.landing_date + timedelta(days=offset)))
    return sorted(found)


def date_ranges(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days -> contiguous (first, last) ranges."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if ranges and day == ranges[-1][1] + timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def _check_rows(result: Any, fallback: str) -> list[dict[str, Any]]:
    rows = []
    for ev in result.get_asset_check_evaluations():
        rows.append(
            {
                "asset": ev.asset_key.to_user_string(),
                "check": ev.check_name,
                "partition": " ".join(reversed(ev.partition.split("|")))
                if ev.partition
                else fallback,
                "passed": ev.passed,
                "severity": ev.severity.value,
            }
        )
    return rows


def run_pipeline(
    settings: Settings,
    instance: DagsterInstance,
    partitions: list[tuple[str, date]] | None = None,
    log: Any = print,
) -> PipelineReport:
    """Unpartitioned assets first, then every plant x date asset, one run per plant and
    contiguous date range."""
    logging.getLogger("dagster").setLevel(logging.WARNING)
    resources = build_resources(settings)
    result = materialize(
        ALL_DEFS,
        selection=UNPARTITIONED_KEYS,
        instance=instance,
        resources=resources,
        raise_on_error=True,
        run_config=QUIET,
    )
    plants, _ = read_reference(resources["landing"], "plants")
    plant_ids = sorted(plant_timezones(plants))
    instance.add_dynamic_partitions(PLANT_DIMENSION, plant_ids)
    parts = partitions if partitions is not None else landed_partitions(settings)
    parts = sorted({(p, d) for p, d in parts if p in plant_ids})
    report = PipelineReport(partitions=parts)
    report.checks += _check_rows(result, "-")
    log(f"reference data: {len(plant_ids)} plants {plant_ids}; {len(parts)} plant x day partitions")
    for plant in sorted({p for p, _ in parts}):
        for first, last in date_ranges([d for p, d in parts if p == plant]):
            span = f"{plant} {first}..{last}"
            result = materialize(
                ALL_DEFS,
                selection=PARTITIONED_KEYS,
                tags={
                    "dagster/asset_partition_range_start": str(partition_key(plant, first)),
                    "dagster/asset_partition_range_end": str(partition_key(plant, last)),
                },
                instance=instance,
                resources=resources,
                raise_on_error=False,
                run_config=QUIET,
            )
            if not result.success:
                failed = [
                    ev.step_key for ev in result.all_events if ev.event_type_value == "STEP_FAILURE"
                ]
                report.failed_steps += [f"{step} {span}" for step in failed] or [span]
            report.checks += _check_rows(result, span)
            log(f"materialized {len(PARTITIONED_KEYS)} plant x day assets for {span}")
    return report


def table_counts(settings: Settings) -> pl.DataFrame:
    """Rows per partitioned table and plant-day, read back from the lake (only the
    partition columns are read)."""
    rows = []
    opts = settings.delta_storage_options()
    for path, entry in TABLES.items():
        if not entry.is_partitioned:
            continue
        plant_col, date_col = entry.partitioning.columns
        frame = scan_delta(f"{settings.lake_root.rstrip('/')}/{path}", opts)
        if frame is None:
            continue
        counts = (
            frame.group_by(plant_col, date_col)
            .agg(pl.len().alias("rows"))
            .rename({plant_col: "plant_id", date_col: "date"})
            .with_columns(pl.lit(path).alias("table"))
            .collect()
        )
        rows.append(counts)
    if not rows:
        return pl.DataFrame(
            schema={"plant_id": pl.String, "date": pl.Date, "rows": pl.UInt32, "table": pl.String}
        )
    return pl.concat(rows, how="vertical_relaxed")


def format_summary(settings: Settings, report: PipelineReport) -> str:
    """Per table: plant-day partitions, rows, checks passed/failed; fits 100 columns."""
    counts = table_counts(settings)
    checks = pl.DataFrame(
        report.checks,
        schema={"asset": pl.String, "check": pl.String, "partition": pl.String,
                "passed": pl.Boolean, "severity": pl.String},
    )  # fmt: skip
    lines = [
        "",
        f"{'table':34} {'partitions':>10} {'rows':>10} {'checks passed':>14} {'failed':>7}",
    ]
    for path in TABLES:
        mine = counts.filter(pl.col("table") == path)
        evaluated = checks.filter(pl.col("asset") == path)
        if mine.is_empty() and evaluated.is_empty():
            continue
        passed = int(evaluated["passed"].sum())
        lines.append(
            f"{path:34} {mine.height:>10} {int(mine['rows'].sum()):>10} "
            f"{passed:>14} {evaluated.height - passed:>7}"
        )
    failed = checks.filter(~pl.col("passed"))
    lines.append(f"\nChecks: {checks.height - failed.height} passed, {failed.height} failed")
    for c in failed.iter_rows(named=True):
        lines.append(f"  {c['severity']:5} {c['asset']} {c['check']} [{c['partition']}]")
    if report.failed_steps:
        lines.append("Failed steps: " + "; ".join(report.failed_steps))
    home = os.environ.get("DAGSTER_HOME", "")
    lines += [
        "",
        f"Landing zone: {settings.landing_root}",
        f"Delta lake:   {settings.lake_root}  (<layer>/<table>, e.g. silver/sensor_readings)",
        f"Dagster home: {home}",
        "",
        "Open the UI on the same instance:",
        f"  DAGSTER_HOME={home} dagster dev    # then http://127.0.0.1:3000",
    ]
    return "\n".join(lines)
