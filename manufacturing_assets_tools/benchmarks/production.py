"""Production benchmark (issue 3): one plant-day of shots, machine events and inspections,
landing -> silver -> state intervals -> gold -> marts (``manufacturing-assets benchmark
--production``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from manufacturing_assets.contract import REFERENCE_ENTITIES
from manufacturing_assets.ingest.reference import read_reference
from manufacturing_assets.resources.engine import EngineResource
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets.stages import gold, marts, silver
from manufacturing_assets.stages.bronze import read_bronze
from manufacturing_assets.stages.plants import PlantDays

from .production_data import generate_production_benchmark
from .timing import DAY, PLANT, TZ, peak_rss_mb, timed


def benchmark_production(workdir: Path, shots: int = 1_000_000, machines: int = 200) -> None:
    """Issue 3: one plant-day of shots, machine events and inspections, landing -> facts.

    The stages the assets call (``stages/``: Narwhals on Polars, streaming collect), in
    memory (no Delta IO, no Dagster).
    """
    landing = LandingZone(root=str(workdir / "landing"))
    engine = EngineResource()
    plant = PlantDays(PLANT, TZ, (DAY,))
    report: list[tuple[str, int, float]] = []
    print(f"production benchmark: {shots:,} shots, {machines} machines, {PLANT} {DAY} ({TZ})")
    manifest = timed(
        "generate landing files",
        lambda m: m["shots"] + m["machine_events"] + m["quality_inspections"] + m["reference"],
        lambda: generate_production_benchmark(
            landing, PLANT, DAY, shots, machines=machines, timezone=TZ
        ),
        [],
    )
    total = time.perf_counter()
    ref: dict[str, pl.DataFrame] = timed(
        "reference (8 entities)",
        lambda r: sum(f.height for f in r.values()),
        lambda: {e: read_reference(landing, e)[0] for e in REFERENCE_ENTITIES},
        report,
    )
    now = datetime.now(UTC)
    bronze: dict[str, pl.DataFrame] = {}
    for stream in ("shots", "machine_events", "quality_inspections"):
        bronze[stream] = timed(
            f"bronze {stream}",
            lambda f: f.height,
            lambda s=stream: read_bronze(landing, s, {PLANT: [DAY]}, now)[0],
            report,
        )

    def height2(out: silver.SilverOutput) -> int:
        return out.silver.height + out.quarantine.height

    shots_s = timed(
        "silver shots",
        height2,
        lambda: silver.silver_shots(engine, bronze["shots"], plant, ref["mold_assignments"]),
        report,
    ).silver
    events_s = timed(
        "silver machine_events",
        height2,
        lambda: silver.silver_machine_events(engine, bronze["machine_events"], plant),
        report,
    ).silver
    insp_s = timed(
        "silver quality_inspections",
        height2,
        lambda: silver.silver_quality_inspections(engine, bronze["quality_inspections"], plant),
        report,
    ).silver
    # bronze is no input of anything after silver (each asset step holds its own inputs)
    bronze.clear()
    no_history = events_s.clear().select(silver.EVENT_COLUMNS)
    intervals = timed(
        "silver state intervals",
        lambda f: f.height,
        lambda: silver.machine_state_intervals(
            engine, events_s, no_history, shots_s, insp_s, plant
        ),
        report,
    )
    production = gold.ProductionSilver(intervals, events_s, shots_s, insp_s)
    oee = timed(
        "gold oee_daily",
        lambda f: f.height,
        lambda: gold.oee_daily(engine, production, plant, ref["molds"]),
        report,
    )
    timed(
        "gold run_rate_hourly",
        lambda f: f.height,
        lambda: gold.run_rate_hourly(
            engine, production, plant, ref["molds"], ref["mold_assignments"]
        ),
        report,
    )
    timed(
        "gold loss_daily",
        lambda f: f.height,
        lambda: gold.loss_daily(engine, oee, insp_s, ref, plant),
        report,
    )

    def dims_stage() -> dict[str, pl.DataFrame]:
        out = {
            name: marts.dimension(engine, name, ref[spec.entity])[0]
            for name, spec in marts.dimensions.DIMENSIONS.items()
            if name != "mold"
        }
        out["mold"] = marts.dim_mold(engine, ref["molds"], ref["mold_parts"])[0]
        return out

    dims = timed(
        "marts dimensions (6)", lambda d: sum(f.height for f in d.values()), dims_stage, report
    )
    for fact, upstream in (
        ("fact_shot", shots_s),
        ("fact_machine_state", intervals),
        ("fact_oee_daily", oee),
    ):
        timed(
            f"marts {fact}",
            lambda f: f.height,
            lambda f=fact, u=upstream: marts.fact(engine, f, u, dims),
            report,
        )
    seconds = time.perf_counter() - total
    n = manifest["shots"] + manifest["machine_events"] + manifest["quality_inspections"]
    print(
        f"{'landing -> facts total':<28} {n:>12,} rows {seconds:8.2f} s {n / seconds:>14,.0f} rows/s   peak RSS {peak_rss_mb():,.0f} MB   (goal: < 30 s, < 2,048 MB)",
        flush=True,
    )
