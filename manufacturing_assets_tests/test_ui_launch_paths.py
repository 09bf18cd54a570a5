"""Every way the UI launches plant x day partitions, sent through GraphQL exactly as the UI
sends it (``ui_server.py``), materializes exactly the partitions selected, with one check
evaluation per check and plant-day and each partition's own row count; and a job backfill,
an asset backfill and single materializations of the same partitions leave identical tables
and identical per-partition check records (issue 8).

The launches run once, in this order, against the session's `dagster dev` (plant P01,
2024-03-30 .. 2024-04-01):

1. (c) job backfill: ``plant_day_job`` page, "Materialize all", 3 dates x P01;
2. (b) asset backfill: the same 17 assets selected in the asset graph, same partitions;
3. single runs, concurrently: (d) ``plant_day_job`` page, one partition (2024-03-30 and
   2024-04-01), and (a) the 17 assets in the asset graph, one plant-day (2024-03-31).

Bronze of every neighbouring day exists before the single runs compute silver (silver of
day D reads bronze D-1..D+1), so each launch computes from the same inputs. After each step
the test records what the runs materialized (run events), Dagster's partition status
before and after, which plant-days of each Delta table got new files, the rows per
plant-day, and digests of the tables (``ingested_at`` dropped).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from manufacturing_assets_tests.ui_server import (
    SAMPLE_DATES,
    RunEvents,
    UIServer,
    partition,
    progress,
)

# one fixture launches and waits for everything; on a busy machine runs take minutes
pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]

JOB = "plant_day_job"
PLANT = "P01"
SELECTED = [partition(day, PLANT) for day in SAMPLE_DATES]
# check metadata that must agree between launch paths (numbers of the plant-day)
KEY_METADATA = ("rows", "failures", "quarantine_share", "quarantined", "silver_rows")
# Dagster's column-schema change check (docs/operations.md) compares a table's two latest
# materializations: one evaluation per run, never per plant-day. Not a plant-day check.
PER_MATERIALIZATION_CHECKS = {"column_schema_change"}


@dataclass
class Launch:
    """One UI launch and what it left behind."""

    name: str
    assets: list[str]
    partitions: list[str]  # what this launch selected
    run_ids: list[str]
    outcome: str  # backfill status or run status
    run_statuses: dict[str, str]
    run_tags: dict[str, dict[str, str]]
    events: RunEvents
    # of the step the launch belongs to (single runs run together):
    step_partitions: list[str] = field(default_factory=list)
    status_before: dict[str, set[str]] = field(default_factory=dict)
    status_after: dict[str, set[str]] = field(default_factory=dict)
    written: dict[str, set[str]] = field(default_factory=dict)
    rows: dict[str, dict[str, int]] = field(default_factory=dict)
    digests: dict[str, tuple[int, str]] = field(default_factory=dict)


@dataclass
class Step:
    """Launches whose results are read back together."""

    launches: list[Launch]
    digests: dict[str, tuple[int, str]]
    check_records: dict[tuple[str, str, str], tuple[bool, dict[str, Any]]]


def _status(server: UIServer, assets: list[str]) -> dict[str, set[str]]:
    return {a: server.materialized_partitions(a) for a in assets}


def _from_run(server: UIServer, name: str, assets: list[str], parts: list[str], run_id: str):
    run = server.wait_for_run(run_id)
    return Launch(
        name=name,
        assets=assets,
        partitions=parts,
        run_ids=[run_id],
        outcome=run["status"],
        run_statuses={run_id: run["status"]},
        run_tags={run_id: {t["key"]: t["value"] for t in run["tags"]}},
        events=server.run_events([run_id]),
    )


def _from_backfill(server: UIServer, name: str, assets: list[str], parts: list[str], bid: str):
    bf = server.wait_for_backfill(bid)
    run_ids = [r["runId"] for r in bf["runs"]]
    tags = {}
    for run_id in run_ids:
        tags[run_id] = {t["key"]: t["value"] for t in server.run_status(run_id)["tags"]}
    return Launch(
        name=name,
        assets=assets,
        partitions=parts,
        run_ids=run_ids,
        outcome=bf["status"],
        run_statuses={r["runId"]: r["status"] for r in bf["runs"]},
        run_tags=tags,
        events=server.run_events(run_ids),
    )


def _check_records(launches: list[Launch]) -> dict[tuple[str, str, str], tuple[bool, dict]]:
    """(asset, check, partition) -> (passed, key metadata) for the selected partitions."""
    out = {}
    for launch in launches:
        for e in launch.events.checks:
            if e.partition in SELECTED:
                meta = {k: e.metadata[k] for k in KEY_METADATA if k in e.metadata}
                out[(e.asset, e.check, e.partition)] = (e.passed, meta)
    return out


def _run_step(server: UIServer, assets: list[str], launch_all) -> Step:
    """Launch (``launch_all`` returns the launches once they ended), then read back."""
    before = _status(server, assets)
    started = time.time() - 1  # file modification times have ms resolution; clocks agree
    launches: list[Launch] = launch_all()
    after = _status(server, assets)
    step_parts = sorted({p for launch in launches for p in launch.partitions})
    written = {a: server.written_since(a, started) for a in assets}
    all_parts = sorted(set(step_parts) | {p for a in assets for p in after[a]})
    rows = {a: server.delta_rows(a, all_parts) for a in assets}
    digests = {a: server.digest(a, SELECTED) for a in assets}
    for launch in launches:
        launch.step_partitions = step_parts
        launch.status_before, launch.status_after = before, after
        launch.written, launch.rows, launch.digests = written, rows, digests
    progress(f"read back {[launch.name for launch in launches]}")
    return Step(launches, digests, _check_records(launches))


@pytest.fixture(scope="module")
def steps(ui_server: UIServer) -> Iterator[dict[str, Step]]:
    server = ui_server
    assets = server.job_asset_keys(JOB)
    out: dict[str, Step] = {}

    def job_backfill() -> list[Launch]:
        bid = server.launch_job_backfill(JOB, SELECTED)
        return [_from_backfill(server, "job backfill", assets, SELECTED, bid)]

    def asset_backfill() -> list[Launch]:
        bid = server.launch_asset_backfill(assets, SELECTED)
        return [_from_backfill(server, "asset backfill", assets, SELECTED, bid)]

    def single_runs() -> list[Launch]:
        first, middle, last = SELECTED
        launched = [
            ("job materialize", first, server.launch_run(assets, first, job=JOB)),
            ("asset materialize", middle, server.launch_run(assets, middle)),
            ("job materialize", last, server.launch_run(assets, last, job=JOB)),
        ]
        with ThreadPoolExecutor(len(launched)) as pool:
            return list(pool.map(lambda x: _from_run(server, x[0], assets, [x[1]], x[2]), launched))

    out["job backfill"] = _run_step(server, assets, job_backfill)
    out["asset backfill"] = _run_step(server, assets, asset_backfill)
    out["single runs"] = _run_step(server, assets, single_runs)
    yield out


# ---------------------------------------------------------------- what a launch must leave


def _fmt(pairs) -> str:
    by_asset: dict[str, list[str]] = defaultdict(list)
    for asset, part in sorted(pairs, key=lambda x: (x[0], str(x[1]))):
        by_asset[asset].append(str(part))
    return "; ".join(f"{a}: {', '.join(ps)}" for a, ps in by_asset.items())


def launch_problems(launch: Launch, checks: dict[str, list[str]]) -> list[str]:
    """Everything that differs from "exactly the selected partitions, each with its own
    checks and row count"."""
    problems: list[str] = []
    selected = set(launch.partitions)
    tags = {
        run_id[:8]: {k: v for k, v in t.items() if k.startswith("dagster/") and "partition" in k}
        for run_id, t in launch.run_tags.items()
    }
    if launch.outcome not in ("SUCCESS", "COMPLETED_SUCCESS") or any(
        s != "SUCCESS" for s in launch.run_statuses.values()
    ):
        problems.append(f"ended {launch.outcome}, runs {launch.run_statuses}")

    # run events: exactly selected assets x selected partitions
    expected = {(a, p) for a in launch.assets for p in selected}
    got = launch.events.materialized()
    if extra := got - expected:
        problems.append(f"materialized partitions that were not selected: {_fmt(extra)}")
    if missing := expected - got:
        problems.append(f"selected partitions not materialized: {_fmt(missing)}")

    # Dagster's partition status (the partition health bar)
    step = set(launch.step_partitions)
    for a in launch.assets:
        if new := launch.status_after[a] - launch.status_before[a] - step:
            problems.append(f"{a}: Dagster shows as newly materialized {sorted(new)}")
        if unshown := selected - launch.status_after[a]:
            problems.append(f"{a}: Dagster does not show as materialized {sorted(unshown)}")

    # the lake: which plant-days got new files, rows per plant-day
    for a in launch.assets:
        if extra_files := launch.written[a] - step:
            problems.append(f"{a}: Delta files written for unselected {sorted(extra_files)}")
        if stale := {p for p in selected if launch.rows[a][p] and p not in launch.written[a]}:
            problems.append(f"{a}: Delta not rewritten for {sorted(stale)}")

    # each partition's own dagster/row_count = its rows in the table
    counts = launch.events.row_counts()
    for a, p in sorted(expected & got):
        if (a, p) not in counts:
            problems.append(f"{a} {p}: no dagster/row_count")
        elif counts[(a, p)] != launch.rows[a][p]:
            problems.append(
                f"{a} {p}: dagster/row_count {counts[(a, p)]}, Delta has {launch.rows[a][p]}"
            )

    # checks: one evaluation per check and selected plant-day, with that plant-day's numbers
    evaluations: dict[tuple[str, str, str | None], list] = defaultdict(list)
    for e in launch.events.checks:
        if e.check not in PER_MATERIALIZATION_CHECKS:
            evaluations[(e.asset, e.check, e.partition)].append(e)
    unpartitioned = sorted({(a, c) for a, c, p in evaluations if p is None})
    if unpartitioned:
        problems.append(f"evaluations without a partition: {unpartitioned}")
    unselected = {(a, p) for a, c, p in evaluations if p is not None and p not in selected}
    if unselected:
        problems.append(f"check evaluations for unselected partitions: {_fmt(unselected)}")
    for asset in launch.assets:
        for check in checks.get(asset, []):
            for part in sorted(selected):
                found = evaluations.get((asset, check, part), [])
                if len(found) != 1:
                    problems.append(f"{asset} {check} {part}: {len(found)} evaluations")
                    continue
                problems += evaluation_problems(launch, found[0])
    if problems:
        problems.insert(0, f"{launch.name} of {sorted(selected)}: runs and tags {tags}")
    return problems


