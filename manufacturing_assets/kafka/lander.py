"""Kafka -> landing zone, exactly once: one bounded landing pass (docs/kafka.md).

One *landing pass* consumes the factory topics with the landing consumer group, decodes
every message (``records.py``), routes it to ``raw/<stream>/plant=<P>/date=<D>/``
(``routing.py``) and writes JSON-lines files named by topic, partition and offset range
(``files.py``); a message that cannot be routed goes to the chunk's dead-letter file (an
event without a usable ``ts`` lands under its Kafka timestamp's date, for silver's
quarantine: ``records.py``).

Exactly once, per partition, in *chunks* of consecutive offsets ``[first, last]``:

1. **intent**: the ledger (``offsets.py``) records ``pending = {first, last, stream, format,
   reference snapshot dates}``; everything that determines the chunk's file names and bytes;
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

Run it as the Dagster job ``kafka_landing_job`` (``job.py``) or, for tests and operators, as
``python -m manufacturing_assets.kafka --bootstrap HOST:PORT --landing-root DIR``
(``__main__.py``).
"""

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from manufacturing_assets.kafka.files import FORMATS, data_file_key, deadletter_key
from manufacturing_assets.kafka.offsets import OffsetsLedger, Pending
from manufacturing_assets.kafka.records import LineEncoder, deadletter_line, encode_lines
from manufacturing_assets.kafka.routing import DeadLetter, ReferenceData
from manufacturing_assets.kafka.settings import KafkaSettings
from manufacturing_assets.resources.landing_zone import LandingZone

OFFSET_INVALID = -1001  # librdkafka: "use the committed offset, else auto.offset.reset"

Hook = Callable[[str, dict[str, Any]], None]


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
    bad_ts: int = 0  # landed without a usable `ts` (silver quarantines them)
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
                land_bad_ts=True,
                landed_at_ms=int(time.time() * 1000),
            )
            self.ledger.write_intent(part.topic, part.partition, spec)
            self._hook("intent", partition=part.name, first=first, last=last)
        encoder = LineEncoder(
            self.reference.router(spec.reference),
            land_bad_ts=spec.land_bad_ts,
            fallback_ms=spec.landed_at_ms,
        )
        encode = encoder.encode
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
        self.report.bad_ts += encoder.bad_ts
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
