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
import textwrap
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from dagster import (
    AssetKey,
    AssetsDefinition,
    DagsterInstance,
    materialize,
)

from manufacturing_assets.assets.ops import KEY as DATA_QUALITY_RESULTS_KEY
from manufacturing_assets.assets.ops import ops_assets
from manufacturing_assets.assets.policies import MAX_PLANT_DAYS_PER_RUN
from manufacturing_assets.catalogue import TABLES
from manufacturing_assets.checks.landing_zone import report_unroutable_files
from manufacturing_assets.definitions import ASSET_CHECKS, ASSETS
from manufacturing_assets.environment import Settings, build_resources
from manufacturing_assets.ingest.reference import plant_timezones, read_reference
from manufacturing_assets.ingest.routing import RawRoute, describe, route
from manufacturing_assets.instance import RANGE_END, RANGE_START
from manufacturing_assets.io_managers.delta import scan_delta
from manufacturing_assets.partitions import PLANT_DIMENSION, START_DATE, partition_key

REPO_ROOT = Path(__file__).resolve().parents[1]
ALL_DEFS: list[Any] = [*ASSETS, *ASSET_CHECKS]
# the console shows errors only; bad input is counted in the summary, not logged line by line
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


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


def landed_days(settings: Settings) -> set[tuple[str, date]]:
    """Every (plant, landing date) with a landed file of a known stream."""
    landing = build_resources(settings)["landing"]
    found = set()
    for obj in landing.list_objects("raw/"):
        where = route(obj.key)
        if isinstance(where, RawRoute):
            found.add((where.plant_id, where.landing_date))
    return found


def window_days(landed: set[tuple[str, date]]) -> set[tuple[str, date]]:
    """The production dates the landed folders can hold: each landing day and the days
    either side (records cross midnight; silver for D reads the folders D-1..D+1)."""
    return {(p, d + timedelta(days=k)) for p, d in landed for k in (-1, 0, 1)}


def date_ranges(days: list[date], longest: int = MAX_PLANT_DAYS_PER_RUN) -> list[tuple[date, date]]:
    """Sorted days -> contiguous (first, last) ranges of at most ``longest`` days (the
    assets' backfill policy bound: memory never grows with the range)."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if (
            ranges
            and day == ranges[-1][1] + timedelta(days=1)
            and (day - ranges[-1][0]).days < longest
        ):
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


def _in_partition_set(
    days: set[tuple[str, date]], plant_ids: list[str], log: Any
) -> list[tuple[str, date]]:
    """Keep the plant-days that are partitions (known plant, from the first partition day)."""
    first = date.fromisoformat(START_DATE)
    before = sorted({d for p, d in days if d < first})
    if before:
        log(
            f"warning: {len(before)} day(s) before MA_START_DATE={START_DATE} are not partitions "
            f"and were skipped ({before[0]}..{before[-1]}); set MA_START_DATE to include them"
        )
    unknown = sorted({p for p, _ in days if p not in plant_ids})
    if unknown:
        log(f"warning: plant(s) {unknown} have no master data (reference/plants): skipped")
    return sorted((p, d) for p, d in days if p in plant_ids and d >= first)


def _failed_keys(result: Any) -> set[AssetKey]:
    """The asset keys of a run's failed steps."""
    steps = {ev.step_key for ev in result.all_events if ev.event_type_value == "STEP_FAILURE"}
    return {
        key
        for a in ASSETS
        if isinstance(a, AssetsDefinition) and a.node_def.name in steps
        for key in a.keys
    }


def downstream_of(keys: set[AssetKey]) -> set[AssetKey]:
    """``keys`` and every asset that reads them, directly or not."""
    if not keys:
        return set()
    readers: dict[AssetKey, set[AssetKey]] = {}
    for a in ASSETS:
        if isinstance(a, AssetsDefinition):
            for key, upstream in a.asset_deps.items():
                for dep in upstream:
                    readers.setdefault(dep, set()).add(key)
    found, todo = set(keys), list(keys)
    while todo:
        for reader in readers.get(todo.pop(), ()):
            if reader not in found:
                found.add(reader)
                todo.append(reader)
    return found


def _materialize_ranges(
    keys: list[AssetKey],
    days: list[tuple[str, date]],
    report: PipelineReport,
    instance: DagsterInstance,
    resources: dict[str, Any],
    log: Any,
    skip: dict[str, set[AssetKey]] | None = None,
) -> dict[str, set[AssetKey]]:
    """``keys`` for ``days``: one run per plant and contiguous range of its dates, without
    the plant's ``skip`` keys. Returns the keys that failed, per plant."""
    failed: dict[str, set[AssetKey]] = {}
    for plant in sorted({p for p, _ in days}):
        selection = [k for k in keys if k not in (skip or {}).get(plant, set())]
        if len(selection) < len(keys):
            skipped = sorted(k.to_user_string() for k in set(keys) - set(selection))
            log(f"  {plant}: not computed because their input failed: {', '.join(skipped)}")
        if not selection:
            continue
        for first, last in date_ranges([d for p, d in days if p == plant]):
            span = f"{plant} {first}..{last}"
            started = time.perf_counter()
            result = materialize(
                ALL_DEFS,
                selection=selection,
                tags={
                    RANGE_START: str(partition_key(plant, first)),
                    RANGE_END: str(partition_key(plant, last)),
                },
                instance=instance,
                resources=resources,
                raise_on_error=False,
                run_config=QUIET,
            )
            if not result.success:
                bad = _failed_keys(result)
                failed.setdefault(plant, set()).update(bad)
                names = sorted(k.to_user_string() for k in bad)
                report.failed_steps += [f"{name} {span}" for name in names] or [span]
            report.checks += _check_rows(result, span)
            outcome = "ok" if result.success else "FAILED"
            log(
                f"  {span}: {len(selection)} assets, {outcome} ({time.perf_counter() - started:.1f} s)"
            )
    return failed


