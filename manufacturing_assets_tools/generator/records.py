"""The sample in memory: every generated record, where it lands and what is wrong with it.

A :class:`Sample` holds the simulated world (:mod:`.master`), the records of each stream
in creation order with their dedupe keys, and the bookkeeping of bad input and written
files that the manifest reports. Record ids (``rid``) count up in creation order and
break ties when records are sorted into files, so the order in which the stream and
bad-input modules create records is part of the byte-identical output.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from .config import BAD_INPUT_KINDS, STREAMS, GeneratorConfig
from .master import World, build_world, local_date

JSON_FORMATS = ("jsonl", "jsonl.gz")
ID_FIELD = {
    "sensor_readings": "device_id",
    "shots": "shot_id",
    "machine_events": None,
    "quality_inspections": "part_id",
}
TS_FIELD = {
    "sensor_readings": "ts",
    "shots": "ts",
    "machine_events": "ts",
    "quality_inspections": "hour_start",
}
TS_SPEC = {
    "sensor_readings": "milliseconds",
    "shots": "milliseconds",
    "machine_events": "seconds",
    "quality_inspections": "seconds",
}


@dataclass
class Record:
    rid: int
    stream: str
    plant_id: str
    folder: date  # the date= folder it lands in
    fields: dict[str, Any] | None
    instant: datetime  # true (or template) instant, UTC; orders records in a file
    key: tuple | None = None  # dedupe key (None when incomplete)
    raw_line: str | None = None  # malformed_record: the line text as landed
    kind: str | None = None
    variant: str | None = None
    formats: tuple[str, ...] | None = None  # allowed file formats (None = any)
    special: bool = False  # placed individually, never in a re-delivered batch
    dup_of: int | None = None  # duplicate_record: rid of the original
    production_date: date | None = None  # of the ts as written (None: missing/unparseable)
    batch: int | None = None
    location: tuple[str, int] | None = None  # (file key, line number)
    interior: bool | None = None  # cached: >= 90 min away from the folder day's midnights


def us(instant: datetime) -> int:
    """Microseconds since the epoch: the instant part of dedupe keys."""
    return int(instant.timestamp() * 1_000_000)


class Sample:
    """Records of every stream plus what the manifest reports about them."""

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self.world: World = build_world(config)
        self.dates = config.dates
        self.plant_ids = [p.plant_id for p in self.world.plants]
        self.zones = {p.plant_id: p.zone for p in self.world.plants}
        self.records: dict[str, list[Record]] = {s: [] for s in STREAMS}
        self.keys: dict[str, set] = {s: set() for s in STREAMS}
        self._rid = 0
        # bad input (filled by .bad_input, read by .files and .manifest)
        self.bad_counts: dict[str, dict[str, int]] = {
            s: dict.fromkeys(BAD_INPUT_KINDS[s], 0) for s in STREAMS
        }
        self.bad_files: list[dict] = []
        self.empty: set[tuple[str, str, date]] = set()  # (stream, plant, date)
        self.dup_file_partition: dict[str, tuple[str, date]] = {}
        self.extra_files: dict[tuple[str, str, date], list[tuple[str, str]]] = {}
        self.noise_seq: dict[str, int] = {}
        # written files (filled by .files, read by .manifest)
        self.manifest_files: dict[str, dict[str, dict[str, list[dict]]]] = {
            s: {p: {d.isoformat(): [] for d in self.dates} for p in self.plant_ids} for s in STREAMS
        }
        self.redelivered_files: list[dict] = []

    def next_rid(self) -> int:
        self._rid += 1
        return self._rid

    def new(self, stream: str, plant_id: str, fields: dict | None, instant: datetime) -> Record:
        """A record of ``stream`` in the folder of its plant-local date, appended."""
        rid = self.next_rid()
        d = local_date(instant, self.zones[plant_id])
        rec = Record(rid, stream, plant_id, d, fields, instant, production_date=d)
        self.records[stream].append(rec)
        return rec

    def register(self, rec: Record, key: tuple) -> None:
        rec.key = key
        self.keys[rec.stream].add(key)

    def count(self, stream: str, kind: str, n: int = 1) -> None:
        self.bad_counts[stream][kind] += n

    def noise_shot_id(self, machine_id: str) -> str:
        """A fresh shot id from the machine's purge/noise counter (never a real shot's)."""
        self.noise_seq[machine_id] = self.noise_seq.get(machine_id, 900_000) + 1
        return f"{machine_id}-{self.noise_seq[machine_id]:06d}"
