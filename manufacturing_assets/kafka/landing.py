"""Kafka -> landing zone, exactly once (docs/kafka.md).

One *landing pass* consumes the factory topics with the landing consumer group, decodes
every message, routes it to ``raw/<stream>/plant=<P>/date=<D>/`` and writes JSON-lines
files named by topic, partition and offset range::

    raw/<stream>/plant=<P>/date=<D>/kafka-<topic>-p<partition>-<first>-<last>.jsonl[.gz]
    deadletter/kafka/<topic>/p<partition>-<first>-<last>.jsonl
    ledger/kafka/<topic>/p<partition>.json          (offsets ledger, one per partition)

(offsets zero-padded to 12 digits so that key order is offset order). Routing: the plant
is the one master data ``machines`` gives the message key's machine (the record's
``machine_id`` when there is no key), else the record's ``plant_id``; the production date
is the plant-local date of ``ts`` (plant time zone from master data ``plants``; a ``ts``
without offset is plant-local: earlier offset in a DST fold, shifted forward in a gap).
A message that cannot be routed (not UTF-8, not a JSON object, no usable ``ts``, no
plant with a time zone) goes to the chunk's dead-letter file and never blocks its
partition.

Exactly once, per partition, in *chunks* of consecutive offsets ``[first, last]``:

1. **intent**: the ledger records ``pending = {first, last, stream, format, reference
   snapshot dates}``; everything that determines the chunk's file names and bytes;
2. the chunk's data files and dead-letter file are written (each atomically);
3. **done**: the ledger records ``next_offset = last + 1``, ``pending = null``;
4. the offset ``last + 1`` is committed to the consumer group.

On (re)assignment a partition starts from its ledger, not from the group's committed
offset: with a pending chunk it re-reads exactly ``[first, last]`` and writes those of
the chunk's files that are missing (a file that exists was written whole from the same
offsets and settings); otherwise it seeks to ``next_offset``. A crash at any point
therefore neither loses an event (nothing is committed or marked done before its files
are durable) nor duplicates one (a chunk's file names and contents are a pure function of
its offsets and pinned settings, so a redo completes the chunk rather than adding to
it). Without a ledger (first run) the committed offset, else the earliest, is the start;
right after assignment the group's committed offsets are brought up to the ledger.

Run it as the Dagster job ``kafka_landing_job`` or, for tests and operators, as
``python -m manufacturing_assets.kafka.landing --bootstrap HOST:PORT --landing-root DIR``.
"""

import argparse
import base64
import gzip
import json
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from dagster import Config, MetadataValue, OpExecutionContext, Output, job, op

from manufacturing_assets.ingest.reference import plant_timezones, read_reference
from manufacturing_assets.kafka.settings import KafkaSettings
from manufacturing_assets.resources.landing_zone import LandingZone

OFFSET_DIGITS = 12
LEDGER_PREFIX = "ledger/kafka/"
DEADLETTER_PREFIX = "deadletter/kafka/"
FORMATS = {"none": "jsonl", "gzip": "jsonl.gz"}
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_KAFKA_FILE = re.compile(
    r"^kafka-(?P<topic>.+)-p(?P<partition>\d+)-(?P<first>\d+)-(?P<last>\d+)\.(?P<fmt>jsonl(\.gz)?)$"
)
OFFSET_INVALID = -1001  # librdkafka: "use the committed offset, else auto.offset.reset"

Hook = Callable[[str, dict[str, Any]], None]


# ---- keys ------------------------------------------------------------------------------
def _off(offset: int) -> str:
    return f"{offset:0{OFFSET_DIGITS}d}"


def data_file_key(
    stream: str, plant: str, day: date, topic: str, partition: int, first: int, last: int, fmt: str
) -> str:
    return (
        f"raw/{stream}/plant={plant}/date={day.isoformat()}/"
        f"kafka-{topic}-p{partition}-{_off(first)}-{_off(last)}.{fmt}"
    )


def deadletter_key(topic: str, partition: int, first: int, last: int) -> str:
    return f"{DEADLETTER_PREFIX}{topic}/p{partition}-{_off(first)}-{_off(last)}.jsonl"


def ledger_key(topic: str, partition: int) -> str:
    return f"{LEDGER_PREFIX}{topic}/p{partition}.json"


