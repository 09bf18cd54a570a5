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
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import narwhals as nw
import polars as pl

from manufacturing_assets.assets.bronze import iter_bronze, read_bronze
from manufacturing_assets.assets.silver import device_bucket, device_buckets
from manufacturing_assets.ingest.readers import bronze_columns
from manufacturing_assets.io_managers.delta import (
    FrameChunks,
    scan_delta,
    write_delta_chunks,
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
        # as the asset does: files read in chunks, written chunk by chunk by the IO manager
        chunks = iter_bronze(landing, "sensor_readings", {PLANT: [DAY]}, datetime.now(UTC), {})
        empty = bronze_columns("sensor_readings")
        result = write_delta_chunks(
            str(lake / "bronze/sensor_readings"), FrameChunks(chunks, empty), part
        )
        return result.row_count

    total = time.perf_counter()
    timed("bronze (files -> delta)", lambda r: r, bronze_stage, report)

    def silver_stage() -> int:
        # as the asset does: a lazy scan of the partitions, device buckets, chunked writes
        bronze = scan_delta(str(lake / "bronze/sensor_readings"), None, part)
        buckets = device_buckets(bronze.select(pl.len()).collect().item())
        quarantines: list[pl.DataFrame] = []

        def chunks() -> Iterator[pl.DataFrame]:
            for k in range(buckets):
                rows = bronze.filter(device_bucket(buckets) == k) if buckets > 1 else bronze
                result = silver_sensor_readings(nw.from_native(rows), TZ, [DAY])
                quarantines.append(collect_polars(result.quarantine))
                yield collect_polars(result.silver)

        written = write_delta_chunks(
            str(lake / "silver/sensor_readings"), FrameChunks(chunks(), {}), silver_part
        )
        quarantine = pl.concat(quarantines, how="diagonal_relaxed")
        write_delta_partitions(str(lake / "quarantine/sensor_readings"), quarantine, silver_part)
        return written.row_count + quarantine.height

    timed("silver (delta -> delta)", lambda r: r, silver_stage, report)

    def gold_stage() -> int:
        # as the asset does: a lazy scan, so only the needed columns are read
        silver = scan_delta(str(lake / "silver/sensor_readings"), None, silver_part)
        gold = collect_polars(gold_sensor_hourly(nw.from_native(silver)))
        write_delta_partitions(str(lake / "gold/sensor_hourly"), gold, silver_part)
        return int(gold["readings"].sum())

    timed("gold (delta -> delta)", lambda r: r, gold_stage, report)
    seconds = time.perf_counter() - total
    print(
        f"{'landing -> gold total':<28} {n:>12,} rows {seconds:8.2f} s {n / seconds:>14,.0f} rows/s   peak RSS {peak_rss_mb():,.0f} MB"
    )
    return report


def run_benchmark(args: argparse.Namespace) -> None:
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="ma-bench-"))
    if getattr(args, "production", False):  # issue 3: production streams only
        try:
            print(f"polars {pl.__version__}, {pl.thread_pool_size()} threads, in {workdir}")
            benchmark_production(workdir)
        finally:
            if not args.workdir:
                shutil.rmtree(workdir, ignore_errors=True)
        return
    print(
        f"benchmark: {args.readings:,} sensor readings, one plant-day, {args.files} files, in {workdir}"
    )
    print(f"polars {pl.__version__}, {pl.thread_pool_size()} threads")
    try:
        benchmark_sensor_readings(workdir, args.readings, args.files)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def benchmark_production(workdir: Path, shots: int = 1_000_000, machines: int = 200) -> None:
    """Issue 3: one plant-day of shots, machine events and inspections, landing -> facts.

    Same calls as `assets/production_silver.py`, `assets/production_gold.py` and
    `assets/marts.py` (Narwhals on Polars, streaming collect), in memory (no Delta IO).
    """
    from manufacturing_assets.assets.marts import (
        compute_fact,
        or_empty,
        reference_schema,
    )
    from manufacturing_assets.assets.production_gold import _of_plant
    from manufacturing_assets.assets.production_silver import (
        EVENT_COLUMNS,
        _activity,
        plant_rows,
        reference_frame,
    )
    from manufacturing_assets.contract import REFERENCE_ENTITIES
    from manufacturing_assets.generator.production_benchmark import (
        generate_production_benchmark,
    )
    from manufacturing_assets.ingest.readers import bronze_columns
    from manufacturing_assets.ingest.reference import read_reference
    from manufacturing_assets.resources.engine import EngineResource
    from manufacturing_assets.transforms.dimensions import (
        DIMENSIONS,
        build_dim_mold,
        build_dimension,
    )
    from manufacturing_assets.transforms.machine_events import (
        machine_state_intervals,
        silver_machine_events,
    )
    from manufacturing_assets.transforms.master_data import reference_for_dates
    from manufacturing_assets.transforms.oee import (
        gold_loss_daily,
        gold_oee_daily,
        gold_run_rate_hourly,
        machine_days,
    )
    from manufacturing_assets.transforms.quality_inspections import silver_quality_inspections
    from manufacturing_assets.transforms.shots import silver_shots

    def lazy(frame: pl.DataFrame) -> Any:
        return nw.from_native(frame.lazy())

    landing = LandingZone(root=str(workdir / "landing"))
    engine = EngineResource()  # polars: the same lazy/collect as above
    dates = [DAY]
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
            lambda s=stream: read_bronze(landing, s, {PLANT: dates}, now)[0],
            report,
        )

    def rows(stream: str) -> nw.LazyFrame[Any]:
        return lazy(plant_rows(bronze[stream], PLANT, bronze_columns(stream)))

    def master(entity: str) -> Any:
        return reference_for_dates(lazy(reference_frame(ref[entity], entity)), dates, TZ)

    def silver_stage(result: Any) -> tuple[pl.DataFrame, pl.DataFrame]:
        return collect_polars(result.silver), collect_polars(result.quarantine)

    def height2(out: tuple[pl.DataFrame, pl.DataFrame]) -> int:
        return out[0].height + out[1].height

    shots_s, _ = timed(
        "silver shots",
        height2,
        lambda: silver_stage(silver_shots(rows("shots"), TZ, dates, master("mold_assignments"))),
        report,
    )
    events_s, _ = timed(
        "silver machine_events",
        height2,
        lambda: silver_stage(silver_machine_events(rows("machine_events"), TZ, dates)),
        report,
    )
    insp_s, _ = timed(
        "silver quality_inspections",
        height2,
        lambda: silver_stage(silver_quality_inspections(rows("quality_inspections"), TZ, dates)),
        report,
    )

    def intervals_stage() -> pl.DataFrame:
        active = pl.concat([_activity(shots_s, PLANT), _activity(insp_s, PLANT)]).unique()
        window = plant_rows(events_s, PLANT, {}).select(EVENT_COLUMNS)
        result = machine_state_intervals(lazy(window), lazy(active), PLANT, TZ, dates)
        return collect_polars(result)

    intervals = timed("silver state intervals", lambda f: f.height, intervals_stage, report)
    of = {
        "intervals": lazy(_of_plant(intervals, "intervals", PLANT)),
        "events": lazy(_of_plant(events_s, "events", PLANT)),
        "shots": lazy(_of_plant(shots_s, "shots", PLANT)),
        "inspections": lazy(_of_plant(insp_s, "inspections", PLANT)),
    }
    oee = timed(
        "gold oee_daily",
        lambda f: f.height,
        lambda: collect_polars(
            gold_oee_daily(
                of["intervals"],
                of["events"],
                of["shots"],
                of["inspections"],
                master("molds"),
                TZ,
                dates,
            )
        ),
        report,
    )
    timed(
        "gold run_rate_hourly",
        lambda f: f.height,
        lambda: collect_polars(
            gold_run_rate_hourly(
                of["intervals"],
                of["shots"],
                master("molds"),
                master("mold_assignments"),
                TZ,
                dates,
                machine_days(of["events"], of["shots"], of["inspections"]),
            )
        ),
        report,
    )
    timed(
        "gold loss_daily",
        lambda f: f.height,
        lambda: collect_polars(
            gold_loss_daily(
                lazy(_of_plant(oee, "oee", PLANT)),
                of["inspections"],
                master("molds"),
                master("parts"),
                master("mold_parts"),
                master("mold_assignments"),
                TZ,
                dates,
            )
        ),
        report,
    )

    def dims_stage() -> dict[str, pl.DataFrame]:
        out = {
            name: collect_polars(
                build_dimension(lazy(or_empty(ref[s.entity], reference_schema(s.entity))), s)
            )
            for name, s in DIMENSIONS.items()
            if name != "mold"
        }
        out["mold"] = collect_polars(
            build_dim_mold(
                lazy(or_empty(ref["molds"], reference_schema("molds"))),
                lazy(or_empty(ref["mold_parts"], reference_schema("mold_parts"))),
            )
        )
        return out

    dims = timed(
        "marts dimensions (6)", lambda d: sum(f.height for f in d.values()), dims_stage, report
    )
    machine_dims = {k: dims[k] for k in ("plant", "line", "machine")}
    for fact, upstream, needed in (
        ("fact_shot", shots_s, {**machine_dims, "mold": dims["mold"], "part": dims["part"]}),
        ("fact_machine_state", intervals, machine_dims),
        ("fact_oee_daily", oee, machine_dims),
    ):
        timed(
            f"marts {fact}",
            lambda f: f.height,
            lambda f=fact, u=upstream, n=needed: compute_fact(f, engine, u, n),
            report,
        )
    seconds = time.perf_counter() - total
    n = manifest["shots"] + manifest["machine_events"] + manifest["quality_inspections"]
    print(
        f"{'landing -> facts total':<28} {n:>12,} rows {seconds:8.2f} s {n / seconds:>14,.0f} rows/s   peak RSS {peak_rss_mb():,.0f} MB   (goal: < 30 s, < 2,048 MB)",
        flush=True,
    )
