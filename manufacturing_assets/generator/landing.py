"""Sample landing zone: every raw stream, daily master-data snapshots and bad input.

``generate_landing_zone(landing, config)`` writes (keys relative to the landing root,
data contract section 2)::

    raw/sensor_readings/plant=P/date=D/readings-YYYYMMDD-NNNN.jsonl | .jsonl.gz | .csv
    raw/shots/plant=P/date=D/shots-YYYYMMDD-NNNN.jsonl | .jsonl.gz
    raw/machine_events/plant=P/date=D/events-YYYYMMDD-NNNN.jsonl
    raw/quality_inspections/plant=P/date=D/inspections-YYYYMMDD-NNNN.csv | .parquet
    reference/{entity}/snapshot_date=D/{entity}.csv      (8 entities, one per day)
    manifest.json                                        (the returned manifest)

The clean data is a consistent simulation (machine state timelines, shots only while
a machine runs, inspections of the parts those shots made, readings that follow the
machine state). With ``bad_input=True`` every kind of bad input the contract names is
added in seeded, counted amounts; each defective record has exactly ONE defect so the
counts can be checked independently. Kinds (manifest names, per stream):

record kinds (counted in records):
  malformed_record    line is not JSON (``truncated_json``) or a JSON array (``json_array``)
  missing_machine_id  machine_id absent / null / blank ("") / empty CSV cell / parquet null
  missing_device_id   (sensor_readings) same variants
  missing_shot_id     (shots) absent / null / blank
  missing_part_id     (quality_inspections) empty CSV cell / parquet null / blank
  missing_ts          ts (hour_start for inspections) missing, same variants
  unparseable_ts      ts present but not ISO-8601
  out_of_window       ts more than one day from the folder date (``past`` / ``future``)
  midnight_skew       valid record in the neighbouring day's folder (``previous_day``:
                      its ts belongs to the day before the folder, ``next_day``: after)
  ts_without_offset   valid record, ts plant-local without offset (``plain``; ``dst_gap``:
                      an extra reading whose wall time falls in a spring-forward gap)
  plant_mismatch      record plant_id is another plant than the plant= folder
  duplicate_record    exact re-delivery: a record's line repeated in another file of the
                      same folder (listed in ``redelivered_records``)
  numeric_string      (sensor) a metric sent as a JSON string of a decimal ("71.3")
  unparseable         (sensor) a metric sent as a non-numeric string ("n/a", "71,3")
  temperature_f       (sensor) firmware 3.1.0 sends temperature_f instead of temperature_c
  unknown_metric      (sensor) extra metric key (spindle_rpm, oil_level_pct)
  invalid_status      (sensor) status not active/idle/faulty
  sentinel            (sensor) a metric is 9999, -9999 or -999
  out_of_range        (sensor) a metric outside its valid range (not a sentinel)
  missing_mold_id     (shots) mold_id absent / null / blank; resolvable from mold_assignments
  unresolved_mold     (shots) extra purge shots without mold_id while no mold is mounted
  invalid_state       (machine_events) state not in RUNNING/IDLE/DOWN/SETUP/PLANNED_STOP
  invalid_count       (quality_inspections) negative (csv/parquet) or non-integer (csv) count

file kinds (counted in files, listed in ``bad_files``):
  duplicate_file      a whole batch re-delivered under another name (same bytes;
                      listed in ``redelivered_files``)
  corrupt_gzip        a .jsonl.gz whose deflate stream is invalid (nothing readable)
  not_json_file       a .jsonl that is an HTML error page (one line)
  empty_partition     a partition folder with no files (listed in ``empty_partitions``)

Only valid records are ever *modified* (value-level kinds, skew, offsets, plant,
mold_id); records that silver must quarantine are *extra* records cloned from a valid
one with a fresh key, so the clean truth is unchanged by bad input. Keys of extra
records never collide with real ones, so deduplication never has to choose between a
valid record and a quarantined one.

Line numbers in the manifest follow the bronze lineage convention: 1-based JSONL lines,
CSV data rows counted from the header line = 1 (first row = 2), parquet rows 1-based.

Manifest (also ``manifest.json``)::

    generator_version, config (GeneratorConfig.to_dict()), dates ["YYYY-MM-DD", ...],
    plants [{plant_id, timezone, machines, devices}],
    streams {stream: {files, records, partitions {plant_id: {date: {files, records,
        file_list [{key, format, records, bytes, sha256, [redelivery_of | corrupt_gzip |
        not_json_file]}]}}}}}          records = lines/rows as delivered (a corrupt gzip
                                       counts 0, the not-JSON page 1 line)
    reference {entity: {columns, snapshots {date: {key, rows}}}}
    bad_input {stream: {kind: count}}  every kind of BAD_INPUT_KINDS[stream], 0 if none
    bad_records [{stream, kind, variant, plant_id, date (folder), production_date (of the
        ts as written; null if missing/unparseable/malformed), key, line,
        [original_key, original_line]}]
    bad_files [{stream, kind, plant_id, date, key}]
    redelivered_records [{stream, key, line, original_key, original_line}]
    redelivered_files [{stream, plant_id, date, original_key, copy_key, records, sha256}]
    empty_partitions [{stream, plant_id, date}]
    history {machine_tonnage_change, mold_changes, company_rename, states_spanning_midnight}
"""

from __future__ import annotations

