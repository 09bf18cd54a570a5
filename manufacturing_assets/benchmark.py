"""`manufacturing-assets benchmark`: time each stage on one plant-day and print figures.

Runs the same code the assets run (bronze reader, Narwhals transformations on Polars, the
Delta IO functions), stage by stage, and prints rows per second per stage and the peak
resident memory of the process. Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import narwhals as nw
import polars as pl

from manufacturing_assets.assets.bronze import read_bronze
from manufacturing_assets.io_managers.delta import (
    read_delta_partitions,
    scan_delta,
    write_delta_partitions,
)
from manufacturing_assets.resources.engine import collect_polars
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets.transforms.sensor_readings import (
    gold_sensor_hourly,
    silver_sensor_readings,
)

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


def benchmark_sensor_readings(workdir: Path, n: int, files: int) -> list[tuple[str, int, float]]:
    from manufacturing_assets.generator import generate_sensor_readings_benchmark

    landing = LandingZone(root=str(workdir / "landing"))
    lake = workdir / "lake"
    report: list[tuple[str, int, float]] = []
    timed(
        "generate landing files",
        lambda _: n,
        lambda: generate_sensor_readings_benchmark(landing, PLANT, DAY, n, files=files),
        [],
    )
    part = [{"plant_id": PLANT, "landing_date": DAY}]
    silver_part = [{"plant_id": PLANT, "production_date": DAY}]

    def bronze_stage() -> int:
        frame, _ = read_bronze(landing, "sensor_readings", {PLANT: [DAY]}, datetime.now(UTC))
        write_delta_partitions(str(lake / "bronze/sensor_readings"), frame, part)
        return frame.height

    total = time.perf_counter()
    timed("bronze (files -> delta)", lambda r: r, bronze_stage, report)

    def silver_stage() -> int:
        # as the asset does: a lazy scan of the partitions, streaming collect
        bronze = scan_delta(str(lake / "bronze/sensor_readings"), None, part)
        result = silver_sensor_readings(nw.from_native(bronze), TZ, [DAY])
        silver = collect_polars(result.silver)
        quarantine = collect_polars(result.quarantine)
        write_delta_partitions(str(lake / "silver/sensor_readings"), silver, silver_part)
        write_delta_partitions(str(lake / "quarantine/sensor_readings"), quarantine, silver_part)
        return silver.height + quarantine.height

    timed("silver (delta -> delta)", lambda r: r, silver_stage, report)

    def gold_stage() -> int:
        silver = read_delta_partitions(
            str(lake / "silver/sensor_readings"), None, None, [PLANT], [DAY]
        )
        gold = (
            gold_sensor_hourly(nw.from_native(silver.lazy())).collect(backend="polars").to_native()
        )
        write_delta_partitions(str(lake / "gold/sensor_hourly"), gold, silver_part)
        return silver.height

    timed("gold (delta -> delta)", lambda r: r, gold_stage, report)
    seconds = time.perf_counter() - total
    print(
        f"{'landing -> gold total':<28} {n:>12,} rows {seconds:8.2f} s {n / seconds:>14,.0f} rows/s   peak RSS {peak_rss_mb():,.0f} MB"
    )
    return report


def run_benchmark(args: argparse.Namespace) -> None:
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="ma-bench-"))
    print(
        f"benchmark: {args.readings:,} sensor readings, one plant-day, {args.files} files, in {workdir}"
    )
    print(f"polars {pl.__version__}, {pl.thread_pool_size()} threads")
    try:
        benchmark_sensor_readings(workdir, args.readings, args.files)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
