"""`manufacturing-assets benchmark`: time each stage on one plant-day and print figures.

Sensor readings by default (:mod:`.sensor_readings`), the production streams with
``--production`` (:mod:`.production`), the warehouse loads with ``--warehouse``
(:mod:`.warehouse`).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from .profile import print_profile


def run_benchmark(args: argparse.Namespace) -> None:
    # each benchmark imported only when run: one's imports never break the other
    if getattr(args, "warehouse", False):  # issue 11: Delta -> DuckDB and fakesnow, 1M rows
        from .warehouse import run_warehouse_benchmark

        with _workdir(args) as workdir:
            run_warehouse_benchmark(workdir)
        return
    if getattr(args, "backfill", False):  # issue 10: 3 plants x N days, the whole graph
        from .backfill import run_backfill

        with _workdir(args) as workdir:
            run_backfill(workdir, args.days)
            if getattr(args, "profile", False):
                print_profile(workdir / "dagster_home")
        return
    if getattr(args, "real_path", False):  # issue 10: the path users run, through Dagster
        from .real_path import run_real_path

        with _workdir(args) as workdir:
            print(f"real path: {args.readings:,} readings, {args.files} files, in {workdir}")
            run_real_path(workdir, args.readings, args.files)
            if getattr(args, "profile", False):
                print_profile(workdir / "dagster_home")
        return
    if getattr(args, "production", False):  # issue 3: production streams only
        from .production import benchmark_production

        with _workdir(args) as workdir:
            print(f"polars {pl.__version__}, {pl.thread_pool_size()} threads, in {workdir}")
            benchmark_production(workdir)
        return
    if getattr(args, "engine", "polars") == "spark":  # issue 14
        import os

        from .spark_engine import benchmark_sensor_readings_spark

        with _workdir(args) as workdir:
            print(f"benchmark on Spark: {args.readings:,} sensor readings, in {workdir}")
            master = os.environ.get("MA_SPARK_MASTER", "local[2]")
            benchmark_sensor_readings_spark(workdir, args.readings, args.files, master)
        return
    from .sensor_readings import benchmark_sensor_readings

    with _workdir(args) as workdir:
        print(
            f"benchmark: {args.readings:,} sensor readings, one plant-day, {args.files} files, in {workdir}"
        )
        print(f"polars {pl.__version__}, {pl.thread_pool_size()} threads")
        benchmark_sensor_readings(workdir, args.readings, args.files)


@contextmanager
def _workdir(args: argparse.Namespace) -> Iterator[Path]:
    """``--workdir`` (kept), else a temporary folder (removed afterwards)."""
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="ma-bench-"))
    try:
        yield workdir
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
