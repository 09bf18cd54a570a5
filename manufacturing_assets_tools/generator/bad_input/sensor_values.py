"""Sensor-reading value kinds, valid records modified in place: ``numeric_string``,
``unparseable``, ``temperature_f`` (firmware 3.1.0), ``unknown_metric``,
``invalid_status``, ``sentinel`` and ``out_of_range``."""

from __future__ import annotations

import random
from collections.abc import Callable

from ..config import METRICS
from ..records import JSON_FORMATS, Sample
from .picking import eligible, mark, pick

STREAM = "sensor_readings"
BAD_STATUSES = ["maintenance", "unknown", "standby", "err"]
SENTINELS = [9999, -9999, -999]
OUT_OF_RANGE = [
    ("temperature_c", 162.4),
    ("humidity_pct", 104.6),
    ("pressure_bar", -1.2),
    ("vibration_mm_s", 131.7),
    ("temperature_c", -47.5),
    ("pressure_bar", 412.0),
]


def corrupt_sensor_values(sample: Sample, r: random.Random, howmany: Callable[..., int]) -> None:
    for x in pick(sample, r, STREAM, howmany()):
        metric = r.choice(METRICS)
        x.fields["metrics"][metric] = str(x.fields["metrics"][metric])
        mark(sample, x, "numeric_string", metric, JSON_FORMATS)
    for i, x in enumerate(pick(sample, r, STREAM, howmany())):
        metric = r.choice(METRICS)
        value = x.fields["metrics"][metric]
        bad = ["n/a", "ERR", "--", str(value).replace(".", ",")]
        x.fields["metrics"][metric] = bad[i % len(bad)]
        mark(sample, x, "unparseable", metric, None)
    _fahrenheit(sample, r, howmany())
    for i, x in enumerate(pick(sample, r, STREAM, howmany(2))):
        if i % 2 == 0:
            x.fields["metrics"]["spindle_rpm"] = r.randint(60, 320)
            mark(sample, x, "unknown_metric", "spindle_rpm", None)
        else:
            x.fields["metrics"]["oil_level_pct"] = round(r.uniform(60, 95), 1)
            mark(sample, x, "unknown_metric", "oil_level_pct", None)
    for i, x in enumerate(pick(sample, r, STREAM, howmany())):
        x.fields["status"] = BAD_STATUSES[i % len(BAD_STATUSES)]
        mark(sample, x, "invalid_status", x.fields["status"])
    for i, x in enumerate(pick(sample, r, STREAM, howmany(len(SENTINELS)))):
        metric = r.choice(METRICS)
        x.fields["metrics"][metric] = SENTINELS[i % len(SENTINELS)]
        mark(sample, x, "sentinel", f"{metric}={SENTINELS[i % len(SENTINELS)]}")
    for i, x in enumerate(pick(sample, r, STREAM, howmany())):
        metric, value = OUT_OF_RANGE[i % len(OUT_OF_RANGE)]
        x.fields["metrics"][metric] = value
        mark(sample, x, "out_of_range", metric)


def _fahrenheit(sample: Sample, r: random.Random, n: int) -> None:
    """Firmware 3.1.0 on one device at the end of the window: its last ``n`` readings
    (after the upgrade) send ``temperature_f`` instead of ``temperature_c``."""
    if not n:
        return
    device = r.choice([m.device_id for p in sample.world.plants for m in p.machines])
    last_day = sample.dates[-1]
    cands = sorted(
        (
            x
            for x in sample.records[STREAM]
            if eligible(sample, x, interior=False)
            and x.fields.get("device_id") == device
            and x.folder == last_day
        ),
        key=lambda x: x.instant,
    )
    for x in cands[-n:]:
        mt = x.fields["metrics"]
        c = mt.pop("temperature_c")
        x.fields["metrics"] = {"temperature_f": round(c * 9 / 5 + 32, 1), **mt}
        x.fields["firmware"] = "3.1.0"
        mark(sample, x, "temperature_f", device, JSON_FORMATS)
