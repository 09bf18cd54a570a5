"""Replay: re-land dead-lettered Kafka records or quarantined rows, after a fix, idempotently.

What is replayed becomes **new files in the landing zone**; the landing sensor routes them as
any delivery (bronze, silver, ...)::

    raw/<stream>/plant=<P>/date=<D>/replay-<kind>-<digest>.jsonl

- ``quarantine``: rows of ``quarantine/<stream>`` (selected by stream, plant, landing date,
  reason). The record is the row's ``raw_payload`` (a JSON object; CSV rows are kept as one),
  re-landed under the plant and ``date=`` folder it first landed in. Rows whose payload is
  not a JSON object (``malformed_record`` text) cannot be corrected here and are skipped.
- ``deadletters``: lines of ``deadletter/kafka/`` (selected by stream, plant, date after
  routing). Each is routed again exactly as the landing pass routes a message
  (``kafka/records.LineEncoder``, today's master data): a message that still cannot be
  routed is reported with its error and left for a later replay.

**The fix.** A fix of master data or of the platform applies by itself (dead letters are
routed again). A fix of the records is ``set_fields``: fields set on every selected record
(``--set machine_id=P01-M003``). A fix of a silver rule needs no replay: re-materialize the
plant-days (the original files are read again).

**Idempotent.** Every record has an id: sha256 of its kind, stream, origin (the quarantined
row's ``source`` + line, or the dead letter's topic/partition/offset) and the record as
re-landed (after the fix). The ledger (Delta, ``<lake>/_system/replay_ledger``, one row per
re-landed record) keeps the ids: a record already there is not re-landed, so replaying the
same selection twice re-lands nothing, while a different fix of the same record is a new
record. A re-landed line carries ``"_replay": {"id", "origin"}``, so a replayed record that is
quarantined again keeps its first origin (replaying it again with the same fix is a no-op).
The file key is a function of the ids it holds: a replay that died between writing a file
and its ledger rows rewrites the same key (left alone) and records the rows.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import polars as pl

from manufacturing_assets.contract import STREAMS
from manufacturing_assets.io_managers.delta import read_delta
from manufacturing_assets.kafka.files import DEADLETTER_PREFIX
from manufacturing_assets.kafka.records import LineEncoder
from manufacturing_assets.kafka.routing import DeadLetter, ReferenceData
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets.resources.replay_ledger import REPLAY_LEDGER_SCHEMA, ReplayLedger

KINDS = ("quarantine", "deadletters")


@dataclass(frozen=True)
class Selection:
    """Which records to replay (None or empty: no restriction on that dimension)."""

    streams: Sequence[str] | None = None
    plants: Sequence[str] | None = None
    dates: Sequence[date] | None = None  # the landing (folder) date the record goes to
    reasons: Sequence[str] | None = None  # quarantine only

    def keeps(self, stream: str, plant: str, day: date) -> bool:
        return (
            (not self.streams or stream in self.streams)
            and (not self.plants or plant in self.plants)
            and (not self.dates or day in self.dates)
        )


@dataclass
class Candidate:
    record_id: str
    kind: str
    origin: str
    stream: str
    plant: str
    day: date
    line: str


@dataclass
class ReplayReport:
    kind: str
    dry_run: bool
    selected: int = 0
    relanded: int = 0
    already_replayed: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)  # not replayable, with why
    files: list[str] = field(default_factory=list)
    counts: list[dict[str, Any]] = field(default_factory=list)  # stream, plant, date, records

    def summary(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "dry_run": self.dry_run,
            "selected": self.selected,
            "relanded": self.relanded,
            "already_replayed": self.already_replayed,
            "skipped": len(self.skipped),
            "counts": self.counts,
            "files": self.files,
        }

    def format(self) -> str:
        verb = "would re-land" if self.dry_run else "re-landed"
        lines = [
            f"replay {self.kind}: {self.selected} selected, {verb} {self.relanded}, "
            f"{self.already_replayed} already replayed, {len(self.skipped)} skipped"
        ]
        for c in self.counts:
            lines.append(f"  {c['stream']:20} {c['plant_id']:8} {c['date']}  {c['records']:>7}")
        lines += [f"  file {k}" for k in self.files]
        for s in self.skipped[:20]:
            lines.append(f"  skipped {s['origin']}: {s['why']}")
        if len(self.skipped) > 20:
            lines.append(f"  ... {len(self.skipped) - 20} more skipped")
        return "\n".join(lines)


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


def _fixed(record: dict[str, Any], set_fields: Mapping[str, Any]) -> dict[str, Any]:
    record = {k: v for k, v in record.items() if k != "_replay"}
    record.update(set_fields)
    return record


def _with_replay(text: str, record_id: str, origin: str) -> str:
    """``text`` (a JSON object) with ``"_replay"`` appended, the rest as it was sent."""
    meta = json.dumps({"id": record_id, "origin": origin}, ensure_ascii=False)
    body = text.strip()[:-1].rstrip()
    return f'{body}{"," if body != "{" else ""}"_replay":{meta}}}'


def parse_set_fields(pairs: Iterable[str]) -> dict[str, Any]:
    """``["machine_id=P01-M003", "count=3"]`` -> fields; a value is JSON when it parses as
    JSON (``3``, ``null``, ``"3"``), else text."""
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--set expects FIELD=VALUE, got {pair!r}")
        try:
            out[name.strip()] = json.loads(value)
        except ValueError:
            out[name.strip()] = value
    return out


# ------------------------------------------------------------------------- quarantine
def quarantine_candidates(
    ledger: ReplayLedger,
    selection: Selection,
    set_fields: Mapping[str, Any],
    report: ReplayReport,
) -> list[Candidate]:
    out: list[Candidate] = []
    for stream in selection.streams or STREAMS:
        frame = read_delta(ledger.table_uri("quarantine", stream), ledger.storage_options)
        if frame is None or frame.is_empty():
            continue
        if selection.plants:
            frame = frame.filter(pl.col("plant_id").is_in(list(selection.plants)))
        if selection.dates:
            frame = frame.filter(pl.col("landing_date").is_in(list(selection.dates)))
        if selection.reasons:
            frame = frame.filter(pl.col("reason").is_in(list(selection.reasons)))
        rows = frame.sort("source", "line_number").select(
            "plant_id", "landing_date", "source", "line_number", "raw_payload"
        )
        for plant, day, source, line_number, payload in rows.iter_rows():
            report.selected += 1
            origin = f"{source}:{line_number}"
            try:
                record = json.loads(payload) if payload is not None else None
            except ValueError:
                record = None
            if type(record) is not dict:
                report.skipped.append(
                    {"origin": origin, "why": "not a JSON object: fix it at the sender"}
                )
                continue
            first = record.get("_replay")
            if isinstance(first, dict) and isinstance(first.get("origin"), str):
                origin = first["origin"]  # a replayed record quarantined again
            fixed = _fixed(record, set_fields)
            # as landed (number literals kept) unless fields changed
            text = payload if not set_fields and "_replay" not in record else None
            text = text or json.dumps(fixed, ensure_ascii=False)
            record_id = _digest("quarantine", stream, origin, json.dumps(fixed, sort_keys=True))
            out.append(
                Candidate(
                    record_id,
                    "quarantine",
                    origin,
                    stream,
                    plant,
                    day,
                    _with_replay(text, record_id, origin),
                )
            )
    return out


# ------------------------------------------------------------------------ dead letters
@dataclass
class _Message:
    """A dead letter as the Kafka encoder sees a message."""

    _topic: str
    _partition: int
    _offset: int
    _key: bytes | None
    _value: bytes | None
    _timestamp: int | None

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def timestamp(self) -> tuple[int, int]:
        return (0, -1) if self._timestamp is None else (1, self._timestamp)


def _dead_value(entry: dict[str, Any]) -> bytes | None:
    if entry.get("value_base64") is not None:
        return base64.b64decode(entry["value_base64"])
    value = entry.get("value")
    return None if value is None else str(value).encode("utf-8")


def deadletter_candidates(
    landing: LandingZone,
    selection: Selection,
    set_fields: Mapping[str, Any],
    report: ReplayReport,
    now_ms: int,
) -> list[Candidate]:
    reference = ReferenceData(landing)
    encoder = LineEncoder(reference.router(reference.latest_pin()), fallback_ms=now_ms)
    out: list[Candidate] = []
    for obj in sorted(landing.list_objects(DEADLETTER_PREFIX), key=lambda o: o.key):
        for raw in landing.read_bytes(obj.key).decode("utf-8").splitlines():
            if not raw.strip():
                continue
            entry = json.loads(raw)
            stream = entry.get("stream")
            if selection.streams and stream not in selection.streams:
                continue
            origin = f"kafka://{entry['topic']}/{entry['partition']}/{entry['offset']}"
            value = _dead_value(entry)
            if set_fields and value is not None:
                try:
                    record = json.loads(value)
                except ValueError:
                    record = None
                if type(record) is dict:
                    value = json.dumps(_fixed(record, set_fields), ensure_ascii=False).encode()
            key = entry.get("key")
            message = _Message(
                entry["topic"],
                int(entry["partition"]),
                int(entry["offset"]),
                None if key is None else str(key).encode("utf-8"),
                value,
                entry.get("timestamp"),
            )
            try:
                plant, day, line = encoder.encode(message)
            except DeadLetter as exc:
                if not selection.plants and not selection.dates:
                    report.selected += 1
                    report.skipped.append({"origin": origin, "why": f"still a dead letter: {exc}"})
                continue
            if not selection.keeps(stream, plant, day):
                continue
            report.selected += 1
            digest_value = base64.b64encode(value or b"").decode("ascii")
            record_id = _digest("deadletters", stream, origin, digest_value)
            out.append(
                Candidate(
                    record_id,
                    "deadletters",
                    origin,
                    stream,
                    plant,
                    day,
                    _with_replay(line, record_id, origin),
                )
            )
    return out


# ------------------------------------------------------------------------------ replay
def replay(
    kind: str,
    landing: LandingZone,
    ledger: ReplayLedger,
    selection: Selection | None = None,
    set_fields: Mapping[str, Any] | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> ReplayReport:
    """Re-land the selected records of ``kind`` (``quarantine`` | ``deadletters``) that the
    ledger does not hold yet, as new files; record them in the ledger."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    selection = selection or Selection()
    unknown = [s for s in selection.streams or () if s not in STREAMS]
    if unknown:
        raise ValueError(f"unknown stream(s) {unknown}; streams are {', '.join(STREAMS)}")
    set_fields = dict(set_fields or {})
    now = now or datetime.now(UTC)
    report = ReplayReport(kind=kind, dry_run=dry_run)
    if kind == "quarantine":
        candidates = quarantine_candidates(ledger, selection, set_fields, report)
    else:
        now_ms = int(now.timestamp() * 1000)
        candidates = deadletter_candidates(landing, selection, set_fields, report, now_ms)

    done = ledger.replayed_ids()
    fresh: dict[str, Candidate] = {}
    for c in candidates:
        if c.record_id in done or c.record_id in fresh:
            report.already_replayed += 1
        else:
            fresh[c.record_id] = c
    groups: dict[tuple[str, str, date], list[Candidate]] = {}
    for c in fresh.values():
        groups.setdefault((c.stream, c.plant, c.day), []).append(c)

    rows: list[dict[str, Any]] = []
    for (stream, plant, day), members in sorted(groups.items()):
        members.sort(key=lambda c: (c.origin, c.record_id))
        digest = _digest(*(c.record_id for c in members))[:16]
        key = f"raw/{stream}/plant={plant}/date={day.isoformat()}/replay-{kind}-{digest}.jsonl"
        if not dry_run and not landing.exists(key):  # exists: written by a replay that died
            landing.write_bytes(key, ("\n".join(c.line for c in members) + "\n").encode())
        report.files.append(key)
        report.relanded += len(members)
        report.counts.append(
            {"stream": stream, "plant_id": plant, "date": day.isoformat(), "records": len(members)}
        )
        rows += [
            {
                "record_id": c.record_id,
                "kind": kind,
                "origin": c.origin,
                "stream": stream,
                "plant_id": plant,
                "landing_date": day,
                "file_key": key,
                "replayed_at": now,
            }
            for c in members
        ]
    if not dry_run:
        ledger.append(pl.DataFrame(rows, schema=REPLAY_LEDGER_SCHEMA))
    return report
