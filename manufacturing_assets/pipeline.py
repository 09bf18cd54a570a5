"""Materialize the whole asset graph on the embedded default, outside the UI.

Used by `manufacturing-assets run` (README step 1) and by end-to-end tests. The runs go
to a real Dagster instance (``$DAGSTER_HOME``, else ``<data dir>/dagster_home``), so
`dagster dev` pointed at the same home shows every materialization and check.
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
from dagster import AssetKey, DagsterInstance, materialize

from manufacturing_assets.checks.production_models import production_checks
from manufacturing_assets.checks.quality import quality_checks
from manufacturing_assets.contract import REFERENCE_ENTITIES, STREAMS
from manufacturing_assets.definitions import (
    mart_assets,
    mart_checks,
    partitioned_assets,
    reference_assets,
)
from manufacturing_assets.environment import Settings, build_resources
from manufacturing_assets.ingest.reference import plant_timezones, read_reference
from manufacturing_assets.io_managers.delta import read_delta
from manufacturing_assets.partitions import PLANT_DIMENSION, partition_key

REPO_ROOT = Path(__file__).resolve().parents[1]
ALL_DEFS = [
    *reference_assets,
    *partitioned_assets,
    *quality_checks,
    *production_checks,
    *mart_assets,
    *mart_checks,
]
# Star-schema dimensions (unpartitioned) are rebuilt in the reference data run.
DIMENSION_KEYS = [a.key for a in mart_assets if a.partitions_def is None]

# Layers in dependency order; each is materialized for every partition before the next.
LAYERS: list[list[AssetKey]] = [
    [AssetKey(["bronze", s]) for s in STREAMS],
    # silver and gold in one run, so a failed blocking silver check stops gold
    [
        AssetKey(["silver", "sensor_readings"]),
        AssetKey(["quarantine", "sensor_readings"]),
        AssetKey(["gold", "sensor_hourly"]),
        AssetKey(["silver", "machine_events"]),
        AssetKey(["quarantine", "machine_events"]),
    ],
    # production: intervals of day D read the machine events of D-1 (done above for every
    # partition); shots and inspections in the same run so their blocking checks stop gold
    [
        AssetKey(["silver", "shots"]),
        AssetKey(["quarantine", "shots"]),
        AssetKey(["silver", "quality_inspections"]),
        AssetKey(["quarantine", "quality_inspections"]),
        AssetKey(["silver", "machine_state_intervals"]),
        AssetKey(["gold", "oee_daily"]),
        AssetKey(["gold", "run_rate_hourly"]),
        AssetKey(["gold", "loss_daily"]),
    ],
]
# Star-schema facts run last, after every layer, as one single-run backfill per plant over
# its dates (BackfillPolicy.single_run): one run instead of one per partition.
FACT_KEYS = [a.key for a in mart_assets if a.partitions_def is not None]
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
SUMMARY_TABLES = [
    ("bronze", "sensor_readings", "landing_date"),
    ("silver", "sensor_readings", "production_date"),
    ("quarantine", "sensor_readings", "production_date"),
    ("gold", "sensor_hourly", "production_date"),
    ("silver", "shots", "production_date"),
    ("quarantine", "shots", "production_date"),
    ("silver", "machine_events", "production_date"),
    ("quarantine", "machine_events", "production_date"),
    ("silver", "quality_inspections", "production_date"),
    ("quarantine", "quality_inspections", "production_date"),
    ("silver", "machine_state_intervals", "production_date"),
    ("gold", "oee_daily", "production_date"),
    ("gold", "run_rate_hourly", "production_date"),
    ("gold", "loss_daily", "production_date"),
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
    from manufacturing_assets.ingest.readers import parse_landing_key

    landing = build_resources(settings)["landing"]
    found = set()
    for obj in landing.list_objects("raw/"):
        key = parse_landing_key(obj.key)
        if key:
            for offset in (-1, 0, 1):
                found.add((key.plant_id, key.landing_date + timedelta(days=offset)))
    return sorted(found)


def run_pipeline(
    settings: Settings,
    instance: DagsterInstance,
    partitions: list[tuple[str, date]] | None = None,
    log: Any = print,
) -> PipelineReport:
    """Reference data first, then bronze/silver/gold for every plant x day partition."""
    logging.getLogger("dagster").setLevel(logging.WARNING)
    resources = build_resources(settings)
    result = materialize(
        ALL_DEFS,
        selection=[AssetKey(["reference", e]) for e in REFERENCE_ENTITIES] + DIMENSION_KEYS,
        instance=instance,
        resources=resources,
        raise_on_error=True,
        run_config=QUIET,
    )
    plants, _ = read_reference(resources["landing"], "plants")
    plant_ids = sorted(plant_timezones(plants))
    instance.add_dynamic_partitions(PLANT_DIMENSION, plant_ids)
    parts = partitions if partitions is not None else landed_partitions(settings)
    parts = [(p, d) for p, d in parts if p in plant_ids]
    report = PipelineReport(partitions=parts)
    report.checks += [  # dimension checks of the reference run
        {
            "asset": ev.asset_key.to_user_string(),
            "check": ev.check_name,
            "partition": "-",
            "passed": ev.passed,
            "severity": ev.severity.value,
        }
        for ev in result.get_asset_check_evaluations()
    ]
    log(f"reference data: {len(plant_ids)} plants {plant_ids}; {len(parts)} plant x day partitions")
    for layer in LAYERS:
        for plant, day in parts:
            key = partition_key(plant, day)
            result = materialize(
                ALL_DEFS,
                selection=layer,
                partition_key=str(key),
                instance=instance,
                resources=resources,
                raise_on_error=False,
                run_config=QUIET,
            )
            if not result.success:
                report.failed_steps.append(f"{'/'.join(layer[0].path)} {plant} {day}")
            for ev in result.get_asset_check_evaluations():
                report.checks.append(
                    {
                        "asset": ev.asset_key.to_user_string(),
                        "check": ev.check_name,
                        "partition": f"{plant} {day}",
                        "passed": ev.passed,
                        "severity": ev.severity.value,
                    }
                )
        log(
            f"materialized {', '.join(k.to_user_string() for k in layer)} for {len(parts)} partitions"
        )
    for plant in sorted({p for p, _ in parts}):
        days = sorted(d for p, d in parts if p == plant)
        result = materialize(
            ALL_DEFS,
            selection=FACT_KEYS,
            tags={
                "dagster/asset_partition_range_start": str(partition_key(plant, days[0])),
                "dagster/asset_partition_range_end": str(partition_key(plant, days[-1])),
            },
            instance=instance,
            resources=resources,
            raise_on_error=False,
            run_config=QUIET,
        )
        if not result.success:
            report.failed_steps.append(f"marts facts {plant} {days[0]}..{days[-1]}")
        report.checks += [
            {
                "asset": ev.asset_key.to_user_string(),
                "check": ev.check_name,
                "partition": f"{plant} {days[0]}..{days[-1]}",
                "passed": ev.passed,
                "severity": ev.severity.value,
            }
            for ev in result.get_asset_check_evaluations()
        ]
    if parts:
        log(
            f"materialized {', '.join(k.to_user_string() for k in FACT_KEYS)} for {len(parts)} partitions"
        )
    return report


def table_counts(settings: Settings) -> pl.DataFrame:
    """Rows per layer, table and partition, read back from the lake."""
    rows = []
    opts = settings.delta_storage_options()
    for layer, table, date_col in SUMMARY_TABLES:
        uri = f"{settings.lake_root.rstrip('/')}/{layer}/{table}"
        frame = read_delta(uri, opts)
        if frame is None or frame.is_empty():
            continue
        counts = (
            frame.group_by("plant_id", date_col).len().rename({date_col: "date", "len": "rows"})
        )
        rows.append(counts.with_columns(pl.lit(f"{layer}/{table}").alias("table")))
    if not rows:
        return pl.DataFrame()
    return (
        pl.concat(rows)
        .pivot(on="table", index=["plant_id", "date"], values="rows")
        .sort("plant_id", "date")
    )


def format_summary(settings: Settings, report: PipelineReport) -> str:
    counts = table_counts(settings)
    passed = sum(1 for c in report.checks if c["passed"])
    failed = [c for c in report.checks if not c["passed"]]
    lines = ["", "Rows per layer and partition:"]
    # wide enough that no header wraps (one column per table)
    width = max(160, sum(max(len(c), 10) + 3 for c in counts.columns) + 1)
    with pl.Config(tbl_rows=200, tbl_cols=40, tbl_width_chars=width, tbl_hide_dataframe_shape=True):
        lines.append(str(counts))
    lines.append(f"\nChecks: {passed} passed, {len(failed)} failed")
    for c in failed:
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
