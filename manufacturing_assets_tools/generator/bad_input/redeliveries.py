"""``duplicate_record``: exact re-deliveries of single records in another file of the same
folder (the same field object, so a byte-identical line). Whole re-delivered files
(``duplicate_file``) are made when files are written (:mod:`..files`)."""

from __future__ import annotations

import random
from collections.abc import Callable

from ..records import JSON_FORMATS, Record, Sample
from .picking import pick

# formats both copies may land in: a line identical byte for byte
FAMILY = {
    "sensor_readings": JSON_FORMATS,
    "shots": JSON_FORMATS,
    "machine_events": ("jsonl",),
    "quality_inspections": ("csv",),
}


def add_redeliveries(
    sample: Sample, r: random.Random, stream: str, howmany: Callable[..., int]
) -> None:
    family = FAMILY[stream]
    dup_part = sample.dup_file_partition[stream]
    for x in pick(sample, r, stream, howmany(), lambda x: (x.plant_id, x.folder) != dup_part):
        x.formats = family  # the original: special (kept out of the re-delivered batch)
        dup = Record(
            sample.next_rid(),
            stream,
            x.plant_id,
            x.folder,
            x.fields,  # same object: byte-identical line
            x.instant,
            key=x.key,
            kind="duplicate_record",
            formats=family,
            special=True,
            dup_of=x.rid,
            production_date=x.production_date,
        )
        sample.records[stream].append(dup)
        sample.count(stream, "duplicate_record")
