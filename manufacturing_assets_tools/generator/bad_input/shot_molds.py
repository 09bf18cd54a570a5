"""Shot mold kinds: ``missing_mold_id`` (valid shots modified in place; silver resolves the
mold from ``mold_assignments``) and ``unresolved_mold`` (extra purge shots while no mold
is mounted, during the mold change with a gap)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ..master import fmt_ts
from ..records import JSON_FORMATS, Sample
from ..shots import shot_content
from .picking import mark, pick


def corrupt_shot_molds(sample: Sample, r: random.Random, howmany: Callable[..., int]) -> None:
    variants = ["absent", "null", "blank"]
    for i, x in enumerate(pick(sample, r, "shots", howmany(len(variants)))):
        v = variants[i % len(variants)]
        if v == "absent":
            del x.fields["mold_id"]
        else:
            x.fields["mold_id"] = None if v == "null" else ""
        mark(sample, x, "missing_mold_id", v, JSON_FORMATS)
    _purge_shots(sample, r, howmany)


def _purge_shots(sample: Sample, r: random.Random, howmany) -> None:
    change = next((c for c in sample.world.mold_changes if c["gap"]), None)
    if change is None:
        return
    m = sample.world.machine(change["machine_id"])
    t1 = datetime.fromisoformat(change["unmounted_at"]).astimezone(UTC)
    t2 = datetime.fromisoformat(change["mounted_at"]).astimezone(UTC)
    n = howmany()
    span = int((t2 - t1).total_seconds() * 1000)
    for k in range(n):
        t = t1 + timedelta(milliseconds=int((k + 1) * span / (n + 1)))
        assert m.mold_at(t) is None
        shot_id = sample.noise_shot_id(m.machine_id)
        fields = {
            "shot_id": shot_id,
            "plant_id": m.plant_id,
            "machine_id": m.machine_id,
            "ts": fmt_ts(t, m.zone),
            "mold_id": None,
            "content": shot_content(sample.world, r, None),
        }
        if k % 2 == 1:
            del fields["mold_id"]
        rec = sample.new("shots", m.plant_id, fields, t)
        sample.register(rec, (shot_id,))
        mark(sample, rec, "unresolved_mold", "null" if k % 2 == 0 else "absent", JSON_FORMATS)
