"""Record kinds silver quarantines: extra records cloned from valid ones with fresh keys.

``malformed_record``, ``missing_*``, ``unparseable_ts``, ``out_of_window``,
``invalid_state`` (machine events) and ``invalid_count`` (quality inspections); the
clean truth is unchanged by them. Called once per stream, in this order.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable

from ..records import ID_FIELD, JSON_FORMATS, TS_FIELD, Sample
from .picking import clone, pick_template

BAD_TIMESTAMPS = (
    "not-a-timestamp",
    "2024-13-45T25:61:00+01:00",
    "2024-02-30T10:00:00+01:00",
    "31/03/2024 08:15:00",
    "ERR_NO_CLOCK",
)
BAD_STATES = ["WARMUP", "MAINTENANCE", "UNKNOWN", "ERROR", "OFF"]


def add_extra_records(
    sample: Sample, r: random.Random, stream: str, howmany: Callable[..., int]
) -> None:
    is_insp = stream == "quality_inspections"
    if not is_insp:
        _malformed(sample, r, stream, howmany)
    _missing_fields(sample, r, stream, howmany)
    _unparseable_ts(sample, r, stream, howmany)
    _out_of_window(sample, r, stream, howmany)
    if stream == "machine_events":
        _invalid_state(sample, r, stream, howmany)
    if is_insp:
        _invalid_count(sample, r, stream, howmany)


def _malformed(sample: Sample, r: random.Random, stream: str, howmany) -> None:
    variants = ["truncated_json", "json_array"]
    for i in range(howmany(len(variants))):
        tpl = pick_template(sample, r, stream)
        if tpl is None:
            break
        v = variants[i % len(variants)]
        rec = clone(sample, r, tpl, "malformed_record", v, JSON_FORMATS)
        text = json.dumps(rec.fields, ensure_ascii=False)
        rec.raw_line = (
            text[: len(text) // 2]
            if v == "truncated_json"
            else json.dumps(list(rec.fields.values()), ensure_ascii=False)
        )
        rec.key, rec.production_date = None, None


def _missing_fields(sample: Sample, r: random.Random, stream: str, howmany) -> None:
    ts_field = TS_FIELD[stream]
    is_insp = stream == "quality_inspections"
    missing_fields = ["machine_id", ID_FIELD[stream], ts_field]
    if is_insp:
        variants = ["empty_cell", "null", "blank"]
    elif stream == "sensor_readings":
        variants = ["absent", "null", "blank", "empty_cell"]
    else:
        variants = ["absent", "null", "blank"]
    for name in missing_fields:
        if name is None:
            continue
        kind = "missing_ts" if name == ts_field else f"missing_{name}"
        for i in range(howmany(len(variants))):
            tpl = pick_template(sample, r, stream)
            if tpl is None:
                break
            v = variants[i % len(variants)]
            formats = {
                "absent": JSON_FORMATS,
                "null": ("parquet",) if is_insp else JSON_FORMATS,
                "blank": ("parquet",) if is_insp else JSON_FORMATS,
                "empty_cell": ("csv",),
            }[v]
            rec = clone(sample, r, tpl, kind, v, formats)
            assert rec.fields is not None
            if v == "absent":
                del rec.fields[name]
            elif v == "blank":
                rec.fields[name] = " " if is_insp else ""
            else:
                rec.fields[name] = None
            if name == ts_field:
                rec.production_date = None


def _unparseable_ts(sample: Sample, r: random.Random, stream: str, howmany) -> None:
    ts_field = TS_FIELD[stream]
    for i in range(howmany()):
        tpl = pick_template(sample, r, stream)
        if tpl is None:
            break
        rec = clone(sample, r, tpl, "unparseable_ts", None)
        rec.fields[ts_field] = BAD_TIMESTAMPS[i % len(BAD_TIMESTAMPS)]
        rec.variant = rec.fields[ts_field]
        rec.key, rec.production_date = None, None


def _out_of_window(sample: Sample, r: random.Random, stream: str, howmany) -> None:
    variants = ["past", "future"]
    for i in range(howmany(len(variants))):
        tpl = pick_template(sample, r, stream)
        if tpl is None:
            break
        v = variants[i % 2]
        days = r.randint(2, 4) * (-1 if v == "past" else 1)
        clone(sample, r, tpl, "out_of_window", v, None, days=days)


def _invalid_state(sample: Sample, r: random.Random, stream: str, howmany) -> None:
    for i in range(howmany()):
        tpl = pick_template(sample, r, stream)
        if tpl is None:
            break
        rec = clone(sample, r, tpl, "invalid_state", None)
        rec.fields["state"] = rec.variant = BAD_STATES[i % len(BAD_STATES)]


def _invalid_count(sample: Sample, r: random.Random, stream: str, howmany) -> None:
    variants = ["negative", "non_integer"]
    for i in range(howmany(len(variants))):
        tpl = pick_template(sample, r, stream)
        if tpl is None:
            break
        v = variants[i % 2]
        rec = clone(sample, r, tpl, "invalid_count", v, None if v == "negative" else ("csv",))
        f = rec.fields
        col = "inspected_count" if i % 4 < 2 else "rejected_count"
        if v == "negative":
            f[col] = -r.randint(1, 20)
        else:
            f[col] = f"{max(int(f[col]), 1) - 1}.5"
