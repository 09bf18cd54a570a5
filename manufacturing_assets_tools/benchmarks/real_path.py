"""The path users run, measured: `manufacturing-assets run --no-generate` on a landing zone
of N sensor readings for one plant-day (``manufacturing-assets benchmark --real-path``).

The landing zone has ``files`` JSON-lines files (every 4th gzipped), one re-delivered file
(the same content under another name) and a master-data snapshot naming the plant. The run
is a child process (the assets through Dagster, exactly as users run them); the benchmark
prints its wall time, its phases (from the run's own progress lines) and the peak resident
memory of the process tree.
"""

from __future__ import annotations

import time
from pathlib import Path

from manufacturing_assets.resources.landing_zone import LandingZone

from .sensor_readings_data import generate_sensor_readings_benchmark
from .timing import DAY, PLANT, TZ, run_pipeline_child

PLANTS_CSV = f"plant_id,plant_name,region,country,timezone\n{PLANT},Bench Works,EMEA,DE,{TZ}\n"


def prepare(workdir: Path, n: int, files: int) -> dict:
    landing = LandingZone(root=str(workdir / "landing"))
    manifest = generate_sensor_readings_benchmark(landing, PLANT, DAY, n, files=files)
    first = manifest["files"][0]["key"]
    landing.write_bytes(first.replace("bench-", "redelivered-"), landing.read_bytes(first))
    landing.write_bytes("reference/plants/snapshot_date=2024-03-01/plants.csv", PLANTS_CSV.encode())
    return manifest


def run_real_path(workdir: Path, n: int, files: int) -> dict:
    """Generate, then run the pipeline in a child process; print and return the figures."""
    t0 = time.perf_counter()
    prepare(workdir, n, files)
    print(
        f"landing zone: {n:,} readings in {files} files + 1 re-delivery ({time.perf_counter() - t0:.1f} s)"
    )
    proc, seconds, peak_mb = run_pipeline_child(
        workdir,
        "2024-03-01",
        ("  P", "master data", "bronze", "silver,", "bronze/sensor", "silver/sensor"),
    )
    print(
        f"{'run --no-generate total':<28} {n:>12,} rows {seconds:8.2f} s "
        f"{n / seconds:>14,.0f} rows/s   peak RSS {peak_mb:,.0f} MB (largest process of the run)",
        flush=True,
    )
    return {"rows": n, "seconds": seconds, "peak_mb": peak_mb, "returncode": proc.returncode}
