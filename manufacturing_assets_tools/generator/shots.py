"""Clean shots (contract 3.2): only while a machine runs and a mold is mounted, with a
process fingerprint of that mold in ``content`` (a JSON string)."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta

from .master import Machine, World, fmt_ts
from .records import Sample


def add_shots(
    sample: Sample, rng: random.Random, m: Machine, start: datetime, end: datetime, seq: int
) -> int:
    """The shots of machine ``m`` for the day ``[start, end)``; returns the last shot number."""
    n_target = sample.config.shots_per_machine_per_day
    intervals = m.running_intervals(start, end)
    total_ms = sum(int((b - a).total_seconds() * 1000) for a, b in intervals)
    if n_target <= 0 or total_ms <= 0:
        return seq
    n = max(1, round(n_target * rng.uniform(0.9, 1.1)))
    step = total_ms / n
    offsets = [int((k + 0.5 + rng.uniform(-0.3, 0.3)) * step) for k in range(n)]
    i, base = 0, 0
    for off in offsets:
        while i < len(intervals):
            a, b = intervals[i]
            length = int((b - a).total_seconds() * 1000)
            if off - base < length:
                break
            base += length
            i += 1
        if i >= len(intervals):
            break
        t = intervals[i][0] + timedelta(milliseconds=off - base)
        mold_id = m.mold_at(t)
        if mold_id is None:
            continue
        seq += 1
        shot_id = f"{m.machine_id}-{seq:06d}"
        fields = {
            "shot_id": shot_id,
            "plant_id": m.plant_id,
            "machine_id": m.machine_id,
            "ts": fmt_ts(t, m.zone),
            "mold_id": mold_id,
            "content": shot_content(sample.world, rng, mold_id),
        }
        rec = sample.new("shots", m.plant_id, fields, t)
        sample.register(rec, (shot_id,))
    return seq


def shot_content(world: World, rng: random.Random, mold_id: str | None) -> str:
    """The ``content`` JSON of one shot of ``mold_id`` (defaults when no mold is mounted)."""
    mold = world.molds[mold_id] if mold_id else None
    ideal = mold.ideal_cycle_time_s if mold else 30.0
    content = {
        "cycle_time_s": round(ideal * rng.uniform(1.0, 1.2), 1),
        "cushion_mm": round(rng.gauss(5.0, 0.3), 2),
        "injection_pressure_bar": round(
            rng.gauss(mold.injection_pressure_bar if mold else 600, 15)
        ),
        "melt_temp_c": round(rng.gauss(mold.melt_temp_c if mold else 230.0, 1.5), 1),
        "mold_temp_c": round(rng.gauss(mold.mold_temp_c if mold else 50.0, 1.0), 1),
        "shot_weight_g": round((mold.shot_weight_g if mold else 40.0) * rng.gauss(1.0, 0.003), 1),
    }
    return json.dumps(content)
