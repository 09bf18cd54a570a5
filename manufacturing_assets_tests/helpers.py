"""Small builders shared by tests: landing files, master data, bronze frames."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import narwhals as nw
import polars as pl

from manufacturing_assets.ingest.readers import concat_bronze, read_landed_file
from manufacturing_assets.resources.landing_zone import LandingZone

NOW = datetime(2024, 3, 10, tzinfo=UTC)

PLANTS_CSV = (
    "plant_id,plant_name,region,country,timezone\n"
    "P01,Berlin Works,EMEA,DE,Europe/Berlin\n"
    "P02,Chicago Works,AMER,US,America/Chicago\n"
)


def jsonl(records: list[Any]) -> bytes:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    return ("\n".join(lines) + "\n").encode()


def reading(device: str, ts: str, metrics: dict[str, Any] | None = None, **extra: Any) -> dict:
    machine = device.rsplit("-", 1)[0]
    rec = {
        "device_id": device,
        "plant_id": "P01",
        "machine_id": machine,
        "ts": ts,
        "firmware": "2.4.0",
        "status": "active",
        "metrics": metrics
        if metrics is not None
        else {
            "temperature_c": 70.0,
            "humidity_pct": 40.0,
            "pressure_bar": 2.0,
            "vibration_mm_s": 3.0,
        },
    }
    rec.update(extra)
    return rec


def write_plants(landing: LandingZone, snapshot: str = "2024-03-01") -> None:
    landing.write_bytes(
        f"reference/plants/snapshot_date={snapshot}/plants.csv", PLANTS_CSV.encode()
    )


def land(landing: LandingZone, stream: str, plant: str, day: str, name: str, data: bytes) -> str:
    key = f"raw/{stream}/plant={plant}/date={day}/{name}"
    landing.write_bytes(key, data)
    return key


def bronze_of(files: list[tuple[str, bytes]], stream: str = "sensor_readings") -> pl.DataFrame:
    """Bronze rows for (key, bytes) pairs, as the bronze asset would build them."""
    frames = []
    for key, data in files:
        parts = key.split("/")
        plant = parts[2].split("=")[1]
        day = date.fromisoformat(parts[3].split("=")[1])
        frames.append(read_landed_file(stream, key, data, plant, day, NOW))
    return concat_bronze(frames, stream)


def lazy(frame: pl.DataFrame) -> nw.LazyFrame:
    return nw.from_native(frame.lazy())


def collect(frame: nw.LazyFrame) -> pl.DataFrame:
    return frame.collect(backend="polars").to_native()
