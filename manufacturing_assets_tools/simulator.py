"""Factory simulator: the generator's events produced into the Kafka topics at a rate.

For local development and load tests (``manufacturing-assets simulate``)::

    events = events_from_landing(LandingZone(root="data/landing"))       # or
    events = generated_events(GeneratorConfig(), reference_to=landing)   # on the fly
    simulate(KafkaSettings(bootstrap_servers="localhost:9092"), events, rate=500, seconds=60)

Events are the lines of the landing zone's ``raw/sensor_readings``, ``raw/shots`` and
``raw/machine_events`` files (JSON lines, gzipped JSON lines, sensor CSV rows turned into
contract JSON), bad input included: a line that is not JSON is sent as is (the landing
pass dead-letters it). Each message is keyed by its ``machine_id`` and events are sent in
event-time order, streams interleaved, as a factory would send them.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported lazily: `manufacturing-assets --help` stays fast
    from manufacturing_assets.kafka.settings import KafkaSettings
    from manufacturing_assets.resources.landing_zone import LandingZone

_FILE_RE = re.compile(r"^raw/(?P<stream>[^/]+)/plant=(?P<plant>[^/]+)/date=[^/]+/[^/]+$")
_DECIMAL = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")
_SENSOR_BASE = ("device_id", "plant_id", "machine_id", "ts", "firmware", "status")


@dataclass(frozen=True)
class SimEvent:
    topic: str
    key: bytes | None
    value: bytes
    order: float  # event time (epoch s) used for ordering; neighbours' when unparseable


def _csv_rows(data: bytes) -> Iterable[str]:
    """Sensor CSV rows as contract JSON objects (metric columns nested under ``metrics``)."""
    reader = csv.DictReader(io.StringIO(data.decode("utf-8")))
    for row in reader:
        record: dict[str, Any] = {}
        metrics: dict[str, Any] = {}
        for column, cell in row.items():
            if column is None or cell is None or cell == "":
                continue
            if column in _SENSOR_BASE:
                record[column] = cell
            else:
                metrics[column] = float(cell) if _DECIMAL.match(cell) else cell
        record["metrics"] = metrics
        yield json.dumps(record)


def _file_lines(key: str, data: bytes) -> Iterable[str]:
    if key.endswith(".jsonl.gz"):
        data = gzip.decompress(data)
    elif key.endswith(".csv"):
        yield from _csv_rows(data)
        return
    elif not key.endswith(".jsonl"):
        return
    for line in data.decode("utf-8").split("\n"):
        line = line.rstrip("\r")
        if line.strip():
            yield line


def _event_time(record: Any) -> float | None:
    ts = record.get("ts") if isinstance(record, dict) else None
    if not isinstance(ts, str):
        return None
    try:
        moment = datetime.fromisoformat(ts.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:  # plant-local: close enough for ordering
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def events_from_landing(
    landing: LandingZone, topics: dict[str, str] | None = None, log: Callable[[str], Any] = print
) -> list[SimEvent]:
    """Every event line of the landing zone's Kafka streams, in event-time order."""
    from manufacturing_assets.kafka.settings import DEFAULT_TOPICS

    by_stream = {stream: topic for topic, stream in (topics or DEFAULT_TOPICS).items()}
    events: list[SimEvent] = []
    for stream, topic in sorted(by_stream.items()):
        last = 0.0
        for obj in landing.list_objects(f"raw/{stream}/"):
            if not _FILE_RE.match(obj.key):
                continue
            try:
                lines = list(_file_lines(obj.key, landing.read_bytes(obj.key)))
            except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError) as exc:
                log(f"skipping unreadable file {obj.key}: {exc}")
                continue
            for line in lines:
                try:
                    record = json.loads(line)
                except ValueError:
                    record = None
                machine = record.get("machine_id") if isinstance(record, dict) else None
                key = machine.encode() if isinstance(machine, str) and machine.strip() else None
                when = _event_time(record)
                last = when if when is not None else last
                events.append(SimEvent(topic, key, line.encode("utf-8"), last))
    events.sort(key=lambda e: e.order)  # stable: unparseable lines stay near their neighbours
    return events


def generated_events(
    config: Any = None,
    reference_to: LandingZone | None = None,
    topics: dict[str, str] | None = None,
) -> list[SimEvent]:
    """Generate a sample landing zone in a temporary folder and return its events.

    ``reference_to``: also copy the generated master data (``reference/``) there, so a
    landing pass writing into that landing zone can route the events.
    """
    from manufacturing_assets.resources.landing_zone import LandingZone
    from manufacturing_assets_tools.generator import GeneratorConfig, generate_landing_zone

    with tempfile.TemporaryDirectory(prefix="ma-sim-") as tmp:
        source = LandingZone(root=tmp)
        generate_landing_zone(source, config or GeneratorConfig())
        if reference_to is not None:
            copy_reference(source, reference_to)
        return events_from_landing(source, topics)


def copy_reference(source: LandingZone, target: LandingZone) -> int:
    """Copy master-data snapshots (``reference/``) that the target does not have yet."""
    copied = 0
    for obj in source.list_objects("reference/"):
        if not target.exists(obj.key):
            target.write_bytes(obj.key, source.read_bytes(obj.key))
            copied += 1
    return copied


