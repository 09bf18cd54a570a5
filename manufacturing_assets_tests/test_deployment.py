"""The production deployment, proven on this machine (issue 13).

One deployment for the module (``deployment.py``): a fresh PostgreSQL database as the
instance (``deploy/dagster.yaml``), the code server (``dagster api grpc``),
``dagster-webserver`` and ``dagster-daemon`` (``deploy/workspace.yaml``) as processes, the
landing zone, the lake and the compute logs on an S3 server, and every secret of
``environment.py`` set in the code server's environment.

1. A backfill of ``plant_day_job`` for 2 plants x 3 days is launched through GraphQL (as the
   job page's "Materialize all" sends it); the daemon is killed with SIGKILL as soon as the
   backfill has a run that has not finished, and started again. The backfill completes, and
   PostgreSQL holds exactly one materialization of every asset of the job for each of the 6
   plant-days, one evaluation of each of their checks per plant-day, and one successful run
   per plant. When the kill lands while the daemon is submitting a run (it stays
   NOT_STARTED), run monitoring fails that run after ``start_timeout_seconds`` and run
   retries start it again; Dagster 1.13 then reports the job backfill COMPLETED_FAILED
   although the retry materialized everything, and the test checks exactly that.
2. No secret value appears in what the webserver serves (resource configuration, instance
   configuration, run configuration), in any table of the PostgreSQL database (runs, event
   log, snapshots; compressed snapshots inflated) or in the compute logs on S3.
3. The browser test's steps against this webserver: the asset graph loads, and one
   plant-day materializes from the asset graph's Materialize dialog.
"""

from __future__ import annotations

import contextlib
import json
import signal
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from manufacturing_assets_tests.deployment import SECRETS, Deployment, start_deployment
from manufacturing_assets_tests.test_ui_browser import (
    materialize_one_plant_day,
    open_browser,
    show_asset_graph,
)
from manufacturing_assets_tests.ui_server import (
    ARTIFACTS,
    PLANTS,
    REPOSITORY_SELECTOR,
    SAMPLE_DATES,
    TERMINAL_RUN,
    partition,
    progress,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]

JOB = "plant_day_job"
KEYS = [partition(day, plant) for plant in PLANTS for day in SAMPLE_DATES]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with start_deployment(tmp_path_factory.mktemp("deployment")) as d:
        yield d


@pytest.fixture(scope="module")
def crashed_backfill(deployment: Deployment) -> dict[str, Any]:
    """Launch the backfill, SIGKILL the daemon once the backfill has runs that have not
    finished, restart it, wait for the end. Returns what was seen."""
    d = deployment
    backfill_id = d.launch_job_backfill(JOB, KEYS)
    deadline = time.monotonic() + 600
    while True:
        bf = d.backfill(backfill_id)
        if bf["runs"] and not all(r["status"] in TERMINAL_RUN for r in bf["runs"]):
            break
        assert bf["status"] == "REQUESTED", f"backfill ended before the daemon was killed: {bf}"
        assert time.monotonic() < deadline, f"backfill {backfill_id} has no runs: {bf}"
        time.sleep(0.5)
    code = d.kill("daemon", signal.SIGKILL)
    at_kill = {"status": bf["status"], "runs": [(r["runId"], r["status"]) for r in bf["runs"]]}
    progress(f"daemon SIGKILLed (exit {code}) mid-backfill: {at_kill}")
    time.sleep(5)  # the daemon's heartbeat goes stale; runs already launched carry on
    d.start("daemon")
    final = d.wait_for_backfill(backfill_id, timeout=1800)
    return {"id": backfill_id, "kill_exit": code, "at_kill": at_kill, "final": final}


def backfill_run_ids(d: Deployment, backfill_id: str) -> list[str]:
    return [
        r[0]
        for r in d.sql(
            "SELECT run_id FROM run_tags WHERE key = 'dagster/backfill' AND value = %s",
            (backfill_id,),
        )
    ]


