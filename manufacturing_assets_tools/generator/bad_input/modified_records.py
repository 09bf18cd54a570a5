"""Record kinds that stay valid: existing records modified in place.

``ts_without_offset`` (plant-local wall time; for sensor readings also one extra reading
in a spring-forward gap), ``plant_mismatch`` and ``midnight_skew`` (a record delivered in
the neighbouring day's folder). Called once per stream, in this order.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, timedelta

from ..master import day_bounds, fmt_local_naive
from ..records import TS_FIELD, TS_SPEC, Record, Sample, us
from ..sensor_readings import metrics, status
from .picking import eligible, mark, pick

_NEAR_MIDNIGHT = (45 * 60, 3600, 3 * 3600, 6 * 3600, 12 * 3600)  # seconds, widening


def modify_records(
    sample: Sample, r: random.Random, stream: str, howmany: Callable[..., int]
) -> None:
    _without_offset(sample, r, stream, howmany)
    _plant_mismatch(sample, r, stream, howmany)
    if len(sample.dates) >= 2:
        for i in range(howmany(2)):
            _skew(sample, r, stream, "previous_day" if i % 2 == 0 else "next_day")


def _without_offset(sample: Sample, r: random.Random, stream: str, howmany) -> None:
    ts_field, spec = TS_FIELD[stream], TS_SPEC[stream]

    def roundtrips(x: Record) -> bool:
        zone = sample.zones[x.plant_id]
        naive = x.instant.astimezone(zone).replace(tzinfo=None)
        return naive.replace(tzinfo=zone).astimezone(UTC) == x.instant

    for x in pick(sample, r, stream, howmany(), roundtrips):
        x.fields[ts_field] = fmt_local_naive(x.instant, sample.zones[x.plant_id], spec)
        mark(sample, x, "ts_without_offset", "plain")
    if stream == "sensor_readings" and sample.bad_counts[stream]["ts_without_offset"]:
        _dst_gap_reading(sample, r)


def _dst_gap_reading(sample: Sample, r: random.Random) -> None:
    """One extra reading whose offset-less wall time falls in a spring-forward gap."""
    for p in sample.world.plants:
        for d in sample.dates:
            start, end = day_bounds(d, p.zone)
            if end - start >= timedelta(hours=24):
                continue  # no gap on this day
            t = start
            while (
                t < end and t.astimezone(p.zone).utcoffset() == start.astimezone(p.zone).utcoffset()
            ):
                t += timedelta(minutes=1)
            before = start.astimezone(p.zone).utcoffset()
            gap = t.astimezone(p.zone).utcoffset() - before
            # wall clock just before the jump, plus half the gap: a time that never exists
            wall = (t + before).replace(tzinfo=None) + gap / 2
            m = p.machines[0]
            instant = wall.replace(tzinfo=p.zone).astimezone(UTC)  # fold=0: shifted forward
            while (m.device_id, us(instant)) in sample.keys["sensor_readings"]:
                instant += timedelta(milliseconds=1)
                wall += timedelta(milliseconds=1)
            state = m.state_at(instant)
            fields = {
                "device_id": m.device_id,
                "plant_id": m.plant_id,
                "machine_id": m.machine_id,
                "ts": wall.isoformat(timespec="milliseconds"),
                "firmware": m.firmware,
                "status": status(state),
                "metrics": metrics(r, state, 45.0),
            }
            rec = sample.new("sensor_readings", p.plant_id, fields, instant)
            sample.register(rec, (m.device_id, us(instant)))
            mark(sample, rec, "ts_without_offset", "dst_gap")
            return


def _plant_mismatch(sample: Sample, r: random.Random, stream: str, howmany) -> None:
    for x in pick(sample, r, stream, howmany()):
        others = [p for p in sample.plant_ids if p != x.plant_id] or ["P99"]
        x.fields["plant_id"] = r.choice(others)
        mark(sample, x, "plant_mismatch", x.fields["plant_id"])


def _skew(sample: Sample, r: random.Random, stream: str, variant: str) -> None:
    """Move one record near midnight into the neighbouring day's folder."""
    for limit in _NEAR_MIDNIGHT:
        cands = []
        for x in sample.records[stream]:
            if not eligible(sample, x, interior=False):
                continue
            zone = sample.zones[x.plant_id]
            start, end = day_bounds(x.folder, zone)
            if variant == "previous_day":
                target = x.folder + timedelta(days=1)
                near = (end - x.instant).total_seconds() <= limit
            else:
                target = x.folder - timedelta(days=1)
                near = (x.instant - start).total_seconds() < limit
            if near and target in sample.dates and (stream, x.plant_id, target) not in sample.empty:
                cands.append((x, target))
        if cands:
            x, target = r.choice(cands)
            x.folder = target
            mark(sample, x, "midnight_skew", variant)
            return
