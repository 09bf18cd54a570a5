"""Clean quality inspections (contract 3.4): per machine, hour and part, the parts the
machine's shots made in that hour (shots x cavities) and a seeded share of rejects."""

from __future__ import annotations

import random
from datetime import datetime

from .master import fmt_ts
from .records import Sample, us

DEFECT_CODES = ["SHORT_SHOT", "FLASH", "SINK_MARK", "BURN_MARK", "WARPAGE"]


def add_inspections(sample: Sample) -> None:
    """Inspections of every machine; needs the clean shots of all machines first."""
    cfg = sample.config
    for p in sample.world.plants:
        for m in p.machines:
            rng = random.Random(f"{cfg.seed}/inspections/{m.machine_id}")
            reject_p = rng.uniform(0.005, 0.04)
            hours: dict[tuple[datetime, str], int] = {}
            for rec in sample.records["shots"]:
                if rec.fields is None or rec.fields["machine_id"] != m.machine_id:
                    continue
                mold = sample.world.molds[rec.fields["mold_id"]]
                hour = rec.instant.replace(minute=0, second=0, microsecond=0)
                key = (hour, mold.part_id)
                hours[key] = hours.get(key, 0) + mold.cavities
            for (hour, part_id), produced in sorted(hours.items()):
                rejected = sum(rng.random() < reject_p for _ in range(produced))
                fields = {
                    "machine_id": m.machine_id,
                    "plant_id": m.plant_id,
                    "hour_start": fmt_ts(hour, m.zone, "seconds"),
                    "part_id": part_id,
                    "inspected_count": produced,
                    "rejected_count": rejected,
                    "defect_code": rng.choice(DEFECT_CODES) if rejected else None,
                }
                rec = sample.new("quality_inspections", m.plant_id, fields, hour)
                sample.register(rec, (m.machine_id, us(hour), part_id))