def parse_kafka_file_name(name: str) -> tuple[str, int, int, int] | None:
    """``kafka-<topic>-p<partition>-<first>-<last>.jsonl[.gz]`` -> (topic, partition, first, last)."""
    m = _KAFKA_FILE.match(name.rsplit("/", 1)[-1])
    if not m:
        return None
    return m["topic"], int(m["partition"]), int(m["first"]), int(m["last"])


# ---- routing ---------------------------------------------------------------------------
class DeadLetter(Exception):
    """A message that cannot be landed; the text says why."""


def production_date(ts: str, tz: ZoneInfo) -> date:
    """Plant-local date of an ISO-8601 date-time (data contract sections 1 and 7).

    With an offset (``+01:00``, ``Z``) it is that instant; without, it is plant-local
    time: ``fold=0`` takes the earlier offset in a DST fold and, in a DST gap, the offset
    in force before the gap (the wall time is shifted forward by the gap). A date
    without a time is not a timestamp. Raises ``ValueError``.
    """
    text = ts.strip()
    if len(text) < 16 or text[10] not in "Tt ":
        raise ValueError("not an ISO-8601 date-time")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:  # via UTC: normalises a wall time in a gap
        return moment.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).date()
    return moment.astimezone(tz).date()


@dataclass(frozen=True)
class ReferencePin:
    """The master-data snapshots a chunk was routed with (ISO dates, None = no snapshot)."""

    machines: str | None
    plants: str | None


class Router:
    """Message -> (plant, time zone), from one pinned version of master data."""

    def __init__(self, machine_plants: dict[str, str], zones: dict[str, ZoneInfo]):
        self.machine_plants = machine_plants
        self.zones = zones

    def plant(self, key: str | None, record: dict[str, Any]) -> tuple[str, ZoneInfo]:
        machine = key.strip() if isinstance(key, str) and key.strip() else None
        if machine is None:
            rec_machine = record.get("machine_id")
            machine = rec_machine.strip() if isinstance(rec_machine, str) else None
        plant = self.machine_plants.get(machine) if machine else None
        if plant is None:
            rec_plant = record.get("plant_id")
            plant = rec_plant.strip() if isinstance(rec_plant, str) and rec_plant.strip() else None
        if plant is None:
            raise DeadLetter(
                f"no plant: machine {machine!r} is not in master data `machines` "
                "and the record has no plant_id"
            )
        zone = self.zones.get(plant)
        if zone is None:
            raise DeadLetter(f"plant {plant!r} has no time zone in master data `plants`")
        return plant, zone


class ReferenceData:
    """Master data ``machines`` and ``plants`` (every snapshot), read once per pass."""

    def __init__(self, landing: LandingZone):
        self.machines, _ = read_reference(landing, "machines")
        self.plants, _ = read_reference(landing, "plants")
        self._routers: dict[ReferencePin, Router] = {}

    @staticmethod
    def _latest(frame: pl.DataFrame) -> str | None:
        return None if frame.is_empty() else frame["snapshot_date"].max().isoformat()  # type: ignore[union-attr]

    def latest_pin(self) -> ReferencePin:
        return ReferencePin(self._latest(self.machines), self._latest(self.plants))

    def router(self, pin: ReferencePin) -> Router:
        if pin not in self._routers:
            self._routers[pin] = self._build(pin)
        return self._routers[pin]

    @staticmethod
    def _upto(frame: pl.DataFrame, day: str | None) -> pl.DataFrame:
        if day is None:
            return frame.clear()
        return frame.filter(pl.col("snapshot_date") <= date.fromisoformat(day))

    def _build(self, pin: ReferencePin) -> Router:
        machines = self._upto(self.machines, pin.machines)
        machine_plants: dict[str, str] = {}
        if not machines.is_empty():
            latest = (
                machines.filter(
                    pl.col("machine_id").is_not_null() & pl.col("plant_id").is_not_null()
                )
                .sort("snapshot_date", "line_number")
                .group_by("machine_id")
                .agg(pl.col("plant_id").last())
            )
            machine_plants = dict(latest.iter_rows())
        zones: dict[str, ZoneInfo] = {}
        for plant, tz in plant_timezones(self._upto(self.plants, pin.plants)).items():
            if not _SAFE_ID.match(plant):
                continue
            try:
                zones[plant] = ZoneInfo(tz)
            except (ValueError, KeyError):  # unknown or malformed zone name
                continue
        return Router(machine_plants, zones)


