"""Fast path for benchmarks: many valid sensor readings for one plant-day, vectorised.

No per-row Python: columns are numpy arrays, rendered to JSON lines by Polars.
"""

from __future__ import annotations

import gzip
import io
from concurrent.futures import ThreadPoolExecutor
from datetime import date as date_type
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from manufacturing_assets_tools.generator.config import DEFAULT_PLANTS

if TYPE_CHECKING:
    from manufacturing_assets.resources.landing_zone import LandingZone


def _plant_timezone(plant_id: str) -> str:
    for p in DEFAULT_PLANTS:
        if p.plant_id == plant_id:
            return p.timezone
    return "UTC"


def generate_sensor_readings_benchmark(
    landing: LandingZone,
    plant_id: str,
    date: date_type | str,
    n_readings: int,
    files: int = 8,
    *,
    machines: int = 20,
    gz_every: int = 4,
    seed: int = 7,
    timezone: str | None = None,
    prefix: str = "bench",
    workers: int = 1,
) -> dict:
    """Write ``n_readings`` sensor readings of ``plant_id`` for ``date`` as ``files`` files.

    Every ``gz_every``-th file (the 2nd, 6th, ... with the default 4) is ``.jsonl.gz``,
    the others ``.jsonl``. Readings are valid (contract 3.1 JSON form, metrics in range),
    spread evenly over the plant-local day, round-robin over ``machines`` devices
    (``{plant}-M001-T1`` ...), with unique ``(device_id, ts)`` at millisecond precision
    as long as ``machines * day_length / n_readings >= 1 ms``. Deterministic for a seed.
    ``workers`` > 1 renders/compresses several files at once (faster on an idle machine,
    slower on a busy one; memory ~ workers x file size).
    Returns ``{"plant_id", "date", "rows", "files": [{"key", "format", "records", "bytes"}]}``.
    """
    day = date_type.fromisoformat(date) if isinstance(date, str) else date
    if n_readings < 0 or files < 1 or machines < 1:
        raise ValueError("n_readings >= 0, files >= 1 and machines >= 1 are required")
    tz = timezone or _plant_timezone(plant_id)
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    start_us = int(start.timestamp()) * 1_000_000
    span_us = int(end.timestamp()) * 1_000_000 - start_us  # 23 h / 25 h on DST days
    folder = f"raw/sensor_readings/plant={plant_id}/date={day.isoformat()}"

    sizes = [n_readings // files + (1 if i < n_readings % files else 0) for i in range(files)]
    firsts = [sum(sizes[:i]) for i in range(files)]

    def one(i: int) -> dict:
        gz = gz_every > 0 and i % gz_every == 1 % gz_every
        fmt = "jsonl.gz" if gz else "jsonl"
        key = f"{folder}/{prefix}-{day:%Y%m%d}-{i + 1:04d}.{fmt}"
        data = _render(
            plant_id, tz, firsts[i], sizes[i], n_readings, start_us, span_us, machines, seed, i
        )
        if gz:  # zlib releases the GIL: with workers=2 this overlaps the next rendering
            data = gzip.compress(data, compresslevel=1, mtime=0)
        landing.write_bytes(key, data)
        return {"key": key, "format": fmt, "records": sizes[i], "bytes": len(data)}

    with ThreadPoolExecutor(max_workers=max(1, min(workers, files))) as pool:
        out_files = list(pool.map(one, range(files)))
    return {"plant_id": plant_id, "date": day.isoformat(), "rows": n_readings, "files": out_files}


def _render(
    plant_id: str,
    tz: str,
    first: int,
    size: int,
    total: int,
    start_us: int,
    span_us: int,
    machines: int,
    seed: int,
    part: int,
) -> bytes:
    if size == 0:
        return b""
    rng = np.random.default_rng([seed, part])
    idx = np.arange(first, first + size, dtype=np.int64)
    ts_us = start_us + (idx * span_us) // max(total, 1)
    dev = (idx % machines + 1).astype(np.int64)
    running = rng.random(size) < 0.8
    temp = np.where(running, rng.normal(72, 2.5, size), rng.normal(38, 3, size))
    pres = np.where(running, rng.normal(5.5, 0.6, size), rng.normal(1.2, 0.2, size))
    vib = np.where(running, rng.normal(4.0, 0.8, size), rng.normal(0.6, 0.2, size))
    hum = rng.normal(45, 4, size)
    df = pl.DataFrame(
        {
            "dev": dev,
            "us": ts_us,
            "running": running,
            "temperature_c": np.round(np.clip(temp, -39.9, 149.9), 1),
            "humidity_pct": np.round(np.clip(hum, 0.1, 99.9), 1),
            "pressure_bar": np.round(np.clip(pres, 0.01, 399.9), 2),
            "vibration_mm_s": np.round(np.clip(vib, 0.01, 99.9), 2),
        }
    )
    machine = pl.lit(f"{plant_id}-M") + pl.col("dev").cast(pl.String).str.zfill(3)
    df = df.select(
        device_id=machine + pl.lit("-T1"),
        plant_id=pl.lit(plant_id),
        machine_id=machine,
        ts=pl.from_epoch("us", time_unit="us")
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone(tz)
        .dt.strftime("%Y-%m-%dT%H:%M:%S%.3f%:z"),
        firmware=pl.lit("2.5.0"),
        status=pl.when(pl.col("running")).then(pl.lit("active")).otherwise(pl.lit("idle")),
        metrics=pl.struct("temperature_c", "humidity_pct", "pressure_bar", "vibration_mm_s"),
    )
    buf = io.BytesIO()
    df.write_ndjson(buf)
    return buf.getvalue()
