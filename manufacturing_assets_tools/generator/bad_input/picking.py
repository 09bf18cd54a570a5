"""Choosing the records bad input is made of, marking them, and cloning extra ones.

Only valid records are ever *modified* (and each at most once: a picked record becomes
``special``); records silver must quarantine are *extra* records cloned from a valid one
with a fresh key that collides with no other record of the stream.
"""

from __future__ import annotations

import copy
import random
from datetime import timedelta

from ..master import day_bounds, fmt_ts, local_date
from ..records import TS_FIELD, TS_SPEC, Record, Sample, us


def eligible(sample: Sample, rec: Record, interior: bool = True) -> bool:
    """A plain valid record, by default >= 90 min away from its folder day's midnights."""
    if rec.special or rec.fields is None:
        return False
    if (rec.stream, rec.plant_id, rec.folder) in sample.empty:
        return False
    if interior:
        if rec.interior is None:
            start, end = day_bounds(rec.folder, sample.zones[rec.plant_id])
            margin = timedelta(minutes=90)
            rec.interior = start + margin <= rec.instant < end - margin
        return rec.interior
    return True


def pick(sample: Sample, r: random.Random, stream: str, n: int, pred=None) -> list[Record]:
    """Up to ``n`` eligible records of ``stream`` (matching ``pred``), now special."""
    cands = [x for x in sample.records[stream] if eligible(sample, x) and (pred is None or pred(x))]
    picked = r.sample(cands, min(n, len(cands)))
    for x in picked:
        x.special = True
    return picked


def pick_template(sample: Sample, r: random.Random, stream: str) -> Record | None:
    """One eligible record to clone from; it stays a plain record."""
    got = pick(sample, r, stream, 1)
    if got:
        got[0].special = False
    return got[0] if got else None


def mark(sample: Sample, rec: Record, kind: str, variant: str | None, formats=None) -> None:
    """Record ``rec`` as bad input of ``kind`` (counted; placed individually)."""
    rec.kind, rec.variant, rec.formats, rec.special = kind, variant, formats, True
    sample.count(rec.stream, kind)


def clone(
    sample: Sample,
    r: random.Random,
    tpl: Record,
    kind: str,
    variant: str | None,
    formats=None,
    days: int = 0,
) -> Record:
    """An extra record cloned from ``tpl`` with a fresh, unique key."""
    rec = Record(
        sample.next_rid(),
        tpl.stream,
        tpl.plant_id,
        tpl.folder,
        copy.deepcopy(tpl.fields),
        tpl.instant,
        kind=kind,
        variant=variant,
        formats=formats,
        special=True,
    )
    _rekey(sample, r, rec, days)
    sample.records[tpl.stream].append(rec)
    sample.count(tpl.stream, kind)
    return rec


def _rekey(sample: Sample, r: random.Random, rec: Record, days: int) -> None:
    """Move ``rec`` (``days`` later) to a near instant / other part whose key is free."""
    stream, f = rec.stream, rec.fields
    assert f is not None
    zone = sample.zones[rec.plant_id]
    spec = TS_SPEC[stream]
    base = rec.instant + timedelta(days=days)
    if stream == "quality_inspections":
        hour = base
        parts = sorted(sample.world.parts)
        start = r.randrange(len(parts))
        for i in range(len(parts)):
            part = parts[(start + i) % len(parts)]
            key = (f["machine_id"], us(hour), part)
            if key not in sample.keys[stream] and (days != 0 or part != f["part_id"]):
                break
        else:  # every part taken: move to another hour
            hour = hour + timedelta(hours=1)
            key = (f["machine_id"], us(hour), part)
        f["part_id"], f["hour_start"] = part, fmt_ts(hour, zone, spec)
        rec.instant = hour
    else:
        while True:
            if stream == "machine_events":
                t = base + timedelta(seconds=r.randint(5, 55))
                key = (f["machine_id"], us(t))
            elif stream == "sensor_readings":
                t = base + timedelta(milliseconds=r.randint(1_000, 60_000))
                key = (f["device_id"], us(t))
            else:  # shots: fresh shot id from the machine's purge/noise counter
                t = base + timedelta(milliseconds=r.randint(500, 5_000))
                f["shot_id"] = sample.noise_shot_id(f["machine_id"])
                key = (f["shot_id"],)
            if key not in sample.keys[stream]:
                break
        f[TS_FIELD[stream]] = fmt_ts(t, zone, spec)
        rec.instant = t
    rec.production_date = local_date(rec.instant, zone)
    sample.register(rec, key)
