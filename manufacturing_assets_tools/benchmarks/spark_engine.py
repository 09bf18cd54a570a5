"""Sensor-readings benchmark on Spark (``manufacturing-assets benchmark --engine spark``):
one plant-day of readings, landing files -> bronze -> silver (+ quarantine) -> gold
``sensor_hourly``, with the Spark stages the graph runs (``spark/graph.py``): executors read
the files and the Delta slices and write the Parquet, the driver commits.

Prints seconds per stage, the Python driver's peak RSS (where a ``collect`` would land)
and the peak RSS of the JVM (in ``local[N]`` mode the JVM hosts the executors too, so it
grows with the data; on a cluster it is the driver JVM only).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

from manufacturing_assets.catalogue.bronze import BRONZE
from manufacturing_assets.catalogue.gold import GOLD
from manufacturing_assets.catalogue.quarantine import QUARANTINE
from manufacturing_assets.catalogue.silver import SILVER
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets.spark import bronze as spark_bronze
from manufacturing_assets.spark import graph
from manufacturing_assets.spark.session import get_session, parse_conf
from manufacturing_assets.stages.plants import PlantDays

from .sensor_readings_data import generate_sensor_readings_benchmark
from .timing import DAY, PLANT, TZ, peak_rss_mb, timed


def _jvm_peak_mb() -> float:
    """Peak RSS of the JVM children of this process (VmHWM), MB; 0 when not found."""
    peak = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/status") as handle:
                status = dict(line.split(":", 1) for line in handle if ":" in line)
        except OSError:
            continue
        if status.get("PPid", "").strip() == str(os.getpid()) and "java" in status.get("Name", ""):
            peak = max(peak, int(status.get("VmHWM", "0 kB").split()[0]) / 1024)
    return peak


def benchmark_sensor_readings_spark(
    workdir: Path, n: int, files: int, master: str = "local[2]"
) -> list[tuple[str, int, float]]:
    landing = LandingZone(root=str(workdir / "landing"))
    report: list[tuple[str, int, float]] = []
    timed(
        "generate landing files",
        lambda _: n,
        lambda: generate_sensor_readings_benchmark(landing, PLANT, DAY, n, files=files),
        report,
    )
    landed = sum(f.stat().st_size for f in (workdir / "landing").rglob("*") if f.is_file())
    spark = timed(
        "spark session",
        lambda _: 0,
        lambda: get_session(master, parse_conf(os.environ.get("MA_SPARK_CONF"))),
        report,
    )
    lake = graph.SparkLake(spark, str(workdir / "lake"))
    plant = PlantDays(PLANT, TZ, (DAY,))
    parts = graph.plant_day_values(SILVER["sensor_readings"], PLANT, [DAY])
    total = time.perf_counter()

    def bronze_stage() -> int:
        frame, _ = spark_bronze.read_bronze(
            spark, landing, "sensor_readings", {PLANT: [DAY]}, datetime.now(UTC)
        )
        bronze_parts = graph.plant_day_values(BRONZE["sensor_readings"], PLANT, [DAY])
        return lake.write(BRONZE["sensor_readings"], frame, bronze_parts).row_count

    timed("bronze (files -> delta)", lambda r: r, bronze_stage, report)

    def silver_stage() -> int:
        accepted, rejected = graph.silver(lake, "sensor_readings", plant)
        rows = lake.write(SILVER["sensor_readings"], accepted, parts).row_count
        return rows + lake.write(QUARANTINE["sensor_readings"], rejected, parts).row_count

    timed("silver (delta -> delta)", lambda r: r, silver_stage, report)

    def gold_stage() -> int:
        lake.write(GOLD["sensor_hourly"], graph.gold(lake, "sensor_hourly", plant), parts)
        return lake.read_plant_days(SILVER["sensor_readings"], PLANT, [DAY]).count()

    timed("gold (delta -> delta)", lambda r: r, gold_stage, report)
    seconds = time.perf_counter() - total
    print(
        f"{'landing -> gold total':<28} {n:>12,} rows {seconds:8.2f} s {n / seconds:>14,.0f} rows/s"
        f"   landed {landed / 2**20:,.0f} MB; driver (Python) peak RSS {peak_rss_mb():,.0f} MB;"
        f" JVM peak RSS {_jvm_peak_mb():,.0f} MB ({master})",
        flush=True,
    )
    return report