# ---- message encoding ------------------------------------------------------------------
def _key_text(message: Any) -> str | None:
    key = message.key()
    return None if key is None else key.decode("utf-8", "replace")


def _timestamp_ms(message: Any) -> int | None:
    kind, value = message.timestamp()
    return value if kind != 0 else None  # 0 = TIMESTAMP_NOT_AVAILABLE


_json_decode = json.JSONDecoder().decode
try:  # optional, ~3x faster; strictly RFC 8259, so json (its superset) decides on failure
    from orjson import loads as _orjson_loads
except ImportError:  # pragma: no cover - depends on the environment
    _orjson_loads = None


def _decode_json(text: str) -> Any:
    if _orjson_loads is not None:
        try:
            return _orjson_loads(text)
        except ValueError:
            pass
    return _json_decode(text)


class LineEncoder:
    """Message -> (plant, production date, JSON line), with the per-key work cached.

    The line is the message value as sent (numbers keep their literal text) on one line,
    with ``"_kafka": {topic, partition, offset, key, timestamp}`` appended for lineage.
    Raises :class:`DeadLetter` for a message that cannot be landed.
    """

    def __init__(self, router: Router):
        self.router = router
        self._keys: dict[bytes | None, tuple[str | None, str]] = {}
        self._topics: dict[str, str] = {}

    def _key(self, raw: bytes | None) -> tuple[str | None, str]:
        cached = self._keys.get(raw)
        if cached is None:
            text = None if raw is None else raw.decode("utf-8", "replace")
            cached = (text, json.dumps(text))
            if len(self._keys) < 100_000:
                self._keys[raw] = cached
        return cached

    def encode(self, message: Any) -> tuple[str, date, str]:
        value = message.value()
        if value is None:
            raise DeadLetter("empty message (tombstone)")
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DeadLetter(f"value is not UTF-8: {exc}") from None
        try:
            record = _decode_json(text)
        except ValueError as exc:
            raise DeadLetter(f"invalid JSON: {exc}") from None
        if type(record) is not dict:
            raise DeadLetter(f"not a JSON object (a JSON {type(record).__name__})")
        ts = record.get("ts")
        if type(ts) is not str:
            if ts is None:
                raise DeadLetter("field 'ts' is missing")
            raise DeadLetter(f"field 'ts' is not an ISO-8601 string: {json.dumps(ts)}")
        if not ts.strip():
            raise DeadLetter("field 'ts' is missing")
        key, key_json = self._key(message.key())
        plant, zone = self.router.plant(key, record)
        try:
            day = production_date(ts, zone)
        except ValueError:
            raise DeadLetter(f"field 'ts' is not an ISO-8601 timestamp: {ts!r}") from None
        topic = message.topic()
        topic_json = self._topics.get(topic)
        if topic_json is None:
            topic_json = self._topics[topic] = json.dumps(topic)
        kind, stamp = message.timestamp()
        meta = (
            f'"_kafka":{{"topic":{topic_json},"partition":{message.partition()},'
            f'"offset":{message.offset()},"key":{key_json},'
            f'"timestamp":{stamp if kind != 0 else "null"}}}'
        )
        if "\n" in text or "\r" in text:  # only whitespace between tokens can hold them
            text = text.replace("\r", " ").replace("\n", " ")
        if not record:
            return plant, day, "{" + meta + "}"
        return plant, day, text.strip()[:-1].rstrip() + "," + meta + "}"


def landed_line(message: Any, router: Router) -> tuple[str, date, str]:
    """(plant, production date, JSON line) of one message; raises :class:`DeadLetter`."""
    return LineEncoder(router).encode(message)


def deadletter_line(message: Any, stream: str, error: str) -> str:
    value = message.value()
    entry: dict[str, Any] = {
        "topic": message.topic(),
        "partition": message.partition(),
        "offset": message.offset(),
        "timestamp": _timestamp_ms(message),
        "key": _key_text(message),
        "stream": stream,
        "error": error,
        "value": None,
    }
    if value is not None:
        try:
            entry["value"] = value.decode("utf-8")
        except UnicodeDecodeError:
            entry["value_base64"] = base64.b64encode(value).decode("ascii")
    return json.dumps(entry, ensure_ascii=False)


