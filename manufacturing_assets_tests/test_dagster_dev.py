"""`dagster dev` (workspace.yaml) serves the graph and materializes a backfill launched like the
UI does. Runs against the session's shared `dagster dev` (``ui_server`` fixture, conftest.py)."""

from __future__ import annotations

import time

import pytest

from manufacturing_assets_tests.ui_server import UIServer

pytestmark = pytest.mark.integration

SELECTION = [
    "bronze/sensor_readings",
    "silver/sensor_readings",
    "quarantine/sensor_readings",
    "gold/sensor_hourly",
]
PARTITIONS = ["2024-03-30|P01", "2024-03-31|P01"]


def test_dagster_dev_shows_graph_and_runs_a_backfill(ui_server: UIServer) -> None:
    nodes = ui_server.gql("{ assetNodes { assetKey { path } groupName isPartitioned } }")[
        "assetNodes"
    ]
    groups = {n["groupName"] for n in nodes}
    assert {"bronze", "silver", "quarantine", "gold", "reference"} <= groups
    keys = {"/".join(n["assetKey"]["path"]) for n in nodes}
    assert {"bronze/sensor_readings", "silver/sensor_readings", "gold/sensor_hourly"} <= keys

    started = time.time() - 1
    launched = ui_server.gql(
        """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
        __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }""",
        {
            "p": {
                "assetSelection": [{"path": k.split("/")} for k in SELECTION],
                "partitionNames": PARTITIONS,
            }
        },
    )
    backfill_id = launched["launchPartitionBackfill"]["backfillId"]
    status = ui_server.wait_for_backfill(backfill_id)
    assert status["status"] == "COMPLETED_SUCCESS", status

    # silver of the selected plant-days was written by this backfill (other UI tests share the
    # lake; that a launch writes no other plant-day is asserted in test_ui_launch_paths.py)
    assert set(PARTITIONS) <= ui_server.written_since("silver/sensor_readings", started)
    rows = ui_server.delta_rows("silver/sensor_readings", PARTITIONS)
    assert all(rows.values()), rows
