"""What every benchmark shares: the plant-day it runs on and the timed report line.

Each stage prints rows, seconds, rows per second and the peak resident memory of the
process so far. Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

PLANT = "P01"
DAY = date(2024, 3, 4)
TZ = "Europe/Berlin"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, rows: Callable[[Any], int], fn: Callable[[], Any], report: list) -> Any:
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    n = rows(out)
    report.append((label, n, seconds))
    print(
        f"{label:<28} {n:>12,} rows {seconds:8.2f} s {n / seconds if seconds else 0:>14,.0f} rows/s   peak RSS {peak_rss_mb():,.0f} MB",
        flush=True,
    )
    return out


def run_pipeline_child(
    workdir: Path, start_date: str, show: tuple[str, ...]
) -> tuple[subprocess.CompletedProcess, float, float]:
    """`manufacturing-assets run --no-generate` on ``workdir`` in a child process (the path
    users run, through Dagster): (process, seconds, peak RSS MB of the run). Prints the
    run's lines that start with one of ``show``, and its output tail if it failed."""
    env = {
        **os.environ,
        "MA_DATA_DIR": str(workdir),
        "DAGSTER_HOME": str(workdir / "dagster_home"),
        "MA_START_DATE": start_date,
    }
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "manufacturing_assets.cli", "run", "--no-generate"],
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    for line in proc.stdout.splitlines():
        if line.startswith(show):
            print(f"  | {line}")
    if proc.returncode:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
    return proc, seconds, peak_mb