def evaluation_problems(launch: Launch, e: Any) -> list[str]:
    """An evaluation judged on its own plant-day: its numbers are that day's rows."""
    where = f"{e.asset} {e.check} {e.partition}"
    plant, day = e.partition.split("|")[1], e.partition.split("|")[0]
    problems = []
    if (e.metadata.get("plant_id"), e.metadata.get("production_date")) != (plant, day):
        problems.append(
            f"{where}: metadata names {e.metadata.get('plant_id')} {e.metadata.get('production_date')}"
        )
    rows = launch.rows[e.asset][e.partition]
    if e.check.startswith("pandera_"):
        if not e.passed:
            problems.append(f"{where}: failed {e.metadata}")
        if e.metadata.get("rows") != rows:
            problems.append(f"{where}: rows {e.metadata.get('rows')}, Delta has {rows}")
    elif e.check == "quarantine_share":
        quarantined = launch.rows["quarantine/" + e.asset.split("/", 1)[1]][e.partition]
        total = rows + quarantined
        share = quarantined / total if total else 0.0
        seen = (e.metadata.get("silver_rows"), e.metadata.get("quarantined"))
        if seen != (rows, quarantined) or abs(e.metadata["quarantine_share"] - share) > 1e-5:
            problems.append(f"{where}: {e.metadata}, Delta has {rows} silver + {quarantined}")
        if e.passed != (share <= e.metadata["threshold"]):
            problems.append(f"{where}: passed={e.passed} at share {share:.4f}")
    return problems


