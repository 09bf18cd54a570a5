"""Spark drivers run as their own processes by ``test_spark_engine.py`` (one JVM per
process: a test process already holds a local session), and a standalone cluster started
from the installed ``pyspark``.

``python -m manufacturing_assets_tests.spark_driver graph MASTER LAKE LANDING PLANT:DAY...``
runs the Spark graph and prints one JSON line (rows per table, the Python driver's peak
heap from ``tracemalloc`` and peak RSS); ``... hang MASTER LAKE`` writes two partitions of
a table and stops between the Parquet write and the Delta commit (prints ``WRITTEN``).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import tracemalloc
from contextlib import contextmanager, suppress
from datetime import date
from pathlib import Path
from typing import Any

import pyspark

from manufacturing_assets.spark.session import SMALL_DATA_CONF


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spark_env() -> dict[str, str]:
    home = os.path.dirname(pyspark.__file__)
    return {
        **os.environ,
        "SPARK_HOME": home,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
    }


def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s")


@contextmanager
def standalone_cluster(workdir: Path, cores: int = 1, memory: str = "1g"):
    """A Spark standalone master and one worker on 127.0.0.1 (free ports), each in its
    own process group; yields the master URL."""
    env = spark_env()
    spark_class = os.path.join(env["SPARK_HOME"], "bin", "spark-class")
    port, ui, worker_ui = free_port(), free_port(), free_port()
    url = f"spark://127.0.0.1:{port}"
    workdir.mkdir(parents=True, exist_ok=True)
    logs: list[Any] = []
    procs: list[subprocess.Popen] = []

    def start(role: str, args: list[str], ready: bytes) -> None:
        """Start a Spark daemon (its own process group, log in ``workdir/<role>.log``) and
        wait until its log says ``ready``."""
        log_path = workdir / f"{role}.log"
        logs.append(open(log_path, "wb"))  # noqa: SIM115
        procs.append(
            subprocess.Popen(
                [spark_class, *args], env=env, stdout=logs[-1], stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )  # fmt: skip
        _wait_for(lambda: ready in log_path.read_bytes(), 120, f"Spark {role}")

    try:
        start(
            "master",
            ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
             "--port", str(port), "--webui-port", str(ui)],
            b"I have been elected leader",
        )  # fmt: skip
        start(
            "worker",
            ["org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1",
             "--cores", str(cores), "--memory", memory, "--webui-port", str(worker_ui),
             "--work-dir", str(workdir / "work")],
            b"Successfully registered with master",
        )  # fmt: skip
        yield url
    finally:
        for proc in reversed(procs):
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for log in logs:
            log.close()


# the tests' data is tiny: the small-data settings (spark/session.py)
TEST_CONF = dict(SMALL_DATA_CONF)


def run_driver(args: list[str], timeout: float = 900) -> dict[str, Any]:
    """Run this module as a driver process; its last stdout line is JSON."""
    proc = subprocess.run(
        [sys.executable, "-m", "manufacturing_assets_tests.spark_driver", *args],
        env=spark_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"driver failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _graph(master: str, lake_root: str, landing_root: str, targets: list[str]) -> None:
    from manufacturing_assets.resources.landing_zone import LandingZone
    from manufacturing_assets.spark.graph import SparkLake, run_graph
    from manufacturing_assets.spark.session import get_session

    plants_dates: dict[str, list[date]] = {}
    for target in targets:
        plant, _, day = target.partition(":")
        plants_dates.setdefault(plant, []).append(date.fromisoformat(day))
    spark = get_session(master, TEST_CONF)
    tracemalloc.start()
    rows = run_graph(
        SparkLake(spark, lake_root),
        LandingZone(root=landing_root),
        plants_dates,
        layers=("bronze", "silver", "gold"),
        log=lambda message: print(f"[driver] {message}", file=sys.stderr, flush=True),
    )
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    executors = spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size()  # noqa: SLF001
    print(
        json.dumps(
            {
                "rows": rows,
                "python_heap_peak_bytes": peak,
                "driver_rss_peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                "master": spark.sparkContext.master,
                "block_managers": executors,
            }
        ),
        flush=True,
    )
    spark.stop()


def _hang(master: str, lake_root: str) -> None:
    from manufacturing_assets.spark.delta import write_partitions
    from manufacturing_assets.spark.session import get_session

    spark = get_session(master, TEST_CONF)
    frame = spark.createDataFrame(
        [("P01", date(2024, 3, 4), 99.0), ("P02", date(2024, 3, 4), 99.0)],
        "plant_id string, production_date date, value double",
    )
    parts = [{"plant_id": p, "production_date": date(2024, 3, 4)} for p in ("P01", "P02")]

    def stop_here(staging: str) -> None:
        print(f"WRITTEN {staging}", flush=True)
        time.sleep(600)

    write_partitions(frame, lake_root, parts, before_commit=stop_here)


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    if command == "graph":
        _graph(rest[0], rest[1], rest[2], rest[3:])
    elif command == "hang":
        _hang(rest[0], rest[1])
    else:
        raise SystemExit(f"unknown command {command}")
