"""Sensor-readings benchmark: one plant-day of readings, landing files -> bronze -> silver -> gold.

Runs the same code the assets run (bronze reader, Narwhals transformations on Polars, the
Delta IO functions), stage by stage (``manufacturing-assets benchmark``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from manufacturing_assets.catalogue.bronze import BRONZE
from manufacturing_assets.catalogue.silver import SILVER
from manufacturing_assets.io_managers.delta import (
    FrameChunks,
    scan_delta,
    write_delta_chunks,
    write_delta_partitions,
)
from manufacturing_assets.resources.engine import EngineResource
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets.stages import gold, silver
from manufacturing_assets.stages.bronze import iter_bronze
from manufacturing_assets.stages.plants import PlantDays

from .sensor_readings_data import generate_sensor_readings_benchmark
from .timing import DAY, PLANT, TZ, peak_rss_mb, timed


def benchmark_sensor_readings(workdir: Path, n: int, files: int) -> list[tuple[str, int, float]]:
    """The stages the assets call (``stages/``), with the Delta IO functions the IO
    manager uses, one plant-day, without Dagster around them."""
    landing = LandingZone(root=str(workdir / "landing"))
    lake = workdir / "lake"
    engine = EngineResource()
    plant = PlantDays(PLANT, TZ, (DAY,))
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
        chunks = iter_bronze(landing, "sensor_readings", {PLANT: [DAY]}, datetime.now(UTC), {})
        result = write_delta_chunks(
            str(lake / "bronze/sensor_readings"),
            FrameChunks(chunks, BRONZE["sensor_readings"].schema),
            part,
        )
        return result.row_count

    total = time.perf_counter()
    timed("bronze (files -> delta)", lambda r: r, bronze_stage, report)

    def silver_stage() -> int:
        bronze = scan_delta(str(lake / "bronze/sensor_readings"), None, part)
        quarantines: list[pl.DataFrame] = []

        def chunks():
            for out in silver.silver_sensor_readings(engine, bronze, plant):
                quarantines.append(out.quarantine)
                yield out.silver

        written = write_delta_chunks(
            str(lake / "silver/sensor_readings"),
            FrameChunks(chunks(), SILVER["sensor_readings"].schema),
            silver_part,
        )
        quarantine = pl.concat(quarantines, how="diagonal_relaxed")
        write_delta_partitions(str(lake / "quarantine/sensor_readings"), quarantine, silver_part)
        return written.row_count + quarantine.height

    timed("silver (delta -> delta)", lambda r: r, silver_stage, report)

    def gold_stage() -> int:
        rows = scan_delta(str(lake / "silver/sensor_readings"), None, silver_part)
        hourly = gold.sensor_hourly(engine, rows)
        write_delta_partitions(str(lake / "gold/sensor_hourly"), hourly, silver_part)
        return int(hourly["readings"].sum())

    timed("gold (delta -> delta)", lambda r: r, gold_stage, report)
    seconds = time.perf_counter() - total
    print(
        f"{'landing -> gold total':<28} {n:>12,} rows {seconds:8.2f} s {n / seconds:>14,.0f} rows/s   peak RSS {peak_rss_mb():,.0f} MB"
    )
    return report
