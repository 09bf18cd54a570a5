"""Kafka lag: `consumer_lag` and the lag sensor against a real (Tansu) broker.

Topics are produced one record per batch (Tansu reports wrong end offsets otherwise) and
every test uses its own topic and consumer group.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    DagsterRunStatus,
    Definitions,
    SensorResult,
    build_sensor_context,
    instance_for_test,
)
from dagster._core.test_utils import create_run_for_test

from manufacturing_assets.kafka.settings import KafkaSettings
from manufacturing_assets.resources.notifier import Notifier
from manufacturing_assets.sensors.kafka_lag import (
    LANDING_JOB_NAME,
    OFFSETS_TAG,
    build_kafka_lag_sensor,
    consumer_lag,
    kafka_topic_specs,
)
from manufacturing_assets_tests import kafka_fixtures
from manufacturing_assets_tests.kafka_fixtures import (
    create_topics,
    produce,
    unique_group,
    unique_topic,
)

kafka_broker = (
    kafka_fixtures.kafka_broker
)  # the Tansu broker fixture (started once, stopped at the end)
pytestmark = pytest.mark.integration


def settings_for(bootstrap: str, topic: str, group: str | None = None) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=bootstrap,
        group_id=group or unique_group("lag"),
        topics={topic: "sensor_readings"},
        session_timeout_ms=6000,
    )


def commit(bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    """Commit offsets for the group without joining it (as the landing job's commit would)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False}
    )
    try:
        consumer.commit(
            offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()], asynchronous=False
        )
    finally:
        consumer.close()


def produce_at(bootstrap: str, topic: str, timestamps_ms: list[int]) -> None:
    """One record per batch into partition 0 with the given CreateTime timestamps."""
    from confluent_kafka import Producer

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "batch.num.messages": 1,
            "linger.ms": 0,
            "max.in.flight": 1,
        }
    )
    for i, ts in enumerate(timestamps_ms):
        producer.produce(topic, key=f"k{i}", value=b"{}", partition=0, timestamp=ts)
        producer.flush(30)


def records(n: int) -> list[tuple[str, bytes]]:
    return [(f"P01-M{i:03d}", json.dumps({"i": i}).encode()) for i in range(n)]


@pytest.fixture
def topic(kafka_broker: str) -> str:
    name = unique_topic("lag")
    create_topics(kafka_broker, [name], partitions=3)
    return name


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with instance_for_test() as inst:
        yield inst


# ---------------------------------------------------------------- consumer_lag


def test_lag_is_end_offset_minus_committed_per_partition(kafka_broker: str, topic: str) -> None:
    delivered = produce(kafka_broker, topic, records(40), one_per_batch=True)
    per_partition = Counter(p for p, _ in delivered)
    assert set(per_partition) == {0, 1, 2}
    settings = settings_for(kafka_broker, topic)

    lags = consumer_lag(settings)
    assert [(p.topic, p.partition) for p in lags] == [(topic, 0), (topic, 1), (topic, 2)]
    for p in lags:
        assert p.end_offset == per_partition[p.partition]
        assert p.committed is None
        assert p.lag == per_partition[p.partition]  # nothing committed: from the low watermark
        assert p.oldest_age_s is not None and 0 <= p.oldest_age_s < 120

    commit(kafka_broker, settings.group_id, topic, {0: 2, 1: per_partition[1]})
    after = {p.partition: p for p in consumer_lag(settings)}
    assert after[0].committed == 2 and after[0].lag == per_partition[0] - 2
    assert after[1].committed == per_partition[1] and after[1].lag == 0
    assert after[1].oldest_age_s is None  # nothing waits
    assert after[2].committed is None and after[2].lag == per_partition[2]


def test_age_of_the_oldest_unconsumed_event(kafka_broker: str) -> None:
    topic = unique_topic("age")
    create_topics(kafka_broker, [topic], partitions=1)
    now_ms = int(time.time() * 1000)
    produce_at(kafka_broker, topic, [now_ms - 600_000, now_ms - 300_000, now_ms])
    settings = settings_for(kafka_broker, topic)

    (p,) = consumer_lag(settings, now=now_ms / 1000)
    assert (p.lag, p.oldest_timestamp_ms, p.oldest_age_s) == (3, now_ms - 600_000, 600.0)
    commit(kafka_broker, settings.group_id, topic, {0: 1})
    (p,) = consumer_lag(settings, now=now_ms / 1000)
    assert (p.lag, p.oldest_age_s) == (2, 300.0)
    commit(kafka_broker, settings.group_id, topic, {0: 3})
    (p,) = consumer_lag(settings, now=now_ms / 1000)
    assert (p.lag, p.oldest_age_s) == (0, None)


# ---------------------------------------------------------------- the sensor


def evaluate(sensor_def, instance, settings: KafkaSettings, cursor: str | None) -> SensorResult:
    ctx = build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"kafka": settings, "notifier": Notifier(kind="log")},
    )
    result = sensor_def(ctx)
    assert isinstance(result, SensorResult)
    return result


