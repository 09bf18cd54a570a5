"""`dagster dev` (workspace.yaml) serves the graph and materializes a backfill launched like the UI does."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

from dagster import AssetKey, DagsterInstance, materialize

from manufacturing_assets.environment import Settings, build_resources
from manufacturing_assets.io_managers.delta import read_delta
from manufacturing_assets.partitions import PLANT_DIMENSION
from manufacturing_assets.pipeline import ALL_DEFS, QUIET
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets_tools.generator import GeneratorConfig, generate_landing_zone

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gql(port: int, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)


def test_dagster_dev_shows_graph_and_runs_a_backfill(tmp_path: Path) -> None:
    settings = Settings.from_env({"MA_DATA_DIR": str(tmp_path)})
    generate_landing_zone(
        LandingZone(root=settings.landing_root), GeneratorConfig(days=2, machines_per_plant=2)
    )
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    with DagsterInstance.from_ref(DagsterInstance.local_temp(str(home)).get_ref()) as instance:
        instance.add_dynamic_partitions(PLANT_DIMENSION, ["P01", "P02"])
        materialize(
            ALL_DEFS,
            selection=[AssetKey(["reference", "plants"])],
            instance=instance,
            resources=build_resources(settings),
            run_config=QUIET,
        )

    port = free_port()
    # ingestion sensors stay stopped (their default), so only the backfill below runs
    env = {**os.environ, "DAGSTER_HOME": str(home), "MA_DATA_DIR": str(tmp_path)}
    env.pop("MA_INGESTION_SENSORS", None)
    log = (tmp_path / "dagster_dev.log").open("w")  # closed in the finally block
    proc = subprocess.Popen(
        [sys.executable, "-m", "dagster", "dev", "-p", str(port)],
        cwd=REPO,
        env=env,
        start_new_session=True,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.time() + 120
        nodes = None
        while time.time() < deadline:
            try:
                nodes = gql(port, "{ assetNodes { assetKey { path } groupName isPartitioned } }")[
                    "data"
                ]["assetNodes"]
                break
            except OSError:
                time.sleep(2)
        assert nodes, "dagster dev did not come up"
        groups = {n["groupName"] for n in nodes}
        assert {"bronze", "silver", "quarantine", "gold", "reference"} <= groups
        keys = {"/".join(n["assetKey"]["path"]) for n in nodes}
        assert {"bronze/sensor_readings", "silver/sensor_readings", "gold/sensor_hourly"} <= keys

        selection = [
            {"path": p}
            for p in (
                ["bronze", "sensor_readings"],
                ["silver", "sensor_readings"],
                ["quarantine", "sensor_readings"],
                ["gold", "sensor_hourly"],
            )
        ]
        launched = gql(
            port,
            """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
            __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }""",
            {
                "p": {
                    "assetSelection": selection,
                    "partitionNames": ["2024-03-30|P01", "2024-03-31|P01"],
                }
            },
        )
        backfill_id = launched["data"]["launchPartitionBackfill"]["backfillId"]
        status = None
        while time.time() < deadline + 300:
            status = gql(
                port,
                """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
                ... on PartitionBackfill { status runs(limit: 20) { status } } } }""",
                {"id": backfill_id},
            )
            status = status["data"]["partitionBackfillOrError"]
            if status["status"] != "REQUESTED":
                break
            time.sleep(3)
        assert status["status"] == "COMPLETED_SUCCESS", status
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()

    silver = read_delta(f"{settings.lake_root}/silver/sensor_readings")
    assert set(silver.select("plant_id", "production_date").unique().rows()) == {
        ("P01", date(2024, 3, 30)),
        ("P01", date(2024, 3, 31)),
    }