import copy
import csv
import gzip
import hashlib
import io
import json
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from .config import (
    BAD_INPUT_KINDS,
    ENTITIES,
    ENTITY_COLUMNS,
    INSPECTION_COLUMNS,
    METRIC_RANGES,
    METRICS,
    SENSOR_CSV_BASE,
    STREAMS,
    GeneratorConfig,
)
from .master import (
    World,
    build_world,
    day_bounds,
    fmt_local_naive,
    fmt_ts,
    local_date,
)

if TYPE_CHECKING:
    from ..resources.landing_zone import LandingZone

GENERATOR_VERSION = 1
JSON_FORMATS = ("jsonl", "jsonl.gz")
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
BAD_TIMESTAMPS = (
    "not-a-timestamp",
    "2024-13-45T25:61:00+01:00",
    "2024-02-30T10:00:00+01:00",
    "31/03/2024 08:15:00",
    "ERR_NO_CLOCK",
)
NOT_JSON_PAGE = (
    "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
    "</h1></center><hr><center>nginx</center><!-- request {request} --></body></html>\n"
)
_NEAR_MIDNIGHT = (45 * 60, 3600, 3 * 3600, 6 * 3600, 12 * 3600)  # seconds, widening


@dataclass
class _Rec:
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


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _us(instant: datetime) -> int:
    return int(instant.timestamp() * 1_000_000)


def _rotate(plan: tuple[str, ...], k: int) -> tuple[str, ...]:
    k %= len(plan)
    return plan[k:] + plan[:k]