def test_sensor_starts_the_landing_job_once_and_keys_runs_by_offsets(
    kafka_broker: str, topic: str, instance: DagsterInstance
) -> None:
    settings = settings_for(kafka_broker, topic)
    sensor_def = build_kafka_lag_sensor(lag_records=10, lag_age_s=3600)

    produce(kafka_broker, topic, records(6))
    below = evaluate(sensor_def, instance, settings, None)
    assert not below.run_requests and "below thresholds" in below.skip_reason.skip_message
    (obs,) = below.asset_events
    assert obs.asset_key.path == ["kafka", topic]
    assert obs.metadata["total_lag"].value == 6
    assert {f"p{i}_lag" for i in range(3)} <= set(obs.metadata)

    produce(kafka_broker, topic, records(6))
    due = evaluate(sensor_def, instance, settings, below.cursor)
    (req,) = due.run_requests
    assert req.job_name == LANDING_JOB_NAME
    assert req.run_key.startswith("kafka-landing-") and req.run_key.endswith("-0")
    digest = req.tags[OFFSETS_TAG]

    # A run of the job is in progress: no second one.
    run = create_run_for_test(
        instance, job_name=LANDING_JOB_NAME, status=DagsterRunStatus.STARTED, tags=dict(req.tags)
    )
    busy = evaluate(sensor_def, instance, settings, due.cursor)
    assert not busy.run_requests and "in progress" in busy.skip_reason.skip_message

    # It failed without committing: the retry gets a new key from the same offsets.
    instance.report_run_failed(instance.get_run_by_id(run.run_id))
    retry = evaluate(sensor_def, instance, settings, busy.cursor)
    (req2,) = retry.run_requests
    assert req2.tags[OFFSETS_TAG] == digest and req2.run_key == req.run_key[:-1] + "1"

    # The same state seen by a sensor whose cursor was reset: the same key (deduplicated).
    rewound = evaluate(sensor_def, instance, settings, None)
    assert rewound.run_requests[0].run_key == req2.run_key

    # Committed offsets moved (but lag still above the threshold): another key.
    commit(kafka_broker, settings.group_id, topic, {0: 1})
    moved = evaluate(sensor_def, instance, settings, retry.cursor)
    (req3,) = moved.run_requests
    assert req3.tags[OFFSETS_TAG] != digest


def test_sensor_warns_when_nothing_progresses_or_lag_keeps_growing(
    kafka_broker: str, topic: str, instance: DagsterInstance, caplog
) -> None:
    settings = settings_for(kafka_broker, topic)
    sensor_def = build_kafka_lag_sensor(lag_records=10**9, lag_age_s=10**9, growing_ticks=2)
    produce(kafka_broker, topic, records(3))
    caplog.set_level(logging.WARNING, logger="manufacturing_assets.alerts")

    first = evaluate(sensor_def, instance, settings, None)
    assert not caplog.records
    # Simulate time: the cursor says the offsets have not moved for 16 minutes.
    state = json.loads(first.cursor)
    state["topics"][topic]["progress_at"] -= 16 * 60
    stalled = evaluate(sensor_def, instance, settings, json.dumps(state))
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "[WARN]" in warnings[0] and "no progress" in warnings[0]
    assert "16 min" in warnings[0]
    # Warned once per episode.
    again = evaluate(sensor_def, instance, settings, stalled.cursor)
    assert len(caplog.records) == 1

    # Lag grows on 2 consecutive ticks -> one warning.
    caplog.clear()
    produce(kafka_broker, topic, records(2))
    grow1 = evaluate(sensor_def, instance, settings, again.cursor)
    assert not caplog.records
    produce(kafka_broker, topic, records(2))
    grow2 = evaluate(sensor_def, instance, settings, grow1.cursor)
    assert [r.getMessage() for r in caplog.records][0].startswith(
        f"[WARN] Kafka lag on {topic} keeps growing"
    )
    # Progress (everything committed) clears both conditions.
    caplog.clear()
    ends = {p.partition: p.end_offset for p in consumer_lag(settings, with_age=False)}
    commit(kafka_broker, settings.group_id, topic, ends)
    done = evaluate(sensor_def, instance, settings, grow2.cursor)
    assert not caplog.records
    topic_state = json.loads(done.cursor)["topics"][topic]
    assert topic_state["lag"] == 0 and not topic_state["warned_stall"]


def test_sensor_and_topic_assets_load_in_definitions(
    kafka_broker: str, topic: str, tmp_path
) -> None:
    from manufacturing_assets.kafka.job import kafka_landing_job
    from manufacturing_assets.resources.landing_zone import LandingZone

    settings = settings_for(kafka_broker, topic)
    defs = Definitions(
        assets=kafka_topic_specs(settings),
        jobs=[kafka_landing_job],
        sensors=[build_kafka_lag_sensor(kafka_landing_job)],
        resources={
            "kafka": settings,
            "notifier": Notifier(),
            "landing": LandingZone(root=str(tmp_path)),
        },
    )
    repo = defs.get_repository_def()
    assert repo.get_sensor_def("kafka_lag_sensor").job_name == LANDING_JOB_NAME
    assert AssetKey(["kafka", topic]) in repo.asset_graph.get_all_asset_keys()
