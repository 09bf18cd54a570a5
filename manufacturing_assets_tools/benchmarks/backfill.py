"""Backfill benchmark (``manufacturing-assets benchmark --backfill``): 3 plants x 60 days of
the sample (small volumes, every stream, bad input included), the whole graph materialized
by `manufacturing-assets run --no-generate` in a child process. Prints seconds per plant-day
and the peak memory of the run; the goal is under 1 s per plant-day with memory that does
not grow with the number of days (compare ``--days 20`` and ``--days 60``).
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets_tools.generator import GeneratorConfig, generate_landing_zone
from manufacturing_assets_tools.generator.config import DEFAULT_PLANTS, PlantSpec

from .timing import run_pipeline_child

PLANTS = (*DEFAULT_PLANTS, PlantSpec("P03", "Pune Moulding Plant", "APAC", "IN", "Asia/Kolkata"))
START = date(2024, 3, 1)


def run_backfill(workdir: Path, days: int = 60) -> dict:
    config = GeneratorConfig(
        start_date=START,
        days=days,
        plants=PLANTS,
        machines_per_plant=2,
        readings_per_machine_per_day=96,
        shots_per_machine_per_day=50,
        bad_per_kind=(1, 2),
    )
    t0 = time.perf_counter()
    generate_landing_zone(LandingZone(root=str(workdir / "landing")), config)
    plant_days = len(PLANTS) * days
    print(f"landing zone: {len(PLANTS)} plants x {days} days ({time.perf_counter() - t0:.1f} s)")
    proc, seconds, peak_mb = run_pipeline_child(
        workdir, "2024-02-28", ("  P", "master data", "Checks:")
    )
    print(
        f"backfill {plant_days} plant-days: {seconds:.1f} s, {seconds / plant_days:.2f} s per "
        f"plant-day, peak RSS {peak_mb:,.0f} MB (goal: < 1 s per plant-day)",
        flush=True,
    )
    return {"plant_days": plant_days, "seconds": seconds, "peak_mb": peak_mb}
