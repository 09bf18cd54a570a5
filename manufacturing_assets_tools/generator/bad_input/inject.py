"""The bad-input plan: which kinds, how many, in which order (one seeded random stream).

Every draw comes from ``Random(f"{seed}/bad")`` in a fixed order: the empty partition,
the partition of each stream's re-delivered file, the record kinds stream by stream
(:mod:`.extra_records`, :mod:`.modified_records`, :mod:`.sensor_values`,
:mod:`.shot_molds`, :mod:`.redeliveries`), then the partitions of the garbage files.
Changing that order changes the sample.
"""

from __future__ import annotations

import random

from ..config import STREAMS
from ..records import Sample
from .extra_records import add_extra_records
from .modified_records import modify_records
from .redeliveries import add_redeliveries
from .sensor_values import corrupt_sensor_values
from .shot_molds import corrupt_shot_molds

# file-level kinds written as an extra file of a (random) partition, see ..formats
GARBAGE_FILES = (
    ("sensor_readings", "corrupt_gzip"),
    ("shots", "corrupt_gzip"),
    ("sensor_readings", "not_json_file"),
    ("machine_events", "not_json_file"),
)


def inject_bad_input(sample: Sample) -> None:
    cfg = sample.config
    r = random.Random(f"{cfg.seed}/bad")
    lo, hi = cfg.bad_per_kind

    def howmany(n_variants: int = 1) -> int:
        n = r.randint(lo, hi)
        return max(n, n_variants) if n > 0 else 0

    _empty_partition(sample)
    for stream in STREAMS:
        sample.dup_file_partition[stream] = r.choice(_partitions(sample, stream))
    for stream in STREAMS:
        add_extra_records(sample, r, stream, howmany)
        modify_records(sample, r, stream, howmany)
        if stream == "sensor_readings":
            corrupt_sensor_values(sample, r, howmany)
        if stream == "shots":
            corrupt_shot_molds(sample, r, howmany)
        add_redeliveries(sample, r, stream, howmany)
    for stream, kind in GARBAGE_FILES:
        p, d = r.choice(_partitions(sample, stream))
        sample.extra_files.setdefault((stream, p, d), []).append((kind, f"{r.random():.12f}"))
        sample.count(stream, kind)


def _partitions(sample: Sample, stream: str) -> list:
    """(plant, date) partitions of ``stream`` that are not empty."""
    return [
        (p, d) for p in sample.plant_ids for d in sample.dates if (stream, p, d) not in sample.empty
    ]


def _empty_partition(sample: Sample) -> None:
    """The last plant's inspection export of the last day never came."""
    last = ("quality_inspections", sample.plant_ids[-1], sample.dates[-1])
    sample.empty.add(last)
    sample.records["quality_inspections"] = [
        x
        for x in sample.records["quality_inspections"]
        if (x.plant_id, x.folder) != (last[1], last[2])
    ]
    sample.count("quality_inspections", "empty_partition")
    sample.bad_files.append(
        {
            "stream": last[0],
            "kind": "empty_partition",
            "plant_id": last[1],
            "date": last[2].isoformat(),
            "key": None,
        }
    )
