"""The data-quality history ``ops/data_quality_results``: one row per check evaluation.

- after the sample run (the shared session run, read-only: rows are collected from its
  instance into a table of this test's own), the table holds exactly the evaluations the
  run reported, once each; collecting again adds nothing;
- through Dagster (``data_quality_job``'s two assets, DuckDB warehouse): evaluations are
  appended incrementally and the warehouse answers "how often did P02 fail the range check"
  in SQL.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    DagsterInstance,
    Definitions,
    asset,
    define_asset_job,
)

from manufacturing_assets.assets.ops import ops_assets
from manufacturing_assets.definitions import defs
from manufacturing_assets.io_managers.delta import DeltaLakeIOManager
from manufacturing_assets.io_managers.warehouse import WarehouseIOManager
from manufacturing_assets.ops.quality_history import collect, read_results


def test_one_row_per_evaluation_of_the_sample_run(sample_run: dict, tmp_path: Path) -> None:
    instance = sample_run["instance"]
    keys = sorted(defs.get_repository_def().asset_graph.asset_check_keys, key=str)
    uri = str(tmp_path / "ops" / "data_quality_results")
    read, inserted, cursor = collect(instance, keys, uri)
    table = read_results(uri)
    assert read == inserted == table.height > 0
    assert table["evaluation_id"].n_unique() == table.height

    # exactly the evaluations the run reported (plus the landing-zone check, runless)
    # (the report names a plant-day "P01 2024-03-30" and an unpartitioned check by its run)
    def reported_partition(text: str) -> str | None:
        return text if re.fullmatch(r"\S+ \d{4}-\d{2}-\d{2}", text) else None

    reported = Counter(
        (c["asset"], c["check"], reported_partition(c["partition"]), c["passed"], c["severity"])
        for c in sample_run["report"].checks
    )
    stored = Counter(
        (
            r["asset"],
            r["rule"],
            " ".join(reversed(r["partition_key"].split("|"))) if r["partition_key"] else None,
            r["passed"],
            r["severity"],
        )
        for r in table.filter(
            (pl.col("asset") != "landing_zone")
            & pl.col("run_id").is_in(sorted(sample_run["run_ids"]))
        ).iter_rows(named=True)
    )
    assert stored == reported
    assert table.filter(pl.col("asset") == "landing_zone")["rule"].to_list() == ["unroutable_files"]
    # plant-day rows name plant and date; every row has its measured numbers as JSON
    silver = table.filter(pl.col("rule") == "pandera_SilverSensorReadings")
    assert silver.height > 0 and silver["plant_id"].null_count() == 0
    assert silver["production_date"].null_count() == 0
    assert all(m.startswith("{") for m in table["measured"])

    # collecting again (from the cursor, or from scratch) adds nothing
    assert collect(instance, keys, uri, cursor=cursor)[:2] == (0, 0)
    assert collect(instance, keys, uri)[1] == 0
    assert read_results(uri).height == table.height


@asset(key=["silver", "x"], check_specs=[AssetCheckSpec("range", asset=["silver", "x"])])
def silver_x():
    return None


def evaluation(plant: str, day: str, passed: bool, failures: int) -> AssetCheckEvaluation:
    return AssetCheckEvaluation(
        asset_key=AssetKey(["silver", "x"]),
        check_name="range",
        passed=passed,
        partition=f"{day}|{plant}",
        severity=AssetCheckSeverity.ERROR,
        metadata={"failures": failures, "rows": 100, "threshold": 0},
    )


def test_job_appends_evaluations_and_publishes_them_to_the_warehouse(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    resources: dict[str, Any] = {
        "io_manager": DeltaLakeIOManager(root_uri=str(tmp_path / "lake")),
        "warehouse_io_manager": WarehouseIOManager(
            backend="duckdb", duckdb_path=str(tmp_path / "warehouse.duckdb")
        ),
    }
    ops = ops_assets("duckdb", check_keys=[AssetCheckKey(AssetKey(["silver", "x"]), "range")])
    selection = [AssetKey(["ops", "data_quality_results"]), AssetKey(["warehouse", "data_quality_results"])]  # fmt: skip
    sql = (
        "select count(*) filter (where not passed), count(*), sum(failures) "
        "from ops.data_quality_results where plant_id = 'P02' and rule = 'range' "
        "and production_date between date '2024-03-01' and date '2024-03-31'"
    )
    with DagsterInstance.local_temp(str(tmp_path / "home")) as instance:
        for plant, day, passed, failures in [
            ("P01", "2024-03-04", True, 0),
            ("P02", "2024-03-04", False, 3),
            ("P02", "2024-03-05", True, 0),
            ("P02", "2024-03-06", False, 7),
            ("P02", "2024-04-01", False, 1),  # next month
        ]:
            instance.report_runless_asset_event(evaluation(plant, day, passed, failures))
        job = Definitions(
            assets=[*ops, silver_x],
            jobs=[define_asset_job("dq", selection=selection)],
            resources=resources,
        ).resolve_job_def("dq")
        run = job.execute_in_process(instance=instance)
        assert run.success
        with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
            assert con.execute(sql).fetchone() == (2, 3, 10)
            assert con.execute("select count(*) from ops.data_quality_results").fetchone() == (5,)

        instance.report_runless_asset_event(evaluation("P02", "2024-03-07", False, 2))
        again = job.execute_in_process(instance=instance)
        assert again.success
        [dq] = [
            m for m in again.get_asset_materialization_events()
            if m.asset_key == AssetKey(["ops", "data_quality_results"])
        ]  # fmt: skip
        meta = dq.step_materialization_data.materialization.metadata
        assert (meta["evaluations_read"].value, meta["rows_appended"].value) == (1, 1)
        with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
            assert con.execute(sql).fetchone() == (3, 4, 12)
            assert con.execute("select count(*) from ops.data_quality_results").fetchone() == (6,)

        with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
            ids = con.execute("select min(evaluation_id) from ops.data_quality_results").fetchone()

    # a new instance (a redeploy on a fresh database) numbers its evaluations from 1 again:
    # the history keeps them next to the old ones
    (tmp_path / "home2").mkdir()
    with DagsterInstance.local_temp(str(tmp_path / "home2")) as fresh:
        fresh.report_runless_asset_event(evaluation("P02", "2024-03-08", False, 4))
        assert job.execute_in_process(instance=fresh).success
        with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
            assert con.execute(sql).fetchone() == (4, 5, 16)
            assert con.execute(
                "select count(*), count(distinct evaluation_id) from ops.data_quality_results"
            ).fetchone() == (7, 6)
            assert ids == (1,)