def test_backfill_survives_a_daemon_crash(deployment: Deployment, crashed_backfill) -> None:
    d, bf = deployment, crashed_backfill
    assert bf["kill_exit"] == -signal.SIGKILL
    assert bf["at_kill"]["status"] == "REQUESTED"
    final = bf["final"]
    assert final["status"] in ("COMPLETED_SUCCESS", "COMPLETED_FAILED"), final
    assert sorted(final["partitionNames"]) == sorted(KEYS)

    # runs, in PostgreSQL. A run the killed daemon had created but not yet queued stays
    # NOT_STARTED: run monitoring fails it after start_timeout_seconds and run retries start
    # it again. So: every run succeeded, or failed and was retried by a successful run; the
    # successful runs are one per plant (BackfillPolicy.multi_run) over the plant's 3 days.
    run_ids = backfill_run_ids(d, bf["id"])
    tags: dict[str, dict[str, str]] = {}
    for run_id, key, value in d.sql(
        "SELECT run_id, key, value FROM run_tags WHERE run_id = ANY(%s)", (run_ids,)
    ):
        tags.setdefault(run_id, {})[key] = value
    statuses = dict(d.sql("SELECT run_id, status FROM runs WHERE run_id = ANY(%s)", (run_ids,)))
    retried_by = {
        t["dagster/parent_run_id"]: r for r, t in tags.items() if "dagster/parent_run_id" in t
    }
    for run_id, status in statuses.items():
        if status != "SUCCESS":
            assert status == "FAILURE" and tags[run_id].get("dagster/will_retry") == "true", (
                run_id,
                status,
                tags[run_id],
            )
            assert statuses[retried_by[run_id]] == "SUCCESS", (run_id, retried_by)
    succeeded = [r for r, s in statuses.items() if s == "SUCCESS"]
    ranges = sorted(
        (
            tags[r]["dagster/asset_partition_range_start"],
            tags[r]["dagster/asset_partition_range_end"],
        )
        for r in succeeded
    )
    assert ranges == [
        (partition(SAMPLE_DATES[0], p), partition(SAMPLE_DATES[-1], p)) for p in PLANTS
    ], ranges
    failed = {
        r: tags[r].get("dagster/failure_reason") for r, s in statuses.items() if s != "SUCCESS"
    }
    progress(f"backfill runs: {len(succeeded)} succeeded, failed and retried: {failed}")
    # a job backfill with a failed run is COMPLETED_FAILED even when the run's retry
    # succeeded (Dagster 1.13): only that, never a run lost or left failed
    assert (final["status"] == "COMPLETED_FAILED") == bool(failed), (final["status"], failed)

    # every asset of the job materialized exactly once per plant-day (PostgreSQL event log)
    assets = d.job_asset_keys(JOB)
    rows = d.sql(
        "SELECT asset_key, partition, count(*) FROM event_logs WHERE run_id = ANY(%s) "
        "AND dagster_event_type = 'ASSET_MATERIALIZATION' GROUP BY asset_key, partition",
        (run_ids,),
    )
    counts = {("/".join(json.loads(k)), p): n for k, p, n in rows}
    expected = {(a, k): 1 for a in assets for k in KEYS}
    assert counts == expected, {
        "missing": sorted(set(expected) - set(counts)),
        "extra": sorted(set(counts) - set(expected)),
        "repeated": sorted(k for k, n in counts.items() if n > 1),
    }
    progress(f"{len(assets)} assets x {len(KEYS)} plant-days, each materialized once")

    # every check of those assets in the job: one evaluation per plant-day, recorded in
    # PostgreSQL (event log and the asset check executions table)
    checks = {
        (a, c["name"])
        for node in d.asset_nodes(assets)
        for a in ["/".join(node["assetKey"]["path"])]
        for c in node["assetChecksOrError"].get("checks", [])
        if JOB in c["jobNames"]
    }
    assert checks, "the job's assets have checks"
    evaluations = Counter()
    for (event,) in d.sql(
        "SELECT event FROM event_logs WHERE run_id = ANY(%s) "
        "AND dagster_event_type = 'ASSET_CHECK_EVALUATION'",
        (run_ids,),
    ):
        data = json.loads(event)["dagster_event"]["event_specific_data"]
        evaluations[
            ("/".join(data["asset_key"]["path"]), data["check_name"], data["partition"])
        ] += 1
    # partitioned checks: one evaluation per plant-day; checks without partitions (Dagster's
    # column schema change checks): one per successful run
    unpartitioned = {(a, c) for a, c, k in evaluations if k is None}
    want = {(a, c, k): 1 for a, c in checks - unpartitioned for k in KEYS}
    want |= {(a, c, None): len(succeeded) for a, c in unpartitioned}
    assert unpartitioned <= checks, unpartitioned - checks
    assert dict(evaluations) == want, {
        "missing": sorted(set(want) - set(evaluations))[:20],
        "extra": sorted(set(evaluations) - set(want))[:20],
        "repeated": sorted(k for k, n in evaluations.items() if n > 1)[:20],
    }
    executions = d.sql(
        "SELECT count(*) FROM asset_check_executions WHERE run_id = ANY(%s) "
        "AND execution_status IN ('SUCCEEDED', 'FAILED')",
        (run_ids,),
    )[0][0]
    assert executions == sum(want.values()), (executions, sum(want.values()))
    progress(f"{len(checks)} checks x {len(KEYS)} plant-days, each evaluated once")

    # and the data is in the lake on S3, in every plant-day
    for asset in ("silver/sensor_readings", "gold/oee_daily"):
        rows_by_key = d.delta_rows(asset, KEYS)
        assert all(rows_by_key.values()), (asset, rows_by_key)


# ---------------------------------------------------------------------------- secrets


def _leaks(text: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in text]


