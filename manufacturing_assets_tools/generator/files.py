"""Placing records into files and writing the stream partitions (contract section 2).

Each (stream, plant, date) partition gets a rotating plan of batch formats
(:data:`BATCH_PLANS`); plain records go to the batch of their time of day, bad records
to a random batch whose format they allow (``Random(f"{seed}/placement")``), a
re-delivered record never in its original's batch. Then the partition's re-delivered
file (``duplicate_file``) and its garbage files (``corrupt_gzip``, ``not_json_file``)
are written after the batches. Keys::

    raw/{stream}/plant={plant}/date={date}/{prefix}-{YYYYMMDD}-{NNNN}.{format}
"""

from __future__ import annotations

import random
from datetime import date
from typing import TYPE_CHECKING

from .config import STREAMS
from .formats import file_entry, garbage_file, serialize
from .master import day_bounds
from .records import Record, Sample

if TYPE_CHECKING:
    from manufacturing_assets.resources.landing_zone import LandingZone

BATCH_PLANS: dict[str, tuple[str, ...]] = {
    "sensor_readings": ("jsonl", "jsonl.gz", "csv", "jsonl"),
    "shots": ("jsonl", "jsonl.gz", "jsonl"),
    "machine_events": ("jsonl", "jsonl"),
    "quality_inspections": ("csv", "parquet", "csv"),
}
FILE_PREFIX = {
    "sensor_readings": "readings",
    "shots": "shots",
    "machine_events": "events",
    "quality_inspections": "inspections",
}


def write_streams(sample: Sample, landing: LandingZone) -> None:
    """Write the files of every stream partition (an empty partition gets none)."""
    r = random.Random(f"{sample.config.seed}/placement")
    by_rid = {x.rid: x for s in STREAMS for x in sample.records[s]}
    for stream in STREAMS:
        groups: dict[tuple[str, date], list[Record]] = {}
        for x in sample.records[stream]:
            groups.setdefault((x.plant_id, x.folder), []).append(x)
        for p in sample.plant_ids:
            for d in sample.dates:
                if (stream, p, d) in sample.empty:
                    assert not groups.get((p, d))
                    continue
                part = _Partition(sample, landing, stream, p, d)
                batches, redeliver = part.place(r, groups.get((p, d), []), by_rid)
                part.write(batches, redeliver)


def _rotate(plan: tuple[str, ...], k: int) -> tuple[str, ...]:
    k %= len(plan)
    return plan[k:] + plan[:k]


class _Partition:
    """One (stream, plant, date) folder: its batch plan and the files written to it."""

    def __init__(
        self, sample: Sample, landing: LandingZone, stream: str, plant_id: str, d: date
    ) -> None:
        self.sample, self.landing = sample, landing
        self.stream, self.plant_id, self.d = stream, plant_id, d
        k = sample.plant_ids.index(plant_id) + sample.dates.index(d)
        self.plan = _rotate(BATCH_PLANS[stream], k)
        self.folder = f"raw/{stream}/plant={plant_id}/date={d.isoformat()}"
        self.entries = sample.manifest_files[stream][plant_id][d.isoformat()]
        self.seq = 0

    def place(
        self, r: random.Random, recs: list[Record], by_rid: dict[int, Record]
    ) -> tuple[list[list[Record]], int | None]:
        """Records per batch, and the batch to re-deliver as a whole (or None)."""
        plan, sample = self.plan, self.sample
        start, end = day_bounds(self.d, sample.zones[self.plant_id])
        span = (end - start).total_seconds()
        batches: list[list[Record]] = [[] for _ in plan]
        for x in recs:
            if not x.special:
                i = int((x.instant - start).total_seconds() / span * len(plan))
                batches[min(max(i, 0), len(plan) - 1)].append(x)
        redeliver = None
        if sample.config.bad_input and sample.dup_file_partition.get(self.stream) == (
            self.plant_id,
            self.d,
        ):
            pref = "csv" if self.stream == "quality_inspections" else "jsonl"
            options = [i for i, f in enumerate(plan) if f == pref and batches[i]]
            options = options or [i for i in range(len(plan)) if batches[i]]
            redeliver = r.choice(options) if options else None
        for x in recs:
            if x.special and x.dup_of is None:
                allowed = [
                    i
                    for i, f in enumerate(plan)
                    if i != redeliver and (x.formats is None or f in x.formats)
                ]
                x.batch = r.choice(allowed)
                batches[x.batch].append(x)
        for x in recs:
            if x.dup_of is not None:
                orig = by_rid[x.dup_of]
                allowed = [
                    i
                    for i, f in enumerate(plan)
                    if i not in (redeliver, orig.batch) and f in (x.formats or plan)
                ]
                x.batch = r.choice(allowed)
                batches[x.batch].append(x)
        return batches, redeliver

    def write(self, batches: list[list[Record]], redeliver: int | None) -> None:
        written: dict[int, tuple[str, bytes, int]] = {}
        for i, (fmt, batch) in enumerate(zip(self.plan, batches, strict=True)):
            key = self._next_key(fmt)
            if not batch:
                continue
            batch.sort(key=lambda x: (x.instant, x.rid))
            data, lines = serialize(self.stream, fmt, batch)
            for x, line in zip(batch, lines, strict=True):
                x.location = (key, line)
            self._write(key, fmt, data, len(batch))
            written[i] = (key, data, len(batch))
        if redeliver is not None:
            self._write_redelivery(*written[redeliver], self.plan[redeliver])
        seed = self.sample.config.seed
        for kind, salt in self.sample.extra_files.get((self.stream, self.plant_id, self.d), []):
            fmt, data, n = garbage_file(kind, seed, salt)
            key = self._next_key(fmt)
            self._write(key, fmt, data, n)[kind] = True
            self._bad_file(kind, key)

    def _next_key(self, fmt: str) -> str:
        self.seq += 1
        return f"{self.folder}/{FILE_PREFIX[self.stream]}-{self.d:%Y%m%d}-{self.seq:04d}.{fmt}"

    def _write(self, key: str, fmt: str, data: bytes, records: int) -> dict:
        """Write the file and append its manifest entry (returned, to annotate)."""
        self.landing.write_bytes(key, data)
        entry = file_entry(key, fmt, data, records)
        self.entries.append(entry)
        return entry

    def _write_redelivery(self, src_key: str, data: bytes, n: int, fmt: str) -> None:
        """``duplicate_file``: the batch's bytes again under the next file name."""
        key = self._next_key(fmt)
        entry = self._write(key, fmt, data, n)
        entry["redelivery_of"] = src_key
        self.sample.redelivered_files.append(
            {
                "stream": self.stream,
                "plant_id": self.plant_id,
                "date": self.d.isoformat(),
                "original_key": src_key,
                "copy_key": key,
                "records": n,
                "sha256": entry["sha256"],
            }
        )
        self._bad_file("duplicate_file", key)
        self.sample.count(self.stream, "duplicate_file")

    def _bad_file(self, kind: str, key: str) -> None:
        self.sample.bad_files.append(
            {
                "stream": self.stream,
                "kind": kind,
                "plant_id": self.plant_id,
                "date": self.d.isoformat(),
                "key": key,
            }
        )