class _Generator:
    def __init__(self, landing: LandingZone, config: GeneratorConfig) -> None:
        self.landing = landing
        self.config = config
        self.world: World = build_world(config)
        self.dates = config.dates
        self.plant_ids = [p.plant_id for p in self.world.plants]
        self.zones = {p.plant_id: p.zone for p in self.world.plants}
        self.records: dict[str, list[_Rec]] = {s: [] for s in STREAMS}
        self.keys: dict[str, set] = {s: set() for s in STREAMS}
        self._rid = 0
        self.bad_counts: dict[str, dict[str, int]] = {
            s: dict.fromkeys(BAD_INPUT_KINDS[s], 0) for s in STREAMS
        }
        self.bad_files: list[dict] = []
        self.empty: set[tuple[str, str, date]] = set()  # (stream, plant, date)
        self.dup_file_partition: dict[str, tuple[str, date]] = {}
        self.extra_files: dict[tuple[str, str, date], list[tuple[str, str]]] = {}
        self.noise_seq: dict[str, int] = {}
        self.manifest_files: dict[str, dict[str, dict[str, list[dict]]]] = {
            s: {p: {d.isoformat(): [] for d in self.dates} for p in self.plant_ids} for s in STREAMS
        }
        self.redelivered_files: list[dict] = []

    # ---- helpers ---------------------------------------------------------------------
    def _new(self, stream: str, plant_id: str, fields: dict | None, instant: datetime) -> _Rec:
        self._rid += 1
        zone = self.zones[plant_id]
        d = local_date(instant, zone)
        rec = _Rec(self._rid, stream, plant_id, d, fields, instant, production_date=d)
        self.records[stream].append(rec)
        return rec

    def _register(self, rec: _Rec, key: tuple) -> None:
        rec.key = key
        self.keys[rec.stream].add(key)

    def _plan(self, stream: str, plant_id: str, d: date) -> tuple[str, ...]:
        k = self.plant_ids.index(plant_id) + self.dates.index(d)
        return _rotate(BATCH_PLANS[stream], k)

    def _count(self, stream: str, kind: str, n: int = 1) -> None:
        self.bad_counts[stream][kind] += n

    # ---- clean data --------------------------------------------------------------------
    def generate_clean(self) -> None:
        cfg = self.config
        for p in self.world.plants:
            zone = p.zone
            for m in p.machines:
                rng = random.Random(f"{cfg.seed}/streams/{m.machine_id}")
                shot_seq = rng.randint(10_000, 90_000)
                for d in self.dates:
                    start, end = day_bounds(d, zone)
                    self._readings(rng, m, start, end)
                    shot_seq = self._shots(rng, m, start, end, shot_seq)
                # machine events
                for t, state, reason in m.events:
                    fields = {
                        "machine_id": m.machine_id,
                        "plant_id": m.plant_id,
                        "ts": fmt_ts(t, zone, "seconds"),
                        "state": state,
                        "reason_code": reason,
                    }
                    rec = self._new("machine_events", m.plant_id, fields, t)
                    self._register(rec, (m.machine_id, _us(t)))
        self._inspections()

    def _readings(self, rng: random.Random, m, start: datetime, end: datetime) -> None:
        n = self.config.readings_per_machine_per_day
        if n <= 0:
            return
        span_ms = int((end - start).total_seconds() * 1000)
        step = span_ms / n
        humidity_base = 45.0 if m.plant_id == self.plant_ids[0] else 52.0
        for k in range(n):
            off = int((k + 0.5 + rng.uniform(-0.35, 0.35)) * step)
            t = start + timedelta(milliseconds=off)
            state = m.state_at(t)
            fields = {
                "device_id": m.device_id,
                "plant_id": m.plant_id,
                "machine_id": m.machine_id,
                "ts": fmt_ts(t, m.zone),
                "firmware": m.firmware,
                "status": _status(state),
                "metrics": _metrics(rng, state, humidity_base),
            }
            rec = self._new("sensor_readings", m.plant_id, fields, t)
            self._register(rec, (m.device_id, _us(t)))

    def _shots(self, rng: random.Random, m, start: datetime, end: datetime, seq: int) -> int:
        n_target = self.config.shots_per_machine_per_day
        intervals = m.running_intervals(start, end)
        total_ms = sum(int((b - a).total_seconds() * 1000) for a, b in intervals)
        if n_target <= 0 or total_ms <= 0:
            return seq
        n = max(1, round(n_target * rng.uniform(0.9, 1.1)))
        step = total_ms / n
        offsets = [int((k + 0.5 + rng.uniform(-0.3, 0.3)) * step) for k in range(n)]
        i, base = 0, 0
        for off in offsets:
            while i < len(intervals):
                a, b = intervals[i]
                length = int((b - a).total_seconds() * 1000)
                if off - base < length:
                    break
                base += length
                i += 1
            if i >= len(intervals):
                break
            t = intervals[i][0] + timedelta(milliseconds=off - base)
            mold_id = m.mold_at(t)
            if mold_id is None:
                continue
            seq += 1
            shot_id = f"{m.machine_id}-{seq:06d}"
            fields = {
                "shot_id": shot_id,
                "plant_id": m.plant_id,
                "machine_id": m.machine_id,
                "ts": fmt_ts(t, m.zone),
                "mold_id": mold_id,
                "content": self._content(rng, mold_id),
            }
            rec = self._new("shots", m.plant_id, fields, t)
            self._register(rec, (shot_id,))
        return seq

    def _content(self, rng: random.Random, mold_id: str | None) -> str:
        mold = self.world.molds[mold_id] if mold_id else None
        ideal = mold.ideal_cycle_time_s if mold else 30.0
        content = {
            "cycle_time_s": round(ideal * rng.uniform(1.0, 1.2), 1),
            "cushion_mm": round(rng.gauss(5.0, 0.3), 2),
            "injection_pressure_bar": round(
                rng.gauss(mold.injection_pressure_bar if mold else 600, 15)
            ),
            "melt_temp_c": round(rng.gauss(mold.melt_temp_c if mold else 230.0, 1.5), 1),
            "mold_temp_c": round(rng.gauss(mold.mold_temp_c if mold else 50.0, 1.0), 1),
            "shot_weight_g": round(
                (mold.shot_weight_g if mold else 40.0) * rng.gauss(1.0, 0.003), 1
            ),
        }
        return json.dumps(content)

    def _inspections(self) -> None:
        cfg = self.config
        for p in self.world.plants:
            for m in p.machines:
                rng = random.Random(f"{cfg.seed}/inspections/{m.machine_id}")
                reject_p = rng.uniform(0.005, 0.04)
                hours: dict[tuple[datetime, str], int] = {}
                for rec in self.records["shots"]:
                    if rec.fields is None or rec.fields["machine_id"] != m.machine_id:
                        continue
                    mold = self.world.molds[rec.fields["mold_id"]]
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
                        "defect_code": rng.choice(
                            ["SHORT_SHOT", "FLASH", "SINK_MARK", "BURN_MARK", "WARPAGE"]
                        )
                        if rejected
                        else None,
                    }
                    rec = self._new("quality_inspections", m.plant_id, fields, hour)
                    self._register(rec, (m.machine_id, _us(hour), part_id))

    # ---- bad input -----------------------------------------------------------------------
    def inject_bad_input(self) -> None:
        cfg = self.config
        r = random.Random(f"{cfg.seed}/bad")
        lo, hi = cfg.bad_per_kind

        def howmany(n_variants: int = 1) -> int:
            n = r.randint(lo, hi)
            return max(n, n_variants) if n > 0 else 0

        # an empty partition: the last plant's inspection export of the last day never came
        last = ("quality_inspections", self.plant_ids[-1], self.dates[-1])
        self.empty.add(last)
        self.records["quality_inspections"] = [
            x
            for x in self.records["quality_inspections"]
            if (x.plant_id, x.folder) != (last[1], last[2])
        ]
        self._count("quality_inspections", "empty_partition")
        self.bad_files.append(
            {
                "stream": last[0],
                "kind": "empty_partition",
                "plant_id": last[1],
                "date": last[2].isoformat(),
                "key": None,
            }
        )

        for stream in STREAMS:
            parts = [
                (p, d)
                for p in self.plant_ids
                for d in self.dates
                if (stream, p, d) not in self.empty
            ]
            self.dup_file_partition[stream] = r.choice(parts)

        for stream in STREAMS:
            self._inject_stream(r, stream, howmany)

        # file-level garbage
        for stream, kind in (
            ("sensor_readings", "corrupt_gzip"),
            ("shots", "corrupt_gzip"),
            ("sensor_readings", "not_json_file"),
            ("machine_events", "not_json_file"),
        ):
            p, d = r.choice(
                [
                    (p, d)
                    for p in self.plant_ids
                    for d in self.dates
                    if (stream, p, d) not in self.empty
                ]
            )
            self.extra_files.setdefault((stream, p, d), []).append((kind, f"{r.random():.12f}"))
            self._count(stream, kind)

    def _eligible(self, rec: _Rec, interior: bool = True) -> bool:
        if rec.special or rec.fields is None:
            return False
        if (rec.stream, rec.plant_id, rec.folder) in self.empty:
            return False
        if interior:
            if rec.interior is None:
                start, end = day_bounds(rec.folder, self.zones[rec.plant_id])
                margin = timedelta(minutes=90)
                rec.interior = start + margin <= rec.instant < end - margin
            return rec.interior
        return True

    def _pick(self, r: random.Random, stream: str, n: int, pred=None) -> list[_Rec]:
        cands = [x for x in self.records[stream] if self._eligible(x) and (pred is None or pred(x))]
        picked = r.sample(cands, min(n, len(cands)))
        for x in picked:
            x.special = True
        return picked

    def _mark(self, rec: _Rec, kind: str, variant: str | None, formats=None) -> None:
        rec.kind, rec.variant, rec.formats, rec.special = kind, variant, formats, True
        self._count(rec.stream, kind)

    def _clone(
        self,
        r: random.Random,
        tpl: _Rec,
        kind: str,
        variant: str | None,
        formats=None,
        days: int = 0,
    ) -> _Rec:
        """An extra record cloned from ``tpl`` with a fresh, unique key."""
        self._rid += 1
        rec = _Rec(
            self._rid,
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
        self._rekey(r, rec, days)
        self.records[tpl.stream].append(rec)
        self._count(tpl.stream, kind)
        return rec

    def _rekey(self, r: random.Random, rec: _Rec, days: int) -> None:
        stream, f = rec.stream, rec.fields
        assert f is not None
        zone = self.zones[rec.plant_id]
        spec = TS_SPEC[stream]
        base = rec.instant + timedelta(days=days)
        if stream == "quality_inspections":
            hour = base
            parts = sorted(self.world.parts)
            start = r.randrange(len(parts))
            for i in range(len(parts)):
                part = parts[(start + i) % len(parts)]
                key = (f["machine_id"], _us(hour), part)
                if key not in self.keys[stream] and (days != 0 or part != f["part_id"]):
                    break
            else:  # every part taken: move to another hour
                hour = hour + timedelta(hours=1)
                key = (f["machine_id"], _us(hour), part)
            f["part_id"], f["hour_start"] = part, fmt_ts(hour, zone, spec)
            rec.instant = hour
        else:
            while True:
                if stream == "machine_events":
                    t = base + timedelta(seconds=r.randint(5, 55))
                    key = (f["machine_id"], _us(t))
                elif stream == "sensor_readings":
                    t = base + timedelta(milliseconds=r.randint(1_000, 60_000))
                    key = (f["device_id"], _us(t))
                else:  # shots: fresh shot id from the machine's purge/noise counter
                    t = base + timedelta(milliseconds=r.randint(500, 5_000))
                    mid = f["machine_id"]
                    self.noise_seq[mid] = self.noise_seq.get(mid, 900_000) + 1
                    f["shot_id"] = f"{mid}-{self.noise_seq[mid]:06d}"
                    key = (f["shot_id"],)
                if key not in self.keys[stream]:
                    break
            f[TS_FIELD[stream]] = fmt_ts(t, zone, spec)
            rec.instant = t
        rec.production_date = local_date(rec.instant, zone)
        self._register(rec, key)

    def _inject_stream(self, r: random.Random, stream: str, howmany) -> None:
        ts_field = TS_FIELD[stream]
        spec = TS_SPEC[stream]
        is_insp = stream == "quality_inspections"
        any_json = JSON_FORMATS

        def pick_one(pred=None) -> _Rec | None:
            got = self._pick(r, stream, 1, pred)
            if got:
                got[0].special = False  # a template stays a plain record
            return got[0] if got else None

        # ---- quarantined extras (cloned with fresh keys) ----------------------------
        if not is_insp:
            variants = ["truncated_json", "json_array"]
            for i in range(howmany(len(variants))):
                tpl = pick_one()
                if tpl is None:
                    break
                v = variants[i % len(variants)]
                rec = self._clone(r, tpl, "malformed_record", v, any_json)
                text = json.dumps(rec.fields, ensure_ascii=False)
                rec.raw_line = (
                    text[: len(text) // 2]
                    if v == "truncated_json"
                    else json.dumps(list(rec.fields.values()), ensure_ascii=False)
                )
                rec.key, rec.production_date = None, None

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
                tpl = pick_one()
                if tpl is None:
                    break
                v = variants[i % len(variants)]
                formats = {
                    "absent": any_json,
                    "null": ("parquet",) if is_insp else any_json,
                    "blank": ("parquet",) if is_insp else any_json,
                    "empty_cell": ("csv",),
                }[v]
                rec = self._clone(r, tpl, kind, v, formats)
                assert rec.fields is not None
                if v == "absent":
                    del rec.fields[name]
                elif v == "blank":
                    rec.fields[name] = " " if is_insp else ""
                else:
                    rec.fields[name] = None
                if name == ts_field:
                    rec.production_date = None

        for i in range(howmany()):
            tpl = pick_one()
            if tpl is None:
                break
            rec = self._clone(r, tpl, "unparseable_ts", None)
            rec.fields[ts_field] = BAD_TIMESTAMPS[i % len(BAD_TIMESTAMPS)]
            rec.variant = rec.fields[ts_field]
            rec.key, rec.production_date = None, None

        variants = ["past", "future"]
        for i in range(howmany(len(variants))):
            tpl = pick_one()
            if tpl is None:
                break
            v = variants[i % 2]
            days = r.randint(2, 4) * (-1 if v == "past" else 1)
            self._clone(r, tpl, "out_of_window", v, None, days=days)

        if stream == "machine_events":
            bad_states = ["WARMUP", "MAINTENANCE", "UNKNOWN", "ERROR", "OFF"]
            for i in range(howmany()):
                tpl = pick_one()
                if tpl is None:
                    break
                rec = self._clone(r, tpl, "invalid_state", None)
                rec.fields["state"] = rec.variant = bad_states[i % len(bad_states)]

        if is_insp:
            variants = ["negative", "non_integer"]
            for i in range(howmany(len(variants))):
                tpl = pick_one()
                if tpl is None:
                    break
                v = variants[i % 2]
                rec = self._clone(r, tpl, "invalid_count", v, None if v == "negative" else ("csv",))
                f = rec.fields
                col = "inspected_count" if i % 4 < 2 else "rejected_count"
                if v == "negative":
                    f[col] = -r.randint(1, 20)
                else:
                    f[col] = f"{max(int(f[col]), 1) - 1}.5"

        # ---- valid records, modified in place ---------------------------------------------
        # ts without offset (plant-local wall time)
        def roundtrips(x: _Rec) -> bool:
            zone = self.zones[x.plant_id]
            naive = x.instant.astimezone(zone).replace(tzinfo=None)
            return naive.replace(tzinfo=zone).astimezone(UTC) == x.instant

        for x in self._pick(r, stream, howmany(), roundtrips):
            x.fields[ts_field] = fmt_local_naive(x.instant, self.zones[x.plant_id], spec)
            self._mark(x, "ts_without_offset", "plain")
        if stream == "sensor_readings" and self.bad_counts[stream]["ts_without_offset"]:
            self._dst_gap_readings(r)

        # plant mismatch
        for x in self._pick(r, stream, howmany()):
            others = [p for p in self.plant_ids if p != x.plant_id] or ["P99"]
            x.fields["plant_id"] = r.choice(others)
            self._mark(x, "plant_mismatch", x.fields["plant_id"])

        # midnight skew
        if len(self.dates) >= 2:
            for i in range(howmany(2)):
                self._skew(r, stream, "previous_day" if i % 2 == 0 else "next_day")

        if stream == "sensor_readings":
            self._sensor_values(r, howmany)
        if stream == "shots":
            self._shot_molds(r, howmany)

        # exact re-deliveries of single records (another file of the same folder)
        family = {
            "sensor_readings": any_json,
            "shots": any_json,
            "machine_events": ("jsonl",),
            "quality_inspections": ("csv",),
        }[stream]
        dup_part = self.dup_file_partition[stream]
        for x in self._pick(r, stream, howmany(), lambda x: (x.plant_id, x.folder) != dup_part):
            x.formats = family  # the original: special (kept out of the re-delivered batch)
            self._rid += 1
            dup = _Rec(
                self._rid,
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
            self.records[stream].append(dup)
            self._count(stream, "duplicate_record")

    def _dst_gap_readings(self, r: random.Random) -> None:
        """One extra reading whose offset-less wall time falls in a spring-forward gap."""
        for p in self.world.plants:
            for d in self.dates:
                start, end = day_bounds(d, p.zone)
                if end - start >= timedelta(hours=24):
                    continue  # no gap on this day
                t = start
                while (
                    t < end
                    and t.astimezone(p.zone).utcoffset() == start.astimezone(p.zone).utcoffset()
                ):
                    t += timedelta(minutes=1)
                before = start.astimezone(p.zone).utcoffset()
                gap = t.astimezone(p.zone).utcoffset() - before
                # wall clock just before the jump, plus half the gap: a time that never exists
                wall = (t + before).replace(tzinfo=None) + gap / 2
                m = p.machines[0]
                instant = wall.replace(tzinfo=p.zone).astimezone(UTC)  # fold=0: shifted forward
                while (m.device_id, _us(instant)) in self.keys["sensor_readings"]:
                    instant += timedelta(milliseconds=1)
                    wall += timedelta(milliseconds=1)
                state = m.state_at(instant)
                fields = {
                    "device_id": m.device_id,
                    "plant_id": m.plant_id,
                    "machine_id": m.machine_id,
                    "ts": wall.isoformat(timespec="milliseconds"),
                    "firmware": m.firmware,
                    "status": _status(state),
                    "metrics": _metrics(r, state, 45.0),
                }
                rec = self._new("sensor_readings", p.plant_id, fields, instant)
                self._register(rec, (m.device_id, _us(instant)))
                self._mark(rec, "ts_without_offset", "dst_gap")
                return

    def _skew(self, r: random.Random, stream: str, variant: str) -> None:
        for limit in _NEAR_MIDNIGHT:
            cands = []
            for x in self.records[stream]:
                if not self._eligible(x, interior=False):
                    continue
                zone = self.zones[x.plant_id]
                start, end = day_bounds(x.folder, zone)
                if variant == "previous_day":
                    target = x.folder + timedelta(days=1)
                    near = (end - x.instant).total_seconds() <= limit
                else:
                    target = x.folder - timedelta(days=1)
                    near = (x.instant - start).total_seconds() < limit
                if near and target in self.dates and (stream, x.plant_id, target) not in self.empty:
                    cands.append((x, target))
            if cands:
                x, target = r.choice(cands)
                x.folder = target
                self._mark(x, "midnight_skew", variant)
                return

    def _sensor_values(self, r: random.Random, howmany) -> None:
        stream = "sensor_readings"
        for x in self._pick(r, stream, howmany()):
            metric = r.choice(METRICS)
            x.fields["metrics"][metric] = str(x.fields["metrics"][metric])
            self._mark(x, "numeric_string", metric, JSON_FORMATS)
        for i, x in enumerate(self._pick(r, stream, howmany())):
            metric = r.choice(METRICS)
            value = x.fields["metrics"][metric]
            bad = ["n/a", "ERR", "--", str(value).replace(".", ",")]
            x.fields["metrics"][metric] = bad[i % len(bad)]
            self._mark(x, "unparseable", metric, None)
        # firmware 3.1.0 on one device at the end of the window: Fahrenheit
        n = howmany()
        if n:
            device = r.choice([m.device_id for p in self.world.plants for m in p.machines])
            last_day = self.dates[-1]
            # the device's last readings of the window (after the upgrade), in time order
            cands = sorted(
                (
                    x
                    for x in self.records[stream]
                    if self._eligible(x, interior=False)
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
                self._mark(x, "temperature_f", device, JSON_FORMATS)
        for i, x in enumerate(self._pick(r, stream, howmany(2))):
            if i % 2 == 0:
                x.fields["metrics"]["spindle_rpm"] = r.randint(60, 320)
                self._mark(x, "unknown_metric", "spindle_rpm", None)
            else:
                x.fields["metrics"]["oil_level_pct"] = round(r.uniform(60, 95), 1)
                self._mark(x, "unknown_metric", "oil_level_pct", None)
        statuses = ["maintenance", "unknown", "standby", "err"]
        for i, x in enumerate(self._pick(r, stream, howmany())):
            x.fields["status"] = statuses[i % len(statuses)]
            self._mark(x, "invalid_status", x.fields["status"])
        sentinels = [9999, -9999, -999]
        for i, x in enumerate(self._pick(r, stream, howmany(len(sentinels)))):
            metric = r.choice(METRICS)
            x.fields["metrics"][metric] = sentinels[i % len(sentinels)]
            self._mark(x, "sentinel", f"{metric}={sentinels[i % len(sentinels)]}")
        oor = [
            ("temperature_c", 162.4),
            ("humidity_pct", 104.6),
            ("pressure_bar", -1.2),
            ("vibration_mm_s", 131.7),
            ("temperature_c", -47.5),
            ("pressure_bar", 412.0),
        ]
        for i, x in enumerate(self._pick(r, stream, howmany())):
            metric, value = oor[i % len(oor)]
            x.fields["metrics"][metric] = value
            self._mark(x, "out_of_range", metric)

    def _shot_molds(self, r: random.Random, howmany) -> None:
        variants = ["absent", "null", "blank"]
        for i, x in enumerate(self._pick(r, "shots", howmany(len(variants)))):
            v = variants[i % len(variants)]
            if v == "absent":
                del x.fields["mold_id"]
            else:
                x.fields["mold_id"] = None if v == "null" else ""
            self._mark(x, "missing_mold_id", v, JSON_FORMATS)
        # purge shots while no mold is mounted (mold change with a gap)
        change = next((c for c in self.world.mold_changes if c["gap"]), None)
        if change is None:
            return
        m = self.world.machine(change["machine_id"])
        t1 = datetime.fromisoformat(change["unmounted_at"]).astimezone(UTC)
        t2 = datetime.fromisoformat(change["mounted_at"]).astimezone(UTC)
        n = howmany()
        span = int((t2 - t1).total_seconds() * 1000)
        for k in range(n):
            t = t1 + timedelta(milliseconds=int((k + 1) * span / (n + 1)))
            assert m.mold_at(t) is None
            self.noise_seq[m.machine_id] = self.noise_seq.get(m.machine_id, 900_000) + 1
            shot_id = f"{m.machine_id}-{self.noise_seq[m.machine_id]:06d}"
            fields = {
                "shot_id": shot_id,
                "plant_id": m.plant_id,
                "machine_id": m.machine_id,
                "ts": fmt_ts(t, m.zone),
                "mold_id": None,
                "content": self._content(r, None),
            }
            if k % 2 == 1:
                del fields["mold_id"]
            rec = self._new("shots", m.plant_id, fields, t)
            self._register(rec, (shot_id,))
            self._mark(rec, "unresolved_mold", "null" if k % 2 == 0 else "absent", JSON_FORMATS)

    # ---- placement and writing ---------------------------------------------------------
    def write(self) -> dict:
        r = random.Random(f"{self.config.seed}/placement")
        by_rid = {x.rid: x for s in STREAMS for x in self.records[s]}
        for stream in STREAMS:
            groups: dict[tuple[str, date], list[_Rec]] = {}
            for x in self.records[stream]:
                groups.setdefault((x.plant_id, x.folder), []).append(x)
            for p in self.plant_ids:
                for d in self.dates:
                    if (stream, p, d) in self.empty:
                        assert not groups.get((p, d))
                        continue
                    self._write_partition(r, stream, p, d, groups.get((p, d), []), by_rid)
        return self._write_reference()

    def _write_partition(self, r, stream, plant_id, d, recs, by_rid) -> None:
        plan = self._plan(stream, plant_id, d)
        zone = self.zones[plant_id]
        start, end = day_bounds(d, zone)
        span = (end - start).total_seconds()
        batches: list[list[_Rec]] = [[] for _ in plan]
        for x in recs:
            if not x.special:
                i = int((x.instant - start).total_seconds() / span * len(plan))
                batches[min(max(i, 0), len(plan) - 1)].append(x)
        redeliver = None
        if self.config.bad_input and self.dup_file_partition.get(stream) == (plant_id, d):
            pref = "csv" if stream == "quality_inspections" else "jsonl"
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
        prefix = FILE_PREFIX[stream]
        folder = f"raw/{stream}/plant={plant_id}/date={d.isoformat()}"
        entries = self.manifest_files[stream][plant_id][d.isoformat()]
        seq = 0
        written: dict[int, tuple[str, bytes, int]] = {}
        for i, (fmt, batch) in enumerate(zip(plan, batches, strict=True)):
            seq += 1
            if not batch:
                continue
            batch.sort(key=lambda x: (x.instant, x.rid))
            key = f"{folder}/{prefix}-{d:%Y%m%d}-{seq:04d}.{fmt}"
            data, lines = _serialize(stream, fmt, batch)
            for x, line in zip(batch, lines, strict=True):
                x.location = (key, line)
            self.landing.write_bytes(key, data)
            entries.append(_file_entry(key, fmt, data, len(batch)))
            written[i] = (key, data, len(batch))
        if redeliver is not None:
            seq += 1
            src_key, data, n = written[redeliver]
            fmt = plan[redeliver]
            key = f"{folder}/{prefix}-{d:%Y%m%d}-{seq:04d}.{fmt}"
            self.landing.write_bytes(key, data)
            entry = _file_entry(key, fmt, data, n)
            entry["redelivery_of"] = src_key
            entries.append(entry)
            self.redelivered_files.append(
                {
                    "stream": stream,
                    "plant_id": plant_id,
                    "date": d.isoformat(),
                    "original_key": src_key,
                    "copy_key": key,
                    "records": n,
                    "sha256": entry["sha256"],
                }
            )
            self.bad_files.append(
                {
                    "stream": stream,
                    "kind": "duplicate_file",
                    "plant_id": plant_id,
                    "date": d.isoformat(),
                    "key": key,
                }
            )
            self._count(stream, "duplicate_file")
        for kind, salt in self.extra_files.get((stream, plant_id, d), []):
            seq += 1
            if kind == "corrupt_gzip":
                fmt = "jsonl.gz"
                rnd = random.Random(f"{self.config.seed}/{salt}")
                # valid gzip header, then a deflate block of the reserved type 3: unreadable
                data = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\xff" + rnd.randbytes(200)
                n = 0
            else:
                fmt = "jsonl"
                request = hashlib.sha1(f"{self.config.seed}/{salt}".encode()).hexdigest()
                data = NOT_JSON_PAGE.format(request=request).encode()
                n = 1
            key = f"{folder}/{prefix}-{d:%Y%m%d}-{seq:04d}.{fmt}"
            self.landing.write_bytes(key, data)
            entry = _file_entry(key, fmt, data, n)
            entry[kind] = True
            entries.append(entry)
            self.bad_files.append(
                {
                    "stream": stream,
                    "kind": kind,
                    "plant_id": plant_id,
                    "date": d.isoformat(),
                    "key": key,
                }
            )

    def _write_reference(self) -> dict:
        ref: dict[str, dict] = {}
        for entity in ENTITIES:
            cols = ENTITY_COLUMNS[entity]
            ref[entity] = {"columns": list(cols), "snapshots": {}}
            for d in self.dates:
                rows = self.world.snapshot(entity, d)
                buf = io.StringIO()
                w = csv.writer(buf, lineterminator="\n")
                w.writerow(cols)
                for row in rows:
                    w.writerow(["" if row[c] is None else row[c] for c in cols])
                key = f"reference/{entity}/snapshot_date={d.isoformat()}/{entity}.csv"
                self.landing.write_bytes(key, buf.getvalue().encode("utf-8"))
                ref[entity]["snapshots"][d.isoformat()] = {"key": key, "rows": len(rows)}
        return ref

    # ---- manifest ----------------------------------------------------------------------
    def manifest(self, reference: dict) -> dict:
        streams: dict[str, Any] = {}
        for s in STREAMS:
            parts: dict[str, Any] = {}
            tot_files = tot_recs = 0
            for p in self.plant_ids:
                parts[p] = {}
                for d in self.dates:
                    files = self.manifest_files[s][p][d.isoformat()]
                    n = sum(f["records"] for f in files)
                    parts[p][d.isoformat()] = {
                        "files": len(files),
                        "records": n,
                        "file_list": files,
                    }
                    tot_files += len(files)
                    tot_recs += n
            streams[s] = {"files": tot_files, "records": tot_recs, "partitions": parts}

        bad_records = []
        redelivered_records = []
        for s in STREAMS:
            for x in self.records[s]:
                if x.kind is None:
                    continue
                assert x.location is not None, (s, x.kind)
                entry = {
                    "stream": s,
                    "kind": x.kind,
                    "variant": x.variant,
                    "plant_id": x.plant_id,
                    "date": x.folder.isoformat(),
                    "production_date": x.production_date.isoformat() if x.production_date else None,
                    "key": x.location[0],
                    "line": x.location[1],
                }
                bad_records.append(entry)
                if x.kind == "duplicate_record":
                    orig = next(o for o in self.records[s] if o.rid == x.dup_of)
                    assert orig.location is not None
                    entry["original_key"], entry["original_line"] = orig.location
                    redelivered_records.append(
                        {
                            "stream": s,
                            "key": x.location[0],
                            "line": x.location[1],
                            "original_key": orig.location[0],
                            "original_line": orig.location[1],
                        }
                    )
        bad_records.sort(key=lambda e: (e["stream"], e["kind"], e["key"], e["line"]))
        redelivered_records.sort(key=lambda e: (e["stream"], e["key"], e["line"]))
        # per-record counts are authoritative from the records themselves
        for s in STREAMS:
            counted = dict.fromkeys(BAD_INPUT_KINDS[s], 0)
            for e in bad_records:
                if e["stream"] == s:
                    counted[e["kind"]] += 1
            for f in self.bad_files:
                if f["stream"] == s:
                    counted[f["kind"]] += 1
            assert counted == self.bad_counts[s], (s, counted, self.bad_counts[s])

        w = self.world
        return {
            "generator_version": GENERATOR_VERSION,
            "config": self.config.to_dict(),
            "plants": [
                {
                    "plant_id": p.plant_id,
                    "timezone": p.spec.timezone,
                    "machines": [m.machine_id for m in p.machines],
                    "devices": [m.device_id for m in p.machines],
                }
                for p in w.plants
            ],
            "dates": [d.isoformat() for d in self.dates],
            "streams": streams,
            "reference": reference,
            "bad_input": {s: dict(self.bad_counts[s]) for s in STREAMS},
            "bad_records": bad_records,
            "bad_files": sorted(
                self.bad_files, key=lambda f: (f["stream"], f["kind"], f["key"] or "")
            ),
            "redelivered_records": redelivered_records,
            "redelivered_files": sorted(self.redelivered_files, key=lambda f: f["copy_key"]),
            "empty_partitions": [
                {"stream": s, "plant_id": p, "date": d.isoformat()}
                for s, p, d in sorted(self.empty)
            ],
            "history": {
                "machine_tonnage_change": w.tonnage_change,
                "mold_changes": w.mold_changes,
                "company_rename": w.company_rename,
                "states_spanning_midnight": self._spanning_midnight(),
            },
        }

    def _spanning_midnight(self) -> int:
        n = 0
        for p in self.world.plants:
            for d in self.dates[1:]:
                midnight = day_bounds(d, p.zone)[0]
                for m in p.machines:
                    before = [e for e in m.events if e[0] < midnight]
                    if before and all(e[0] != midnight for e in m.events):
                        n += 1
        return n


def _status(state: str) -> str:
    return "active" if state == "RUNNING" else ("faulty" if state == "DOWN" else "idle")


def _metrics(rng: random.Random, state: str, humidity_base: float) -> dict[str, float]:
    if state == "RUNNING":
        temp, pres, vib = rng.gauss(72, 2.5), rng.gauss(5.5, 0.6), rng.gauss(4.0, 0.8)
    elif state == "DOWN":
        temp, pres, vib = rng.gauss(45, 5), rng.gauss(0.8, 0.3), rng.gauss(1.5, 0.6)
    else:
        temp, pres, vib = rng.gauss(38, 3), rng.gauss(1.2, 0.2), rng.gauss(0.6, 0.2)
    hum = rng.gauss(humidity_base, 4)

    def clamp(metric: str, v: float, nd: int) -> float:
        lo, hi = METRIC_RANGES[metric]
        return round(min(max(v, lo + 0.1), hi - 0.1), nd)

    return {
        "temperature_c": clamp("temperature_c", temp, 1),
        "humidity_pct": clamp("humidity_pct", hum, 1),
        "pressure_bar": clamp("pressure_bar", pres, 2),
        "vibration_mm_s": clamp("vibration_mm_s", vib, 2),
    }


def _cell(v: Any) -> str:
    if v is None:
        return ""
    return str(v)


def _serialize(stream: str, fmt: str, batch: list[_Rec]) -> tuple[bytes, list[int]]:
    if fmt in JSON_FORMATS:
        lines = [
            x.raw_line if x.raw_line is not None else json.dumps(x.fields, ensure_ascii=False)
            for x in batch
        ]
        data = ("\n".join(lines) + "\n").encode("utf-8")
        if fmt == "jsonl.gz":
            data = gzip.compress(data, compresslevel=6, mtime=0)
        return data, list(range(1, len(batch) + 1))
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        if stream == "sensor_readings":
            extra: list[str] = []
            for x in batch:
                for k in x.fields.get("metrics", {}):
                    if k not in METRICS and k not in extra:
                        extra.append(k)
            cols = list(SENSOR_CSV_BASE) + list(METRICS) + extra
            w.writerow(cols)
            for x in batch:
                f, mt = x.fields, x.fields.get("metrics", {})
                w.writerow(
                    [_cell(f.get(c)) for c in SENSOR_CSV_BASE]
                    + [_cell(mt.get(c)) for c in cols[6:]]
                )
        else:
            w.writerow(INSPECTION_COLUMNS)
            for x in batch:
                w.writerow([_cell(x.fields.get(c)) for c in INSPECTION_COLUMNS])
        return buf.getvalue().encode("utf-8"), list(range(2, len(batch) + 2))
    if fmt == "parquet":
        assert stream == "quality_inspections"
        schema = pa.schema(
            [
                ("machine_id", pa.string()),
                ("plant_id", pa.string()),
                ("hour_start", pa.string()),
                ("part_id", pa.string()),
                ("inspected_count", pa.int64()),
                ("rejected_count", pa.int64()),
                ("defect_code", pa.string()),
            ]
        )
        cols = {c: [x.fields.get(c) for x in batch] for c in INSPECTION_COLUMNS}
        table = pa.table(cols, schema=schema)
        out = io.BytesIO()
        pq.write_table(table, out, compression="snappy")
        return out.getvalue(), list(range(1, len(batch) + 1))
    raise ValueError(fmt)


def _file_entry(key: str, fmt: str, data: bytes, records: int) -> dict:
    return {
        "key": key,
        "format": fmt,
        "records": records,
        "bytes": len(data),
        "sha256": _sha256(data),
    }


def generate_landing_zone(landing: LandingZone, config: GeneratorConfig | None = None) -> dict:
    """Write the sample landing zone and return its manifest (also ``manifest.json``)."""
    config = config or GeneratorConfig()
    gen = _Generator(landing, config)
    gen.generate_clean()
    if config.bad_input:
        gen.inject_bad_input()
    reference = gen.write()
    manifest = gen.manifest(reference)
    landing.write_bytes(
        "manifest.json", (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    )
    return manifest