def run_pipeline(
    settings: Settings,
    instance: DagsterInstance,
    partitions: list[tuple[str, date]] | None = None,
    log: Any = print,
) -> PipelineReport:
    """Unpartitioned assets first; then bronze for the days files landed on, and every
    other plant x date asset for the production dates those files can hold, one run per
    plant and contiguous date range. ``partitions``: plant-days to run instead (both)."""
    logging.getLogger("dagster").setLevel(logging.ERROR)
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
    landed = set(partitions) if partitions is not None else landed_days(settings)
    bronze_days = _in_partition_set(landed, plant_ids, log)
    days = (
        bronze_days
        if partitions is not None
        else _in_partition_set(window_days(landed), plant_ids, lambda *_: None)
    )
    report = PipelineReport(partitions=days)
    report.checks += _check_rows(result, "-")
    unroutable = report_unroutable_files(instance, resources["landing"])
    if unroutable:
        log(f"warning: {len(unroutable)} landed file(s) cannot be routed and were not processed:")
        for line in describe(unroutable):
            log(f"  {line}")
    log(
        f"master data: {len(plant_ids)} plants {plant_ids}; files landed on {len(bronze_days)} "
        f"plant-days; {len(days)} plant x day partitions to compute"
    )
    bronze = [k for k in PARTITIONED_KEYS if k.path[0] == "bronze"]
    log("bronze (the days files landed on):")
    failed = _materialize_ranges(bronze, bronze_days, report, instance, resources, log)
    log("silver, quarantine, gold, marts (the production dates those files hold):")
    rest = [k for k in PARTITIONED_KEYS if k not in bronze]
    # a stream whose bronze failed stops its downstream for that plant (no empty tables)
    skip = {plant: downstream_of(keys) for plant, keys in failed.items()}
    _materialize_ranges(rest, days, report, instance, resources, log, skip)
    _append_quality_history(instance, resources, settings, log)
    return report


def _append_quality_history(
    instance: DagsterInstance, resources: dict[str, Any], settings: Settings, log: Any
) -> None:
    """Append the run's check evaluations to ``ops/data_quality_results`` and publish it
    (what the ``data_quality_history`` sensor does in a deployment). The checks it collects
    are those of the whole graph, so the graph is part of the run's repository."""
    ops = ops_assets(settings.warehouse)
    result = materialize(
        [*ALL_DEFS, *ops],
        selection=[key for a in ops for key in a.keys],
        instance=instance,
        resources=resources,
        raise_on_error=False,
        run_config=QUIET,
    )
    if not result.success:
        log("warning: the data-quality history (ops/data_quality_results) was not updated")
        return
    appended = 0
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key == DATA_QUALITY_RESULTS_KEY:
            value = materialization.metadata.get("rows_appended")
            appended = int(value.value) if value is not None else 0  # type: ignore[arg-type]
    log(f"data-quality history: {appended} check evaluations appended to ops/data_quality_results")


def table_counts(settings: Settings) -> pl.DataFrame:
    """Rows per partitioned table and plant-day, read back from the lake (only the
    partition columns are read)."""
    rows = []
    opts = settings.delta_storage_options()
    for path, entry in TABLES.items():
        frame = scan_delta(f"{settings.lake_root.rstrip('/')}/{path}", opts)
        if frame is None:
            continue
        if not entry.is_partitioned:  # one row: the whole table
            total = frame.select(pl.len().alias("rows")).collect()
            rows.append(
                total.with_columns(
                    pl.lit(None, pl.String).alias("plant_id"),
                    pl.lit(None, pl.Date).alias("date"),
                    pl.lit(path).alias("table"),
                ).select("plant_id", "date", "rows", "table")
            )
            continue
        plant_col, date_col = entry.partitioning.columns
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


def bad_input_lines(settings: Settings) -> list[str]:
    """Quarantined records per stream and reason (the deliberate bad input of the sample,
    or a real delivery's), one line per stream."""
    lines = []
    for path, entry in TABLES.items():
        if entry.layer != "quarantine":
            continue
        frame = scan_delta(
            f"{settings.lake_root.rstrip('/')}/{path}", settings.delta_storage_options()
        )
        if frame is None:
            continue
        reasons = frame.group_by("reason").agg(pl.len()).sort("reason").collect().rows()
        if reasons:
            text = f"{entry.name}: " + ", ".join(f"{reason} {n}" for reason, n in reasons)
            lines += textwrap.wrap(text, width=98, initial_indent="  ", subsequent_indent="    ")
    return ["", "Quarantined records by reason:", *lines] if lines else []


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
        partitions = mine.height if TABLES[path].is_partitioned else "-"
        lines.append(
            f"{path:34} {partitions:>10} {int(mine['rows'].sum()):>10} "
            f"{passed:>14} {evaluated.height - passed:>7}"
        )
    lines += bad_input_lines(settings)
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
        *settings.warehouse_io_manager().warehouse().summary_lines(),
        f"Dagster home: {home}",
        "",
        "Open the UI on the same instance:",
        f"  DAGSTER_HOME={home} dagster dev    # then http://127.0.0.1:3000",
    ]
    return "\n".join(lines)