def _launch(steps: dict[str, Step], step: str, name: str) -> list[Launch]:
    return [launch for launch in steps[step].launches if launch.name == name]


@pytest.fixture(scope="module")
def checks(ui_server: UIServer) -> dict[str, list[str]]:
    """The plant-day checks of the job's assets (as the Checks tab lists them)."""
    names = ui_server.check_names(ui_server.job_asset_keys(JOB))
    return {a: [c for c in cs if c not in PER_MATERIALIZATION_CHECKS] for a, cs in names.items()}


def _assert_exact(launches: list[Launch], checks: dict[str, list[str]]) -> None:
    assert launches
    problems = [p for launch in launches for p in launch_problems(launch, checks)]
    assert not problems, "\n".join(problems)


def test_asset_materialize_of_one_plant_day(steps, checks) -> None:
    """(a) Asset graph: 17 assets selected, Materialize, one plant-day: one run tagged with
    that partition materializes exactly it."""
    _assert_exact(_launch(steps, "single runs", "asset materialize"), checks)


def test_asset_backfill_of_a_range_for_one_plant(steps, checks) -> None:
    """(b) Asset graph: the same 17 assets, Materialize, 3 dates x P01 (an asset backfill)."""
    _assert_exact(_launch(steps, "asset backfill", "asset backfill"), checks)