def encode_lines(lines: Sequence[str], fmt: str) -> bytes:
    data = ("\n".join(lines) + "\n").encode("utf-8")
    return gzip.compress(data, compresslevel=6, mtime=0) if fmt == "jsonl.gz" else data


# ---- the ledger ------------------------------------------------------------------------
@dataclass(frozen=True)
class Pending:
    """A chunk whose files may be partly written: everything that fixes their names and bytes."""

    first: int
    last: int
    stream: str
    fmt: str
    reference: ReferencePin

    def to_json(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "last": self.last,
            "stream": self.stream,
            "format": self.fmt,
            "reference": asdict(self.reference),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Pending":
        return cls(
            first=int(data["first"]),
            last=int(data["last"]),
            stream=str(data["stream"]),
            fmt=str(data["format"]),
            reference=ReferencePin(**data["reference"]),
        )


class OffsetsLedger:
    """Per partition: the next offset not yet durable in the landing zone, and the chunk
    in flight. The landing zone, not the consumer group, is the source of truth."""

    def __init__(self, landing: LandingZone):
        self.landing = landing

    def read(self, topic: str, partition: int) -> tuple[int | None, Pending | None]:
        key = ledger_key(topic, partition)
        if not self.landing.exists(key):
            return None, None
        data = json.loads(self.landing.read_bytes(key))
        pending = Pending.from_json(data["pending"]) if data.get("pending") else None
        return int(data["next_offset"]), pending

    def _write(self, topic: str, partition: int, next_offset: int, pending: Pending | None) -> None:
        doc = {
            "topic": topic,
            "partition": partition,
            "next_offset": next_offset,
            "pending": pending.to_json() if pending else None,
            "updated_at": datetime.now(UTC).isoformat(),
        }
        self.landing.write_bytes(ledger_key(topic, partition), json.dumps(doc, indent=1).encode())

    def write_intent(self, topic: str, partition: int, pending: Pending) -> None:
        self._write(topic, partition, pending.first, pending)

    def write_done(self, topic: str, partition: int, next_offset: int) -> None:
        self._write(topic, partition, next_offset, None)


# ---- the landing pass ------------------------------------------------------------------
@dataclass
class LandingOptions:
    """Bounds and batching of one landing pass."""

    max_messages: int | None = None  # stop after this many messages (None: no bound)
    idle_timeout_s: float = 10.0  # stop when no message arrived for this long
    max_seconds: float | None = 900.0  # wall-clock bound of the pass
    flush_messages: int = 50_000  # land when this many messages are buffered
    flush_interval_s: float = 30.0  # ... or when the oldest buffered message is this old
    assign_timeout_s: float = 120.0  # fail when the group gives no assignment in this time
    compression: str = "none"  # none -> .jsonl, gzip -> .jsonl.gz
    poll_batch: int = 10_000

    def __post_init__(self) -> None:
        if self.compression not in FORMATS:
            raise ValueError(f"compression must be one of {', '.join(FORMATS)}")
        if self.flush_messages < 1:
            raise ValueError("flush_messages must be >= 1")


@dataclass
class PartitionReport:
    start_offset: int | None = None  # where this pass started (None: group offset/earliest)
    next_offset: int | None = None  # everything below is durable in the landing zone
    committed: int | None = None  # last offset committed to the group by this pass
    messages: int = 0
    dead_letters: int = 0
    chunks: int = 0
    redone_chunks: int = 0


@dataclass
class LandingReport:
    messages: int = 0  # messages consumed and landed (data or dead letter)
    landed: int = 0  # events written to raw/
    dead_letters: int = 0
    files_written: int = 0
    files_unchanged: int = 0  # identical files found while redoing a chunk
    chunks: int = 0
    redone_chunks: int = 0
    commit_failures: int = 0
    seconds: float = 0.0
    stop_reason: str = ""
    files: list[str] = field(default_factory=list)
    partitions: dict[str, PartitionReport] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        out = asdict(self)
        out["events_per_s"] = round(self.messages / self.seconds, 1) if self.seconds else None
        return out


@dataclass
class _Partition:
    topic: str
    partition: int
    position: int | None  # next offset not yet durable (None: whatever the group starts at)
    forced: Pending | None = None  # chunk to redo exactly before anything else
    buffer: list[Any] = field(default_factory=list)
    since: float | None = None  # monotonic time of the oldest buffered message

    @property
    def name(self) -> str:
        return f"{self.topic}/{self.partition}"


class KafkaLander:
    """One bounded landing pass (see the module docstring for the protocol)."""

    def __init__(
        self,
        settings: KafkaSettings,
        landing: LandingZone,
        options: LandingOptions | None = None,
        log: Any = None,
        hooks: Hook | None = None,
    ):
        self.settings = settings
        self.landing = landing
        self.options = options or LandingOptions()
        self.log = log or logging.getLogger(__name__)
        self.hooks = hooks
        self.ledger = OffsetsLedger(landing)
        self.fmt = FORMATS[self.options.compression]
        self.report = LandingReport()
        self._parts: dict[tuple[str, int], _Partition] = {}
        self._joined = False
        self._heal: list[tuple[str, int]] = []
        self._consumer: Any = None
        self.reference: ReferenceData | None = None

    def _hook(self, stage: str, **info: Any) -> None:
        if self.hooks is not None:
            self.hooks(stage, info)

    def _part_report(self, part: _Partition) -> PartitionReport:
        return self.report.partitions.setdefault(part.name, PartitionReport())

    # -- rebalance callbacks ----------------------------------------------------------
    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        starts = {}
        for tp in partitions:
            next_offset, pending = self.ledger.read(tp.topic, tp.partition)
            start = pending.first if pending else next_offset
            part = _Partition(tp.topic, tp.partition, start, forced=pending)
            self._parts[(tp.topic, tp.partition)] = part
            rep = self._part_report(part)
            if rep.start_offset is None:
                rep.start_offset = start
            tp.offset = start if start is not None else OFFSET_INVALID
            if start is not None and pending is None:
                self._heal.append((tp.topic, tp.partition))
            starts[part.name] = {"start": start, "redo": pending.to_json() if pending else None}
        consumer.assign(partitions)
        self._joined = True
        self.log.info(f"kafka landing: assigned {json.dumps(starts)}")
        self._hook("assigned", partitions=starts)

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        # Buffered messages of a revoked partition are not durable: drop them, the next
        # owner starts from the ledger.
        for tp in partitions:
            self._parts.pop((tp.topic, tp.partition), None)
        self._hook("revoked", partitions=[f"{tp.topic}/{tp.partition}" for tp in partitions])

    # -- chunks -----------------------------------------------------------------------
    def _land_chunk(
        self, part: _Partition, msgs: list[Any], first: int, last: int, redo: Pending | None
    ) -> None:
        assert self.reference is not None
        if redo is not None:
            spec = redo
        else:
            spec = Pending(
                first,
                last,
                self.settings.stream_for_topic(part.topic),
                self.fmt,
                self.reference.latest_pin(),
            )
            self.ledger.write_intent(part.topic, part.partition, spec)
            self._hook("intent", partition=part.name, first=first, last=last)
        encode = LineEncoder(self.reference.router(spec.reference)).encode
        groups: dict[tuple[str, date], list[str]] = {}
        dead: list[str] = []
        for m in msgs:
            try:
                plant, day, line = encode(m)
            except DeadLetter as exc:
                dead.append(deadletter_line(m, spec.stream, str(exc)))
                continue
            groups.setdefault((plant, day), []).append(line)
        files: list[tuple[str, bytes]] = [
            (
                data_file_key(
                    spec.stream, plant, day, part.topic, part.partition, first, last, spec.fmt
                ),
                encode_lines(lines, spec.fmt),
            )
            for (plant, day), lines in sorted(groups.items())
        ]
        if dead:
            files.append(
                (
                    deadletter_key(part.topic, part.partition, first, last),
                    encode_lines(dead, "jsonl"),
                )
            )
        for key, data in files:
            # Redo: a file that exists was written whole (writes are atomic) by the crashed
            # attempt from the same offsets and pinned settings, i.e. it is this file.
            if redo is not None and self.landing.exists(key):
                self.report.files_unchanged += 1
                continue
            self.landing.write_bytes(key, data)
            self.report.files_written += 1
            self.report.files.append(key)
            self._hook("file_written", partition=part.name, key=key)
        self.ledger.write_done(part.topic, part.partition, last + 1)
        part.position = last + 1
        landed = len(msgs) - len(dead)
        rep = self._part_report(part)
        rep.next_offset = last + 1
        rep.messages += len(msgs)
        rep.dead_letters += len(dead)
        rep.chunks += 1
        rep.redone_chunks += redo is not None
        self.report.messages += len(msgs)
        self.report.landed += landed
        self.report.dead_letters += len(dead)
        self.report.chunks += 1
        self.report.redone_chunks += redo is not None
        self._hook(
            "durable",
            partition=part.name,
            first=first,
            last=last,
            messages=len(msgs),
            dead_letters=len(dead),
            redo=redo is not None,
        )

    def _flush_partition(self, part: _Partition) -> bool:
        """Land what is buffered for one partition; True if something became durable."""
        if not part.buffer:
            return False
        done = False
        if part.forced is not None:
            forced = part.forced
            if part.buffer[-1].offset() < forced.last:
                return False  # the chunk to redo is not complete yet: keep reading
            chunk = [m for m in part.buffer if m.offset() <= forced.last]
            rest = [m for m in part.buffer if m.offset() > forced.last]
            if not chunk or chunk[0].offset() != forced.first:
                self.log.warning(
                    f"kafka landing: {part.name}: redoing chunk {forced.first}-{forced.last} "
                    f"but the log now starts at {chunk[0].offset() if chunk else 'a later offset'}"
                    " (retention?): deleted messages not yet in a written file are lost"
                )
            self._land_chunk(part, chunk, forced.first, forced.last, redo=forced)
            part.forced = None
            part.buffer = rest
            done = True
        if part.buffer:
            msgs = part.buffer
            self._land_chunk(part, msgs, msgs[0].offset(), msgs[-1].offset(), redo=None)
            part.buffer = []
            done = True
        part.since = None
        return done

    def _flush(self) -> None:
        flushed = [p for p in list(self._parts.values()) if self._flush_partition(p)]
        if flushed:
            self._commit([(p.topic, p.partition, p.position) for p in flushed])

    def _commit(self, offsets: list[tuple[str, int, int | None]]) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        tps = [TopicPartition(t, p, o) for t, p, o in offsets if o is not None]
        if not tps:
            return
        try:
            self._consumer.commit(offsets=tps, asynchronous=False)
        except KafkaException as exc:
            # Not fatal: the ledger is the truth, the next pass commits again.
            self.report.commit_failures += 1
            self.log.warning(f"kafka landing: offset commit failed (ledger is ahead): {exc}")
            return
        for tp in tps:
            self.report.partitions.setdefault(
                f"{tp.topic}/{tp.partition}", PartitionReport()
            ).committed = tp.offset
        self._hook("committed", offsets={f"{tp.topic}/{tp.partition}": tp.offset for tp in tps})

    def _heal_commits(self) -> None:
        """Bring the group's committed offsets up to the ledger (after a crash between
        'done' and 'commit'), so that lag reads right even when nothing new arrives."""
        from confluent_kafka import KafkaException, TopicPartition

        wanted = [k for k in self._heal if k in self._parts]
        self._heal = []
        if not wanted:
            return
        try:
            committed = self._consumer.committed(
                [TopicPartition(t, p) for t, p in wanted], timeout=10
            )
        except KafkaException as exc:
            self.log.warning(f"kafka landing: cannot read committed offsets: {exc}")
            return
        behind = []
        for tp in committed:
            part = self._parts.get((tp.topic, tp.partition))
            if part is not None and part.position is not None and tp.offset < part.position:
                behind.append((tp.topic, tp.partition, part.position))
        self._commit(behind)

    def _buffered(self) -> int:
        return sum(len(p.buffer) for p in self._parts.values())

    def _due(self, now: float) -> bool:
        if self._buffered() >= self.options.flush_messages:
            return True
        oldest = [p.since for p in self._parts.values() if p.since is not None]
        return bool(oldest) and now - min(oldest) >= self.options.flush_interval_s

    # -- the pass -------------------------------------------------------------------------
    def run(self) -> LandingReport:
        from confluent_kafka import Consumer, KafkaError, KafkaException

        opts = self.options
        started = time.monotonic()
        self.reference = ReferenceData(self.landing)
        pin = self.reference.latest_pin()
        if pin.plants is None:
            self.log.warning(
                "kafka landing: no master data `plants` in the landing zone: every message "
                "will be dead-lettered (no plant time zone)"
            )
        self._consumer = Consumer(self.settings.consumer_config())
        consumer = self._consumer
        topics = self.settings.topic_names
        consumer.subscribe(
            topics, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_revoke
        )
        self.log.info(
            f"kafka landing: group {self.settings.group_id!r} subscribing to {', '.join(topics)}"
        )
        consumed = 0
        last_activity = started
        was_joined = False
        reported_errors: set[int] = set()
        try:
            while True:
                now = time.monotonic()
                if self._joined and not was_joined:
                    was_joined = True
                    last_activity = now
                if opts.max_seconds is not None and now - started >= opts.max_seconds:
                    self.report.stop_reason = "max_seconds"
                    break
                if opts.max_messages is not None and consumed >= opts.max_messages:
                    self.report.stop_reason = "max_messages"
                    break
                if not self._joined and now - started >= opts.assign_timeout_s:
                    raise TimeoutError(
                        f"consumer group {self.settings.group_id!r} gave no assignment within "
                        f"{opts.assign_timeout_s:.0f} s"
                    )
                if self._joined and now - last_activity >= opts.idle_timeout_s:
                    self.report.stop_reason = "idle"
                    break
                n = opts.poll_batch
                if opts.max_messages is not None:
                    n = max(1, min(n, opts.max_messages - consumed))
                msgs = consumer.consume(n, timeout=0.5)
                if self._heal:  # just assigned: first bring the group up to the ledger
                    self._heal_commits()
                now = time.monotonic()
                before = consumed
                part: _Partition | None = None
                for m in msgs:
                    err = m.error()
                    if err is not None:
                        if err.fatal():
                            raise KafkaException(err)
                        if (
                            err.code() != KafkaError._PARTITION_EOF
                            and err.code() not in reported_errors
                        ):
                            reported_errors.add(err.code())
                            self.log.warning(f"kafka landing: {err}")
                        continue
                    topic, partition, offset = m.topic(), m.partition(), m.offset()
                    if part is None or part.partition != partition or part.topic != topic:
                        part = self._parts.get((topic, partition))
                        if part is None:
                            continue  # revoked meanwhile
                    if part.position is not None and offset < part.position:
                        continue  # already durable (fetched before a seek)
                    buffer = part.buffer
                    if buffer:
                        if offset <= buffer[-1].offset():
                            continue
                    else:
                        part.since = now
                        if part.position is None:
                            part.position = offset
                    buffer.append(m)
                    consumed += 1
                if consumed > before:
                    last_activity = now
                if self._due(now):
                    self._flush()
                    last_activity = time.monotonic()  # idle = waiting on the broker only
            self._flush()
        finally:
            consumer.close()
            self.report.seconds = round(time.monotonic() - started, 3)
        for part in self._parts.values():
            rep = self._part_report(part)
            if rep.next_offset is None:
                rep.next_offset = part.position
        self._hook("finished", report=self.report.summary())
        return self.report


def run_landing_pass(
    settings: KafkaSettings,
    landing: LandingZone,
    options: LandingOptions | None = None,
    log: Any = None,
    hooks: Hook | None = None,
) -> LandingReport:
    """Consume, land and commit until a bound of ``options`` is reached."""
    return KafkaLander(settings, landing, options, log=log, hooks=hooks).run()


# ---- Dagster ---------------------------------------------------------------------------
class KafkaLandingConfig(Config):
    """Bounds of one landing pass (run config of ``kafka_landing_job``)."""

    max_messages: int = 2_000_000
    idle_timeout_s: float = 10.0
    max_seconds: float = 900.0
    flush_messages: int = 50_000
    flush_interval_s: float = 30.0
    compression: str = "none"

    def options(self) -> LandingOptions:
        return LandingOptions(
            max_messages=self.max_messages or None,
            idle_timeout_s=self.idle_timeout_s,
            max_seconds=self.max_seconds or None,
            flush_messages=self.flush_messages,
            flush_interval_s=self.flush_interval_s,
            compression=self.compression,
        )


@op(
    description=(
        "Consume the factory topics with the landing consumer group and write the events "
        "into the landing zone (raw/<stream>/plant=/date=/kafka-<topic>-p<n>-<first>-<last>"
        ".jsonl), malformed messages into deadletter/kafka/; offsets are committed only "
        "after the files are durable (exactly once, docs/kafka.md)."
    ),
    tags={"kind": "kafka"},
    pool="kafka_landing",
)
def land_kafka_topics(
    context: OpExecutionContext,
    config: KafkaLandingConfig,
    landing: LandingZone,
    kafka: KafkaSettings,
) -> Output[None]:
    """The report goes into the step's metadata; the output itself is empty (nothing for
    the lake's IO manager to store)."""
    report = run_landing_pass(kafka, landing, config.options(), log=context.log)
    summary = report.summary()
    offsets = {
        name: {
            k: v for k, v in asdict(p).items() if k in ("start_offset", "next_offset", "committed")
        }
        for name, p in sorted(report.partitions.items())
    }
    return Output(
        None,
        metadata={
            "messages": report.messages,
            "landed_events": report.landed,
            "dead_letters": report.dead_letters,
            "files_written": report.files_written,
            "chunks": report.chunks,
            "redone_chunks": report.redone_chunks,
            "commit_failures": report.commit_failures,
            "events_per_s": summary["events_per_s"] or 0.0,
            "seconds": report.seconds,
            "stop_reason": report.stop_reason,
            "offsets": MetadataValue.json(offsets),
            "files": MetadataValue.json(report.files[:200]),
            "landing_zone": landing.describe(),
        },
    )


@job(
    description=(
        "One bounded Kafka landing pass (topics -> landing zone, exactly once). Started by "
        "the Kafka lag sensor; run at most one at a time (pool `kafka_landing`)."
    ),
    tags={"kafka_landing": "pass"},
)
def kafka_landing_job() -> None:
    land_kafka_topics()


# ---- command line (tests, operators) ---------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m manufacturing_assets.kafka.landing", description="One Kafka landing pass."
    )
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--landing-root", required=True)
    parser.add_argument("--group", default=None)
    parser.add_argument(
        "--topic", action="append", default=None, help="topic=stream (repeatable; default contract)"
    )
    parser.add_argument("--session-timeout-ms", type=int, default=45_000)
    parser.add_argument("--max-messages", type=int, default=None)
    parser.add_argument("--idle-timeout", type=float, default=10.0)
    parser.add_argument("--max-seconds", type=float, default=900.0)
    parser.add_argument("--flush-messages", type=int, default=50_000)
    parser.add_argument("--flush-interval", type=float, default=30.0)
    parser.add_argument("--compression", choices=sorted(FORMATS), default="none")
    parser.add_argument("--poll-batch", type=int, default=10_000)
    parser.add_argument("--progress", action="store_true", help="print one JSON line per stage")
    parser.add_argument(
        "--crash-after",
        metavar="STAGE:N",
        help="fault injection for tests: SIGKILL this process right after the N-th STAGE "
        "(intent, file_written, durable, committed)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    kwargs: dict[str, Any] = {
        "bootstrap_servers": args.bootstrap,
        "session_timeout_ms": args.session_timeout_ms,
    }
    if args.group:
        kwargs["group_id"] = args.group
    if args.topic:
        kwargs["topics"] = dict(t.split("=", 1) for t in args.topic)
    settings = KafkaSettings(**kwargs)

    crash_stage, _, crash_n = (args.crash_after or "").partition(":")
    seen: dict[str, int] = {}

    def progress(stage: str, info: dict[str, Any]) -> None:
        if args.progress:
            print(json.dumps({"stage": stage, **info}, default=str), flush=True)
        seen[stage] = seen.get(stage, 0) + 1
        if stage == crash_stage and seen[stage] == int(crash_n or 1):
            os.kill(os.getpid(), signal.SIGKILL)

    report = run_landing_pass(
        settings,
        LandingZone(root=args.landing_root),
        LandingOptions(
            max_messages=args.max_messages,
            idle_timeout_s=args.idle_timeout,
            max_seconds=args.max_seconds,
            flush_messages=args.flush_messages,
            flush_interval_s=args.flush_interval,
            compression=args.compression,
            poll_batch=args.poll_batch,
        ),
        hooks=progress if args.progress or args.crash_after else None,
    )
    if not args.progress:
        print(json.dumps(report.summary(), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
