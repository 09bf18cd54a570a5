"""Warehouse benchmark (``manufacturing-assets benchmark --warehouse``): 1M ``marts/fact_shot``
rows of one plant-day, written to Delta, then published from Delta to each warehouse the way
the warehouse asset does (lazy Delta scan -> Parquet -> bulk load, partition-scoped DELETE and
load in one transaction): into a DuckDB file, and into a fakesnow server (Snowflake's HTTP
protocol, the real connector, ``PUT`` + ``COPY INTO``).

Each publish runs in a fresh process (``spawn``), so its peak memory is its own; the fakesnow
server is a process of its own too and its peak is printed apart. Two loads per backend: the
first creates the table, the second replaces the plant-day (the steady state: DELETE of 1M
rows + load). Goals (issue 11): >= 500K rows/s into DuckDB, >= 200K rows/s into the fakesnow
server, under 1 GB peak.
"""

from __future__ import annotations

import multiprocessing
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from manufacturing_assets.catalogue import table
from manufacturing_assets.io_managers.delta import write_delta_partitions
from manufacturing_assets_tools.benchmarks.timing import DAY, PLANT, peak_rss_mb
from manufacturing_assets_tools.snowflake_server import fakesnow_server
from manufacturing_assets_tools.synthetic import synthetic_rows

ROWS = 1_000_000
FACT_SHOT = table("marts/fact_shot")
GOALS = {"duckdb": 500_000, "snowflake": 200_000}


def _publish_in_child(env: dict[str, str], lake_uri: str, loads: int) -> dict[str, Any]:
    """In a fresh process: publish the plant-day ``loads`` times; seconds of each, peak RSS."""
    from manufacturing_assets.environment import Settings
    from manufacturing_assets.io_managers.delta import scan_delta

    warehouse = Settings.from_env(env).warehouse_io_manager().warehouse()
    partitions = [{"plant_id": PLANT, "production_date": DAY}]
    seconds, rows = [], 0
    for _ in range(loads):
        lazy = scan_delta(lake_uri, None, partitions)
        assert lazy is not None
        started = time.perf_counter()
        result = warehouse.publish(FACT_SHOT, lazy, partitions)
        seconds.append(time.perf_counter() - started)
        rows = result.partition_rows.get((PLANT, DAY), 0)
    return {
        "seconds": seconds,
        "rows": rows,
        "table": warehouse.display_name(FACT_SHOT),
        "peak_mb": process_peak_mb(),
    }


def process_peak_mb() -> float:
    """This process's peak resident memory since it started (``VmHWM``; ``ru_maxrss`` would
    count the parent's memory copied at fork), MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run(env: dict[str, str], lake_uri: str, loads: int = 2) -> dict[str, Any]:
    spawn = multiprocessing.get_context("spawn")  # delta-rs must not be forked
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        return pool.submit(_publish_in_child, env, lake_uri, loads).result()


def _report(backend: str, out: dict[str, Any], extra: str = "") -> None:
    for label, seconds in zip(
        ("first load (creates)", "re-publish (replaces)"), out["seconds"], strict=False
    ):
        rate = out["rows"] / seconds if seconds else 0.0
        goal = GOALS[backend]
        verdict = "ok" if rate >= goal else f"BELOW the {goal:,} rows/s goal"
        print(
            f"{backend:<10} {label:<22} {out['rows']:>10,} rows {seconds:7.2f} s "
            f"{rate:>12,.0f} rows/s  ({verdict})",
            flush=True,
        )
    memory = "ok" if out["peak_mb"] < 1024 else "ABOVE the 1 GB goal"
    print(
        f"{backend:<10} peak RSS of the publishing process {out['peak_mb']:,.0f} MB ({memory}){extra}"
    )


def run_warehouse_benchmark(workdir: Path, rows: int = ROWS) -> dict[str, Any]:
    """Generate ``rows`` fact_shot rows into Delta, publish them to DuckDB and to fakesnow."""
    print(f"warehouse benchmark: {rows:,} marts/fact_shot rows of {PLANT} {DAY}, in {workdir}")
    started = time.perf_counter()
    frame = synthetic_rows(FACT_SHOT, rows, [(PLANT, DAY)])
    lake_uri = str(workdir / "lake" / "marts" / "fact_shot")
    write_delta_partitions(lake_uri, frame, [{"plant_id": PLANT, "production_date": DAY}])
    del frame
    print(
        f"Delta source written in {time.perf_counter() - started:.1f} s "
        f"(peak RSS of this process {peak_rss_mb():,.0f} MB)",
        flush=True,
    )
    results: dict[str, Any] = {}
    env = {"MA_DATA_DIR": str(workdir), "MA_LAKE_ROOT": str(workdir / "lake")}
    results["duckdb"] = _run(env, lake_uri)
    _report("duckdb", results["duckdb"], f"; {results['duckdb']['table']}")
    with fakesnow_server(workdir / "fakesnow") as server:
        results["snowflake"] = _run(env | server.env(database="BENCH"), lake_uri)
        server_mb = server.peak_rss_mb()
    extra = f"; fakesnow server peak {server_mb:,.0f} MB" if server_mb else ""
    _report("snowflake", results["snowflake"], extra)
    return results
