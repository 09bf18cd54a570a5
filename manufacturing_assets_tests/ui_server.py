"""One `dagster dev` (webserver + daemon) shared by the UI tests, and helpers that talk to it
the way the UI does.

:func:`start_ui_server` prepares a data dir (a small generated sample: plants P01 and P02,
2024-03-30..2024-04-01), a DAGSTER_HOME with the project's ``dagster.yaml``, materializes the
unpartitioned assets (master data, dimensions) and adds the plant partitions, then starts
`dagster dev` in its own process group and waits until GraphQL answers and the code location
is loaded. The session fixture ``ui_server`` (conftest.py) starts it once and stops the
process group at the end of the test session.

Launches are sent exactly as the UI sends them (``ui-core``: ``LaunchAssetExecutionButton``,
``LaunchAssetChoosePartitionsDialog``, ``ConfigFetch``): single partitions as
``launchPipelineExecution`` with the partition's tags as the webserver computes them for the
job; several partitions as ``launchPartitionBackfill``. Read-back helpers return what a run
materialized and the check evaluations it recorded (run events), Dagster's partition status
of an asset, and digests of the Delta tables.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
from dagster import DagsterInstance, materialize
from dagster._core.instance.ref import InstanceRef

from manufacturing_assets.catalogue import TABLES
from manufacturing_assets.environment import Settings, build_resources
from manufacturing_assets.io_managers.delta import read_delta
from manufacturing_assets.partitions import PLANT_DIMENSION, split_key
from manufacturing_assets.pipeline import ALL_DEFS, QUIET, UNPARTITIONED_KEYS
from manufacturing_assets_tools.generator import GeneratorConfig, generate_landing_zone

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "ui"
LOCATION = "manufacturing_assets"
REPOSITORY = "__repository__"
REPOSITORY_SELECTOR = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
PLANTS = ["P01", "P02"]
SAMPLE = GeneratorConfig(days=3, machines_per_plant=2)  # 2024-03-30 .. 2024-04-01
SAMPLE_DATES = [d.isoformat() for d in SAMPLE.dates]
UI_TAGS = [{"key": "dagster/from_ui", "value": "true"}]  # tagsWithUIExecutionTags
TERMINAL_RUN = {"SUCCESS", "FAILURE", "CANCELED"}
RUNNING_BACKFILL = {"REQUESTED", "CANCELING", "FAILING"}

_T0 = time.monotonic()
_sink: Callable[[str], None] = lambda line: print(line, flush=True)  # noqa: E731


def set_progress_sink(sink: Callable[[str], None]) -> None:
    """Where :func:`progress` lines go (conftest routes them past pytest's capture)."""
    global _sink
    _sink = sink


def progress(message: str) -> None:
    """A timestamped progress line, so CI logs show where the time goes."""
    _sink(f"[ui +{time.monotonic() - _T0:6.1f}s] {message}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def partition(day: str, plant: str) -> str:
    """The multi-partition key string (dimensions in name order: date, plant)."""
    return f"{day}|{plant}"


def path_of(key: str | list[str]) -> list[str]:
    return key.split("/") if isinstance(key, str) else list(key)


def key_input(key: str | list[str]) -> dict[str, list[str]]:
    return {"path": path_of(key)}


class GraphQLError(RuntimeError):
    pass


METADATA_FIELDS = """
metadataEntries {
  __typename label
  ... on IntMetadataEntry { intValue intRepr }
  ... on FloatMetadataEntry { floatValue floatRepr }
  ... on TextMetadataEntry { text }
  ... on BoolMetadataEntry { boolValue }
  ... on JsonMetadataEntry { jsonString }
}"""

RUN_EVENTS_QUERY = f"""
query RunEvents($runId: ID!, $cursor: String) {{
  logsForRun(runId: $runId, afterCursor: $cursor, limit: 1000) {{
    __typename
    ... on EventConnection {{
      cursor hasMore
      events {{
        __typename
        ... on MaterializationEvent {{ assetKey {{ path }} partition {METADATA_FIELDS} }}
        ... on AssetCheckEvaluationEvent {{
          evaluation {{
            assetKey {{ path }} checkName partition success severity {METADATA_FIELDS}
          }}
        }}
      }}
    }}
    ... on PythonError {{ message }}
  }}
}}"""


def metadata_values(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """GraphQL metadata entries -> {label: python value}."""
    out: dict[str, Any] = {}
    for e in entries:
        kind = e["__typename"]
        if kind == "IntMetadataEntry":
            out[e["label"]] = e["intValue"] if e["intValue"] is not None else int(e["intRepr"])
        elif kind == "FloatMetadataEntry":
            out[e["label"]] = e["floatValue"]
        elif kind == "TextMetadataEntry":
            out[e["label"]] = e["text"]
        elif kind == "BoolMetadataEntry":
            out[e["label"]] = e["boolValue"]
        elif kind == "JsonMetadataEntry":
            out[e["label"]] = json.loads(e["jsonString"])
        else:
            out[e["label"]] = kind
    return out


@dataclass(frozen=True)
class Materialization:
    asset: str
    partition: str | None
    metadata: dict[str, Any]


@dataclass(frozen=True)
class CheckEvaluation:
    asset: str
    check: str
    partition: str | None
    passed: bool
    severity: str
    metadata: dict[str, Any]


@dataclass
class RunEvents:
    run_ids: list[str]
    materializations: list[Materialization] = field(default_factory=list)
    checks: list[CheckEvaluation] = field(default_factory=list)

    def materialized(self) -> set[tuple[str, str | None]]:
        """(asset, partition) pairs materialized by the runs."""
        return {(m.asset, m.partition) for m in self.materializations}

    def row_counts(self) -> dict[tuple[str, str | None], int]:
        """``dagster/row_count`` of each (asset, partition) (the last one if repeated)."""
        out = {}
        for m in self.materializations:
            if "dagster/row_count" in m.metadata:
                out[(m.asset, m.partition)] = m.metadata["dagster/row_count"]
        return out


@dataclass
class UIServer:
    """A running `dagster dev` and the data it serves."""

    port: int
    home: Path
    settings: Settings
    log_path: Path
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ GraphQL

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST a GraphQL document; returns ``data`` (raises on GraphQL errors)."""
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        req = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            answer = json.load(resp)
        if answer.get("errors"):
            raise GraphQLError(json.dumps(answer["errors"], indent=1)[:4000])
        return answer["data"]

    # ------------------------------------------------------------------ UI launch paths

    def asset_nodes(self, keys: Iterable[str]) -> list[dict[str, Any]]:
        """What the UI's launch loader reads about the assets it is asked to launch."""
        return self.gql(
            """query($keys: [AssetKeyInput!]) {
              assetNodes(assetKeys: $keys) {
                assetKey { path } jobNames isPartitioned
                assetChecksOrError { ... on AssetChecks { checks { name jobNames } } }
              }
            }""",
            {"keys": [key_input(k) for k in keys]},
        )["assetNodes"]

    def required_keys(self, keys: list[str]) -> list[str]:
        """``keys`` plus the other outputs of non-subsettable multi-assets (the UI asks the
        user to confirm and then launches them too)."""
        extra = self.gql(
            """query($keys: [AssetKeyInput!]!) {
              assetNodeAdditionalRequiredKeys(assetKeys: $keys) { path } }""",
            {"keys": [key_input(k) for k in keys]},
        )["assetNodeAdditionalRequiredKeys"]
        return sorted({*keys, *("/".join(k["path"]) for k in extra)})

    def job_asset_keys(self, job: str) -> list[str]:
        """The assets of an asset job (what its page's "Materialize all" launches)."""
        nodes = self.gql(
            """query($selector: PipelineSelector!) { assetNodes(pipeline: $selector) {
              assetKey { path } } }""",
            {"selector": {**REPOSITORY_SELECTOR, "pipelineName": job}},
        )["assetNodes"]
        return sorted("/".join(n["assetKey"]["path"]) for n in nodes)

    def common_job(self, keys: list[str], preferred: str | None = None) -> str:
        """``getCommonJob``: the first job every asset belongs to (``preferred`` if it is
        one, as on a job's page)."""
        nodes = self.asset_nodes(keys)
        jobs_in_common = [j for j in nodes[0]["jobNames"] if all(j in n["jobNames"] for n in nodes)]
        assert jobs_in_common, f"no common job for {keys}"
        return preferred if preferred in jobs_in_common else jobs_in_common[0]

    def check_selection(self, keys: list[str], job: str) -> list[dict[str, Any]]:
        """``getAssetCheckHandleInputs``: the checks of the assets that belong to ``job``."""
        out = []
        for node in self.asset_nodes(keys):
            for check in node["assetChecksOrError"].get("checks", []):
                if not check["jobNames"] or job in check["jobNames"]:
                    out.append({"name": check["name"], "assetKey": node["assetKey"]})
        return out

    def partition_tags_and_config(
        self, job: str, partition_key: str, keys: list[str]
    ) -> tuple[list[dict[str, str]], str]:
        """``fetchTagsAndConfigForAssetJob``: the tags and run config the webserver gives a
        run of ``job`` for one partition."""
        data = self.gql(
            """query($repositoryName: String!, $repositoryLocationName: String!,
                     $jobName: String!, $partitionName: String!,
                     $assetKeys: [AssetKeyInput!]!) {
              pipelineOrError(params: {pipelineName: $jobName, repositoryName: $repositoryName,
                                       repositoryLocationName: $repositoryLocationName}) {
                __typename
                ... on Pipeline {
                  partition(partitionName: $partitionName, selectedAssetKeys: $assetKeys) {
                    runConfigOrError { ... on PartitionRunConfig { yaml }
                                       ... on PythonError { message } }
                    tagsOrError { ... on PartitionTags { results { key value } }
                                  ... on PythonError { message } }
                  }
                }
              }
            }""",
            {
                "repositoryName": REPOSITORY,
                "repositoryLocationName": LOCATION,
                "jobName": job,
                "partitionName": partition_key,
                "assetKeys": [key_input(k) for k in keys],
            },
        )
        part = data["pipelineOrError"]["partition"]
        tags = part["tagsOrError"]["results"]
        return [{"key": t["key"], "value": t["value"]} for t in tags], part["runConfigOrError"][
            "yaml"
        ]

    def launch_run(self, keys: list[str], partition_key: str, job: str | None = None) -> str:
        """One partition of ``keys`` as the Materialize dialog launches it (a single run:
        ``launchPipelineExecution`` with the partition's tags). ``job``: launched from that
        job's page ("Materialize all"), else the assets' first common job (asset graph)."""
        keys = self.required_keys(keys)
        job = self.common_job(keys, preferred=job)
        tags, run_config = self.partition_tags_and_config(job, partition_key, keys)
        params = {
            "mode": "default",
            "executionMetadata": {"tags": [*tags, *UI_TAGS]},
            "runConfigData": run_config or "",
            "selector": {
                **REPOSITORY_SELECTOR,
                "pipelineName": job,
                "assetSelection": [key_input(k) for k in keys],
                "assetCheckSelection": self.check_selection(keys, job),
            },
        }
        result = self.gql(
            """mutation($executionParams: ExecutionParams!) {
              launchPipelineExecution(executionParams: $executionParams) {
                __typename
                ... on LaunchRunSuccess { run { runId tags { key value } } }
                ... on Error { message }
              }
            }""",
            {"executionParams": params},
        )["launchPipelineExecution"]
        assert result["__typename"] == "LaunchRunSuccess", result
        run_id = result["run"]["runId"]
        run_tags = {t["key"]: t["value"] for t in result["run"]["tags"]}
        part_tags = {k: v for k, v in run_tags.items() if k.startswith("dagster/partition")}
        progress(f"launched run {run_id[:8]} of {job} for {partition_key} ({len(keys)} assets)")
        progress(f"  run tags {part_tags}")
        return run_id

    def _launch_backfill(self, params: dict[str, Any], what: str) -> str:
        result = self.gql(
            """mutation($backfillParams: LaunchBackfillParams!) {
              launchPartitionBackfill(backfillParams: $backfillParams) {
                __typename
                ... on LaunchBackfillSuccess { backfillId }
                ... on Error { message }
              }
            }""",
            {"backfillParams": params},
        )["launchPartitionBackfill"]
        assert result["__typename"] == "LaunchBackfillSuccess", result
        progress(f"launched backfill {result['backfillId']} ({what})")
        return result["backfillId"]

    def launch_asset_backfill(self, keys: list[str], partition_keys: list[str]) -> str:
        """Several partitions of ``keys`` from the asset graph's Materialize dialog."""
        keys = self.required_keys(keys)
        return self._launch_backfill(
            {
                "tags": UI_TAGS,
                "assetSelection": [key_input(k) for k in keys],
                "partitionNames": partition_keys,
                "fromFailure": False,
            },
            f"asset backfill of {len(keys)} assets x {partition_keys}",
        )

    def launch_job_backfill(self, job: str, partition_keys: list[str]) -> str:
        """Several partitions from a job page's "Materialize all" (the job's partition set)."""
        keys = self.job_asset_keys(job)
        return self._launch_backfill(
            {
                "tags": UI_TAGS,
                "assetSelection": [key_input(k) for k in keys],
                "partitionNames": partition_keys,
                "fromFailure": False,
                "selector": {
                    "partitionSetName": f"{job}_partition_set",
                    "repositorySelector": REPOSITORY_SELECTOR,
                },
            },
            f"job backfill of {job} x {partition_keys}",
        )

    # ------------------------------------------------------------------ waiting

    def run_status(self, run_id: str) -> dict[str, Any]:
        return self.gql(
            """query($runId: ID!) { runOrError(runId: $runId) { __typename
              ... on Run { runId status tags { key value } } } }""",
            {"runId": run_id},
        )["runOrError"]

    def wait_for_run(self, run_id: str, timeout: float = 900) -> dict[str, Any]:
        """Poll until the run ends; returns the run (status, tags)."""
        start = time.monotonic()
        while True:
            run = self.run_status(run_id)
            if run.get("status") in TERMINAL_RUN:
                break
            if time.monotonic() - start > timeout:
                raise TimeoutError(f"run {run_id} still {run.get('status')} after {timeout} s")
            time.sleep(1)
        progress(f"run {run_id[:8]} {run['status']} after {time.monotonic() - start:.1f} s wait")
        return run

    def backfill(self, backfill_id: str) -> dict[str, Any]:
        return self.gql(
            """query($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename
              ... on PartitionBackfill { id status isAssetBackfill partitionNames
                                         runs(limit: 100) { runId status } }
              ... on Error { message } } }""",
            {"id": backfill_id},
        )["partitionBackfillOrError"]

    def wait_for_backfill(self, backfill_id: str, timeout: float = 900) -> dict[str, Any]:
        """Poll until the backfill is done and all its runs ended; returns the backfill."""
        start = time.monotonic()
        while True:
            bf = self.backfill(backfill_id)
            runs_done = all(r["status"] in TERMINAL_RUN for r in bf.get("runs", []))
            if bf.get("status") not in RUNNING_BACKFILL and runs_done:
                break
            if time.monotonic() - start > timeout:
                raise TimeoutError(f"backfill {backfill_id} still {bf} after {timeout} s")
            time.sleep(1)
        progress(
            f"backfill {backfill_id} {bf['status']} after {time.monotonic() - start:.1f} s wait; "
            f"runs {[(r['runId'][:8], r['status']) for r in bf['runs']]}"
        )
        return bf

    # ------------------------------------------------------------------ read-back

    def run_events(self, run_ids: Iterable[str]) -> RunEvents:
        """Materializations and check evaluations recorded by the runs."""
        out = RunEvents(run_ids=list(run_ids))
        for run_id in out.run_ids:
            cursor = None
            while True:
                conn = self.gql(RUN_EVENTS_QUERY, {"runId": run_id, "cursor": cursor})["logsForRun"]
                assert conn["__typename"] == "EventConnection", conn
                for ev in conn["events"]:
                    if ev["__typename"] == "MaterializationEvent":
                        out.materializations.append(
                            Materialization(
                                "/".join(ev["assetKey"]["path"]),
                                ev["partition"],
                                metadata_values(ev["metadataEntries"]),
                            )
                        )
                    elif ev["__typename"] == "AssetCheckEvaluationEvent":
                        e = ev["evaluation"]
                        out.checks.append(
                            CheckEvaluation(
                                "/".join(e["assetKey"]["path"]),
                                e["checkName"],
                                e["partition"],
                                e["success"],
                                e["severity"],
                                metadata_values(e["metadataEntries"]),
                            )
                        )
                cursor = conn["cursor"]
                if not conn["hasMore"]:
                    break
        return out

    def materialized_partitions(self, key: str) -> set[str]:
        """Partitions Dagster shows as materialized for an asset (the partition health bar:
        ``assetPartitionStatuses``)."""
        node = self.gql(
            """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) {
              ... on AssetNode { assetPartitionStatuses {
                __typename
                ... on MultiPartitionStatuses {
                  primaryDimensionName
                  ranges { primaryDimStartKey primaryDimEndKey
                           secondaryDim { ... on DefaultPartitionStatuses {
                             materializedPartitions } } }
                }
              } } } }""",
            {"key": key_input(key)},
        )["assetNodeOrError"]
        statuses = node["assetPartitionStatuses"]
        assert statuses["__typename"] == "MultiPartitionStatuses", statuses
        assert statuses["primaryDimensionName"] == "date", statuses
        out = set()
        for r in statuses["ranges"]:
            day = date.fromisoformat(r["primaryDimStartKey"])
            while day <= date.fromisoformat(r["primaryDimEndKey"]):
                for plant in r["secondaryDim"]["materializedPartitions"]:
                    out.add(partition(day.isoformat(), plant))
                day += timedelta(days=1)
        return out

    def check_names(self, keys: Iterable[str]) -> dict[str, list[str]]:
        """The asset checks of each asset (the Checks tab)."""
        return {
            "/".join(n["assetKey"]["path"]): sorted(
                c["name"] for c in n["assetChecksOrError"].get("checks", [])
            )
            for n in self.asset_nodes(keys)
        }

    def check_partition_statuses(self, key: str, check: str) -> dict[str, set[str]]:
        """Partitions by status in a check's Partitions tab (the UI's
        ``AssetCheckPartitionHealthQuery``): succeeded, failed, inProgress, skipped,
        executionFailed."""
        fields = (
            "succeededPartitions failedPartitions inProgressPartitions skippedPartitions "
            "executionFailedPartitions"
        )
        node = self.gql(
            f"""query($key: AssetKeyInput!, $check: String!) {{
              assetNodeOrError(assetKey: $key) {{ ... on AssetNode {{
                assetCheckOrError(checkName: $check) {{ ... on AssetCheck {{
                  partitionStatuses {{ __typename
                    ... on AssetCheckMultiPartitionStatuses {{
                      primaryDimensionName
                      ranges {{ primaryDimStartKey primaryDimEndKey
                        secondaryDim {{ __typename
                          ... on AssetCheckDefaultPartitionStatuses {{ {fields} }} }} }}
                    }}
                  }}
                }} }}
              }} }}
            }}""",
            {"key": key_input(key), "check": check},
        )["assetNodeOrError"]["assetCheckOrError"]
        statuses = node["partitionStatuses"]
        assert statuses and statuses["__typename"] == "AssetCheckMultiPartitionStatuses", node
        assert statuses["primaryDimensionName"] == "date", statuses
        out: dict[str, set[str]] = {f.removesuffix("Partitions"): set() for f in fields.split()}
        for r in statuses["ranges"]:
            day = date.fromisoformat(r["primaryDimStartKey"])
            while day <= date.fromisoformat(r["primaryDimEndKey"]):
                for f in fields.split():
                    for plant in r["secondaryDim"].get(f) or []:
                        out[f.removesuffix("Partitions")].add(partition(day.isoformat(), plant))
                day += timedelta(days=1)
        return out

    def partition_stats(self, key: str) -> dict[str, int]:
        return self.gql(
            """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) {
              ... on AssetNode { partitionStats { numMaterialized numPartitions numFailed
                                                  numMaterializing } } } }""",
            {"key": key_input(key)},
        )["assetNodeOrError"]["partitionStats"]

    # ------------------------------------------------------------------ lake

    def table(self, key: str) -> pl.DataFrame | None:
        return read_delta(
            f"{self.settings.lake_root.rstrip('/')}/{key}", self.settings.delta_storage_options()
        )

    def delta_rows(self, key: str, partition_keys: Iterable[str]) -> dict[str, int]:
        """Rows of the table of ``key`` in each plant-day partition."""
        frame = self.table(key)
        plant_col, date_col = TABLES[key].partitioning.columns
        out = {}
        for pk in partition_keys:
            plant, day = split_key(pk)
            out[pk] = (
                0
                if frame is None
                else frame.filter((pl.col(plant_col) == plant) & (pl.col(date_col) == day)).height
            )
        return out

    def delta_partitions(self, key: str) -> set[str]:
        """Plant-day partitions with rows in the table of ``key``."""
        frame = self.table(key)
        if frame is None:
            return set()
        plant_col, date_col = TABLES[key].partitioning.columns
        pairs = frame.select(plant_col, date_col).unique().rows()
        return {partition(d.isoformat(), p) for p, d in pairs}

    def written_since(self, key: str, since: float) -> set[str]:
        """Plant-day partitions whose data files in the table's current version were written
        after ``since`` (epoch seconds): what a launch rewrote."""
        from deltalake import DeltaTable

        uri = f"{self.settings.lake_root.rstrip('/')}/{key}"
        try:
            dt = DeltaTable(uri, storage_options=self.settings.delta_storage_options() or None)
        except Exception:  # no table yet
            return set()
        plant_col, date_col = TABLES[key].partitioning.columns
        actions = pl.from_arrow(pa.table(dt.get_add_actions(flatten=True)))
        assert isinstance(actions, pl.DataFrame)
        recent = actions.filter(pl.col("modification_time") >= int(since * 1000))
        return {
            partition(str(day), plant)
            for plant, day in recent.select(
                f"partition.{plant_col}", f"partition.{date_col}"
            ).rows()
        }

    def digest(self, key: str, partition_keys: Iterable[str]) -> tuple[int, str]:
        """(rows, sha256) of the table's rows in ``partition_keys``, ``ingested_at`` dropped,
        independent of row and column order."""
        frame = self.table(key)
        if frame is None:
            return 0, ""
        plant_col, date_col = TABLES[key].partitioning.columns
        wanted = [split_key(pk) for pk in partition_keys]
        mask = pl.lit(False)
        for plant, day in wanted:
            mask = mask | ((pl.col(plant_col) == plant) & (pl.col(date_col) == day))
        frame = frame.filter(mask).drop("ingested_at", strict=False)
        frame = frame.select(sorted(frame.columns))
        hashes = frame.hash_rows(seed=0).sort()
        return frame.height, hashlib.sha256(hashes.to_numpy().tobytes()).hexdigest()

    # ------------------------------------------------------------------ lifecycle

    def wait_until_up(self, timeout: float = 180) -> None:
        start = time.monotonic()
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"dagster dev exited:\n{self.log_tail()}")
            try:
                entries = self.gql(
                    """{ workspaceOrError { ... on Workspace { locationEntries {
                      name loadStatus locationOrLoadError { __typename } } } } }"""
                )["workspaceOrError"]["locationEntries"]
                if entries and all(
                    e["loadStatus"] == "LOADED"
                    and e["locationOrLoadError"]["__typename"] == "RepositoryLocation"
                    for e in entries
                ):
                    break
                if any(e["locationOrLoadError"]["__typename"] == "PythonError" for e in entries):
                    raise RuntimeError(f"code location failed to load:\n{self.log_tail()}")
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() - start > timeout:
                raise TimeoutError(f"dagster dev not up after {timeout} s:\n{self.log_tail()}")
            time.sleep(0.5)
        self.gql("mutation { setNuxSeen }")  # or a community pop-up covers the UI
        progress(f"dagster dev up on {self.url} after {time.monotonic() - start:.1f} s")

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None
        progress("dagster dev stopped")


def prepare(
    root: Path, env: dict[str, str] | None = None, dagster_yaml: Path = REPO / "dagster.yaml"
) -> tuple[Settings, Path]:
    """Sample landing zone, DAGSTER_HOME with ``dagster_yaml`` (the project's by default),
    unpartitioned assets materialized, plant partitions added. ``env``: settings on top of
    the local defaults under ``root`` (an S3 landing zone and lake, for instance); the
    instance's own variables (``dagster_yaml``'s ``env:`` values) come from the process."""
    settings = Settings.from_env({"MA_DATA_DIR": str(root / "data"), **(env or {})})
    generate_landing_zone(settings.landing_zone(), SAMPLE)
    home = root / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(dagster_yaml, home / "dagster.yaml")
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        materialize(
            ALL_DEFS,
            selection=UNPARTITIONED_KEYS,
            instance=instance,
            resources=build_resources(settings),
            run_config=QUIET,
        )
        instance.add_dynamic_partitions(PLANT_DIMENSION, PLANTS)
    return settings, home


@contextmanager
def start_ui_server(root: Path) -> Iterator[UIServer]:
    """Prepare ``root`` and run `dagster dev` on it until the block ends."""
    progress(f"preparing sample and DAGSTER_HOME in {root}")
    settings, home = prepare(root)
    progress("sample ready: unpartitioned assets materialized, plants P01 P02 added")
    server = UIServer(port=free_port(), home=home, settings=settings, log_path=root / "dev.log")
    env = {**os.environ, "DAGSTER_HOME": str(home), "MA_DATA_DIR": str(settings.data_dir)}
    # ingestion and automation sensors stay stopped (their default), Kafka stays off:
    # only what a test launches runs
    for name in ("MA_INGESTION_SENSORS", "KAFKA_BOOTSTRAP_SERVERS"):
        env.pop(name, None)
    with server.log_path.open("w") as log:
        server.proc = subprocess.Popen(
            [sys.executable, "-m", "dagster", "dev", "-p", str(server.port)],
            cwd=REPO,
            env=env,
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        server.wait_until_up()
        yield server
    finally:
        server.stop()