def test_job_backfill_of_three_dates_for_one_plant(steps, checks) -> None:
    """(c) ``plant_day_job`` page, Materialize all, 3 dates x P01 (a job backfill: one run
    over the range; every date materialized, not only the first)."""
    _assert_exact(_launch(steps, "job backfill", "job backfill"), checks)


def test_job_materialize_of_one_partition(steps, checks) -> None:
    """(d) ``plant_day_job`` page, Materialize all, one partition: a single run."""
    _assert_exact(_launch(steps, "single runs", "job materialize"), checks)


def test_launch_paths_leave_identical_tables_and_check_records(steps) -> None:
    """Done-when of issue 8: a job backfill, an asset backfill and single materializations
    of the same partitions leave identical tables (silver, quarantine, gold and bronze,
    ``ingested_at`` dropped) and identical per-partition check records."""
    job, asset, single = steps["job backfill"], steps["asset backfill"], steps["single runs"]
    assert job.digests, "no tables read"
    assert all(n for n, _ in job.digests.values() if n), job.digests
    differing = {
        table: {"job backfill": job.digests[table], "asset backfill": asset.digests[table]}
        | {"single runs": single.digests[table]}
        for table in job.digests
        if not job.digests[table] == asset.digests[table] == single.digests[table]
    }
    assert not differing, f"tables differ between launch paths: {differing}"

    assert job.check_records, "no check evaluations recorded"
    keys = set(job.check_records) | set(asset.check_records) | set(single.check_records)
    differing_checks = {
        key: {name: step.check_records.get(key) for name, step in steps.items()}
        for key in sorted(keys)
        if not job.check_records.get(key)
        == asset.check_records.get(key)
        == single.check_records.get(key)
    }
    assert not differing_checks, f"check records differ between launch paths: {differing_checks}"


def test_check_partition_status_shows_each_plant_days_outcome(ui_server, steps, checks) -> None:
    """The Checks tab's partition view (``AssetCheck.partitionStatuses``) shows each
    selected plant-day as passed or failed, as its latest evaluation says."""
    latest = {
        (e.asset, e.check, e.partition): e.passed
        for launch in steps["single runs"].launches
        for e in launch.events.checks
    }
    problems = []
    for asset, names in sorted(checks.items()):
        for check in names:
            statuses = ui_server.check_partition_statuses(asset, check)
            wrong = {}
            for part in SELECTED:
                want = "succeeded" if latest.get((asset, check, part)) else "failed"
                shown = sorted(s for s, parts in statuses.items() if part in parts) or ["missing"]
                if shown != [want]:
                    wrong[part] = f"evaluated {want}, shown {'/'.join(shown)}"
            if wrong:
                problems.append(f"{asset} {check}: {wrong}")
    assert not problems, "\n".join(problems)
