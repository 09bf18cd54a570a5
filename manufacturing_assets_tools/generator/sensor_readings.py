"""Clean sensor readings (contract 3.1): one device per machine, readings at a steady pace
over the plant-local day, status and metric values following the machine state."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from .config import METRIC_RANGES
from .master import Machine, fmt_ts
from .records import Sample, us


def add_readings(
    sample: Sample, rng: random.Random, m: Machine, start: datetime, end: datetime
) -> None:
    """The readings of machine ``m``'s device for the day ``[start, end)``."""
    n = sample.config.readings_per_machine_per_day
    if n <= 0:
        return
    span_ms = int((end - start).total_seconds() * 1000)
    step = span_ms / n
    humidity_base = 45.0 if m.plant_id == sample.plant_ids[0] else 52.0
    for k in range(n):
        off = int((k + 0.5 + rng.uniform(-0.35, 0.35)) * step)
        t = start + timedelta(milliseconds=off)
        state = m.state_at(t)
        fields = {
            "device_id": m.device_id,
            "plant_id": m.plant_id,
            "machine_id": m.machine_id,
            "ts": fmt_ts(t, m.zone),
            "firmware": m.firmware,
            "status": status(state),
            "metrics": metrics(rng, state, humidity_base),
        }
        rec = sample.new("sensor_readings", m.plant_id, fields, t)
        sample.register(rec, (m.device_id, us(t)))


def status(state: str) -> str:
    """The sensor status a machine state produces."""
    return "active" if state == "RUNNING" else ("faulty" if state == "DOWN" else "idle")


def metrics(rng: random.Random, state: str, humidity_base: float) -> dict[str, float]:
    """Metric values typical of ``state``, kept inside their valid ranges."""
    if state == "RUNNING":
        temp, pres, vib = rng.gauss(72, 2.5), rng.gauss(5.5, 0.6), rng.gauss(4.0, 0.8)
    elif state == "DOWN":
        temp, pres, vib = rng.gauss(45, 5), rng.gauss(0.8, 0.3), rng.gauss(1.5, 0.6)
    else:
        temp, pres, vib = rng.gauss(38, 3), rng.gauss(1.2, 0.2), rng.gauss(0.6, 0.2)
    hum = rng.gauss(humidity_base, 4)

    def clamp(metric: str, v: float, nd: int) -> float:
        lo, hi = METRIC_RANGES[metric]
        return round(min(max(v, lo + 0.1), hi - 0.1), nd)

    return {
        "temperature_c": clamp("temperature_c", temp, 1),
        "humidity_pct": clamp("humidity_pct", hum, 1),
        "pressure_bar": clamp("pressure_bar", pres, 2),
        "vibration_mm_s": clamp("vibration_mm_s", vib, 2),
    }