def test_no_secret_in_ui_database_or_compute_logs(deployment: Deployment, crashed_backfill) -> None:
    d = deployment
    run_ids = backfill_run_ids(d, crashed_backfill["id"])

    # resources as the UI shows them: credentials are EnvVar references
    resources = d.gql(
        """query($sel: RepositorySelector!) {
          allTopLevelResourceDetailsOrError(repositorySelector: $sel) { __typename
            ... on ResourceDetailsList { results { name
              configuredValues { key value type }
              nestedResources { name type resource { name
                configuredValues { key value type } } } } }
            ... on PythonError { message } } }""",
        {"sel": REPOSITORY_SELECTOR},
    )["allTopLevelResourceDetailsOrError"]
    assert resources["__typename"] == "ResourceDetailsList", resources
    shown = json.dumps(resources)
    assert _leaks(shown) == [], shown
    env_vars = {
        (r["name"], v["key"], v["value"])
        for r in resources["results"]
        for v in r["configuredValues"]
        if v["type"] == "ENV_VAR"
    }
    for resource, key, var in [
        ("kafka", "sasl_username", "KAFKA_SASL_USERNAME"),
        ("kafka", "sasl_password", "KAFKA_SASL_PASSWORD"),
        ("notifier", "webhook_url", "MA_WEBHOOK_URL"),
    ]:
        assert (resource, key, var) in env_vars, (resource, key, sorted(env_vars))
    # nested S3 connections of the landing zone and the lake: {"env": NAME}. (The warehouse's
    # Snowflake resource is an anonymous nested resource: the UI shows no configuration for
    # it at all; that its values appear nowhere is checked below.)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert name in shown, f"{name} is not referenced in the resources' configuration"

    # the instance's configuration page (Deployment > Configuration): PostgreSQL storage,
    # no password
    info = d.gql("{ instance { info } }")["instance"]["info"]
    assert "PostgresRunStorage" in info and _leaks(info) == [], info

    # run configuration of the backfill's runs
    for run_id in run_ids:
        run = d.gql(
            """query($id: ID!) { runOrError(runId: $id) { ... on Run { runConfigYaml
              tags { key value } } } }""",
            {"id": run_id},
        )["runOrError"]
        assert _leaks(json.dumps(run)) == [], run_id

    # every table of the instance's PostgreSQL database (runs, event log, snapshots...)
    tables = [t for (t,) in d.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    assert {"runs", "event_logs", "snapshots", "asset_check_executions"} <= set(tables)
    scanned = 0
    for table in tables:
        for row in d.sql(f'SELECT * FROM "{table}"'):
            for value in row:
                if isinstance(value, memoryview | bytes):
                    raw = bytes(value)
                    with contextlib.suppress(zlib.error):
                        raw = zlib.decompress(raw)
                    text = raw.decode("utf-8", errors="replace")
                else:
                    text = str(value)
                scanned += len(text)
                assert _leaks(text) == [], (table, text[:300])
    progress(f"PostgreSQL: {len(tables)} tables, {scanned:,} characters, no secret")

    # compute logs of the runs' steps, on S3 (MA_COMPUTE_LOGS_BUCKET)
    logs = d.s3_objects("compute-logs/")
    for_runs = {k: v for k, v in logs.items() if any(r in k for r in run_ids)}
    assert for_runs and any(for_runs.values()), sorted(logs)[:20]
    for key, body in logs.items():
        assert _leaks(body.decode("utf-8", errors="replace")) == [], key
    progress(f"compute logs on S3: {len(logs)} objects, no secret")


# ---------------------------------------------------------------------------- browser


def test_browser_on_the_deployed_webserver(deployment: Deployment, crashed_backfill) -> None:
    """After the backfill (so the module's other tests see only its runs): the asset graph
    loads from the PostgreSQL-backed webserver and one plant-day materializes."""
    d = deployment
    day, plant = SAMPLE_DATES[1], PLANTS[0]
    with open_browser(d.url, ARTIFACTS.parent / "deployment-ui") as browser:
        show_asset_graph(browser)
        run_id = materialize_one_plant_day(browser, day, plant)
        run = d.wait_for_run(run_id, timeout=1200)
        browser.goto(f"/runs/{run_id}")
        browser.page.get_by_text("Success", exact=True).first.wait_for()
        browser.shot("run-succeeded")
    assert run["status"] == "SUCCESS", run
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert tags.get("dagster/partition") == partition(day, plant), tags
    done = {m.asset: m.partition for m in d.run_events([run_id]).materializations}
    assert done.get("silver/sensor_readings") == partition(day, plant), done
    stored = d.sql(
        "SELECT count(*) FROM event_logs WHERE run_id = %s AND partition = %s "
        "AND dagster_event_type = 'ASSET_MATERIALIZATION'",
        (run_id, partition(day, plant)),
    )[0][0]
    assert stored >= 1