def ensure_topics(settings: KafkaSettings, partitions: int = 3, timeout: float = 30.0) -> None:
    """Create the configured topics if they do not exist."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(settings.admin_config())
    existing = admin.list_topics(timeout=timeout).topics
    missing = [t for t in settings.topic_names if t not in existing]
    if not missing:
        return
    futures = admin.create_topics(
        [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in missing]
    )
    for fut in futures.values():
        try:
            fut.result(timeout=timeout)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise


def simulate(
    settings: KafkaSettings,
    events: Sequence[SimEvent],
    rate: float = 1000.0,
    seconds: float | None = None,
    loop: bool = False,
    producer_overrides: dict[str, Any] | None = None,
    log: Callable[[str], Any] = print,
) -> dict[str, Any]:
    """Produce ``events`` at ``rate`` messages/s (0 = as fast as possible) until they run
    out (``loop``: start over) or ``seconds`` pass. Returns counts and the achieved rate."""
    from confluent_kafka import Producer

    if not events:
        raise ValueError("no events to produce")
    producer = Producer(settings.producer_config() | (producer_overrides or {}))
    errors: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    per_topic: dict[str, int] = {}
    started = time.monotonic()
    next_report = started + 5.0
    sent = 0
    index = 0
    while True:
        now = time.monotonic()
        elapsed = now - started
        if seconds is not None and elapsed >= seconds:
            break
        if index >= len(events):
            if not loop:
                break
            index = 0
        if rate > 0:
            due = int(elapsed * rate) + 1 - sent
            if due <= 0:
                producer.poll(min(0.01, 1.0 / rate))
                continue
        else:
            due = 10_000
        for _ in range(due):
            if index >= len(events):
                break
            event = events[index]
            try:
                producer.produce(
                    event.topic, key=event.key, value=event.value, on_delivery=on_delivery
                )
            except BufferError:
                producer.poll(0.05)
                break
            index += 1
            sent += 1
            per_topic[event.topic] = per_topic.get(event.topic, 0) + 1
        producer.poll(0)
        if now >= next_report:
            log(f"simulate: {sent} events sent ({sent / max(elapsed, 1e-9):.0f}/s)")
            next_report = now + 5.0
    remaining = producer.flush(60)
    took = time.monotonic() - started
    if errors:
        log(f"simulate: {len(errors)} delivery errors, first: {errors[0]}")
    return {
        "sent": sent,
        "undelivered": remaining,
        "delivery_errors": len(errors),
        "per_topic": per_topic,
        "seconds": round(took, 3),
        "events_per_s": round(sent / took, 1) if took else None,
    }


# ---- command line: `manufacturing-assets simulate` --------------------------------------
def add_simulate_arguments(parser: Any) -> None:
    parser.add_argument(
        "--bootstrap", help="Kafka bootstrap servers (default $KAFKA_BOOTSTRAP_SERVERS)"
    )
    parser.add_argument("--rate", type=float, default=1000.0, help="events/s (0: max speed)")
    parser.add_argument(
        "--seconds", type=float, default=None, help="stop after S seconds (default: all events)"
    )
    parser.add_argument("--loop", action="store_true", help="start over when events run out")
    parser.add_argument(
        "--source",
        help="landing zone to read events from (default: generate a sample on the fly and "
        "copy its master data into $MA_LANDING_ROOT so the landing job can route)",
    )
    parser.add_argument("--seed", type=int, default=7, help="generator seed (on the fly)")
    parser.add_argument("--days", type=int, default=3, help="generated days (on the fly)")
    parser.add_argument(
        "--no-create-topics", dest="create_topics", action="store_false", help="topics exist"
    )
    parser.add_argument("--partitions", type=int, default=3, help="partitions of new topics")


def run_simulate_command(args: Any) -> int:
    """``manufacturing-assets simulate``: produce sample events into the three topics."""
    from dataclasses import replace

    from manufacturing_assets.environment import Settings
    from manufacturing_assets.resources.landing_zone import LandingZone

    settings = Settings.from_env()
    bootstrap = args.bootstrap or settings.kafka_bootstrap_servers
    if not bootstrap:
        print("simulate: no Kafka: pass --bootstrap or set KAFKA_BOOTSTRAP_SERVERS")
        return 2
    if args.loop and args.seconds is None:
        print("simulate: --loop needs --seconds")
        return 2
    kafka = replace(settings, kafka_bootstrap_servers=bootstrap).kafka_settings(
        secrets_as_env_vars=False
    )
    assert kafka is not None
    if args.source:
        events = events_from_landing(LandingZone(root=args.source), kafka.topics)
    else:
        from manufacturing_assets_tools.generator import GeneratorConfig

        landing = settings.landing_zone()
        print(f"simulate: generating sample events (seed {args.seed}, {args.days} days) ...")
        events = generated_events(
            GeneratorConfig(seed=args.seed, days=args.days),
            reference_to=landing,
            topics=kafka.topics,
        )
        print(f"simulate: master data copied to {landing.describe('reference/')}")
    if args.create_topics:
        ensure_topics(kafka, partitions=args.partitions)
    print(
        f"simulate: {len(events)} events -> {bootstrap} "
        f"({', '.join(kafka.topic_names)}) at {args.rate:g}/s"
    )
    result = simulate(kafka, events, rate=args.rate, seconds=args.seconds, loop=args.loop)
    print(json.dumps(result, indent=2))
    return 0 if not result["undelivered"] and not result["delivery_errors"] else 1
