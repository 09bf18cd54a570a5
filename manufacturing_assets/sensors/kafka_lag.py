"""Kafka lag sensor: how far the landing consumer group is behind, and when to land.

:func:`consumer_lag` (plain function, no Dagster) measures per topic partition

- ``end_offset``: the log end offset (high watermark);
- ``committed``: the landing group's committed offset (None when nothing is committed: the
  group then starts at the low watermark, ``auto.offset.reset=earliest``);
- ``lag = end_offset - max(committed, low watermark)``;
- ``oldest_age_s``: age of the oldest unconsumed event, from the timestamp of the message at
  the committed offset (one fetch per lagging partition; None when the broker gives none).

The sensor (``kafka_lag_sensor``, only defined when Kafka is configured) then

- starts ``kafka_landing_job`` when the total lag of a topic reaches ``lag_records`` or its
  oldest unconsumed event is ``lag_age_s`` old, never while a run of that job is queued or in
  progress; the run key is derived from the committed offsets (plus the number of finished
  runs that started from them), so a rewound sensor cursor cannot start a second run for
  the same data while a failed run is still retried;
- reports lag as asset observations on the external assets ``kafka/<topic>`` (metadata:
  total lag, oldest age, and end/committed/lag/age per partition), visible in the UI;
- sends a WARN through the notifier (as the check-alert sensor does) when a topic's lag
  grew on ``growing_ticks`` consecutive ticks, or data waited without any committed
  progress for ``stall_s`` (15 minutes); state lives in the cursor, one warning per episode.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from dagster import (
    AssetKey,
    AssetObservation,
    AssetSpec,
    DagsterRunStatus,
    DefaultSensorStatus,
    MetadataValue,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from manufacturing_assets.kafka.settings import KafkaSettings
from manufacturing_assets.resources.notifier import Notifier

KAFKA_LAG_SENSOR_NAME = "kafka_lag_sensor"
LANDING_JOB_NAME = "kafka_landing_job"
OFFSETS_TAG = "kafka/committed_offsets"

# Defaults (documented in docs/ingestion.md).
LAG_RECORDS = 10_000  # land when a topic has this many records waiting ...
LAG_AGE_S = 60.0  # ... or its oldest waiting event is a minute old
GROWING_TICKS = 5  # warn when lag grew on this many consecutive ticks
STALL_S = 900.0  # warn when data waited 15 minutes without committed progress

ACTIVE_RUN_STATUSES = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]
FINISHED_RUN_STATUSES = [
    DagsterRunStatus.SUCCESS,
    DagsterRunStatus.FAILURE,
    DagsterRunStatus.CANCELED,
]


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    low_offset: int
    end_offset: int  # high watermark: offset of the next message to be written
    committed: int | None  # the group's committed offset; None = nothing committed
    lag: int
    oldest_timestamp_ms: int | None = None  # timestamp of the first unconsumed message
    oldest_age_s: float | None = None

    @property
    def position(self) -> int:
        """Where the group resumes: its committed offset, else the low watermark."""
        return self.low_offset if self.committed is None else max(self.committed, self.low_offset)


def consumer_lag(
    settings: KafkaSettings,
    *,
    group_id: str | None = None,
    topics: Sequence[str] | None = None,
    with_age: bool = True,
    timeout_s: float = 10.0,
    now: float | None = None,
) -> list[PartitionLag]:
    """Lag of the landing consumer group (``settings.group_id``) on every partition of its topics.

    Uses a consumer with the group's id that never subscribes (no group join, no rebalance)
    and never commits. A topic that does not exist is skipped.
    """
    from confluent_kafka import OFFSET_INVALID, TIMESTAMP_NOT_AVAILABLE, Consumer, TopicPartition

    group = group_id or settings.group_id
    conf = settings.consumer_config(group) | {
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
    }
    consumer = Consumer(conf)
    try:
        metadata = consumer.list_topics(timeout=timeout_s)
        tps = []
        for topic in sorted(topics or settings.topic_names):
            meta = metadata.topics.get(topic)
            if meta is None or meta.error is not None:
                continue
            tps.extend(TopicPartition(topic, p) for p in sorted(meta.partitions))
        if not tps:
            return []
        committed = {
            (tp.topic, tp.partition): (
                None if tp.offset == OFFSET_INVALID or tp.offset < 0 else tp.offset
            )
            for tp in consumer.committed(tps, timeout=timeout_s)
        }
        lags: dict[tuple[str, int], PartitionLag] = {}
        for tp in tps:
            low, high = consumer.get_watermark_offsets(tp, timeout=timeout_s, cached=False)
            done = committed[(tp.topic, tp.partition)]
            start = low if done is None else max(done, low)
            lags[(tp.topic, tp.partition)] = PartitionLag(
                tp.topic, tp.partition, low, high, done, max(high - start, 0)
            )
        if with_age:
            stamps = _first_timestamps(
                consumer,
                [TopicPartition(p.topic, p.partition, p.position) for p in lags.values() if p.lag],
                timeout_s,
                TIMESTAMP_NOT_AVAILABLE,
            )
            clock = time.time() if now is None else now
            for key, ts in stamps.items():
                lags[key] = PartitionLag(
                    **asdict(lags[key])
                    | {
                        "oldest_timestamp_ms": ts,
                        "oldest_age_s": round(max(clock - ts / 1000.0, 0.0), 3),
                    }
                )
        return [lags[k] for k in sorted(lags)]
    finally:
        consumer.close()


def _first_timestamps(
    consumer: Any, starts: list[Any], timeout_s: float, not_available: int
) -> dict[tuple[str, int], int]:
    """Timestamp (ms) of the message at each given offset: one fetch per partition."""
    if not starts:
        return {}
    consumer.assign(starts)
    wanted = {(tp.topic, tp.partition): tp.offset for tp in starts}
    found: dict[tuple[str, int], int] = {}
    pending = set(wanted)
    deadline = time.monotonic() + timeout_s
    try:
        while pending and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=len(pending), timeout=0.5):
                if msg.error() is not None:
                    continue
                key = (msg.topic(), msg.partition())
                if key not in pending:
                    continue
                kind, ts = msg.timestamp()
                if kind != not_available and ts >= 0:
                    found[key] = ts
                pending.discard(key)
                consumer.pause([tp for tp in starts if (tp.topic, tp.partition) == key])
    finally:
        consumer.unassign()
    return found


# ---------------------------------------------------------------- decisions (pure)


def offsets_digest(lags: Sequence[PartitionLag]) -> str:
    """Digest of the committed offsets (the state a landing run would start from)."""
    text = ",".join(
        f"{p.topic}/{p.partition}={'none' if p.committed is None else p.committed}"
        for p in sorted(lags, key=lambda p: (p.topic, p.partition))
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def topic_totals(lags: Sequence[PartitionLag]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"lag": 0, "oldest_age_s": None, "committed": {}}
    )
    for p in lags:
        t = out[p.topic]
        t["lag"] += p.lag
        t["committed"][str(p.partition)] = p.committed
        if p.oldest_age_s is not None:
            t["oldest_age_s"] = max(t["oldest_age_s"] or 0.0, p.oldest_age_s)
    return dict(out)


def wants_landing(lags: Sequence[PartitionLag], lag_records: int, lag_age_s: float) -> list[str]:
    """Why a landing run is due (empty: not due): per topic, records or age over threshold."""
    reasons = []
    for topic, t in sorted(topic_totals(lags).items()):
        if t["lag"] <= 0:
            continue
        if t["lag"] >= lag_records:
            reasons.append(f"{topic}: {t['lag']} records waiting (threshold {lag_records})")
        elif t["oldest_age_s"] is not None and t["oldest_age_s"] >= lag_age_s:
            reasons.append(
                f"{topic}: oldest waiting event {t['oldest_age_s']:.0f}s old (threshold {lag_age_s:.0f}s)"
            )
    return reasons


def update_health(
    state: dict[str, Any],
    lags: Sequence[PartitionLag],
    now: float,
    growing_ticks: int,
    stall_s: float,
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Advance the per-topic health state; returns the new state and warnings to send.

    Progress = the committed offsets moved, or nothing waits. A warning is sent once when
    its condition starts and again only after the condition cleared.
    """
    topics = dict(state.get("topics", {}))
    warnings: list[tuple[str, str]] = []
    for topic, t in sorted(topic_totals(lags).items()):
        prev = topics.get(topic) or {}
        progressed = t["lag"] == 0 or prev.get("committed") != t["committed"]
        last_lag = prev.get("lag")
        growing = (
            (prev.get("growing", 0) + 1) if last_lag is not None and t["lag"] > last_lag else 0
        )
        progress_at = now if (progressed or "progress_at" not in prev) else prev["progress_at"]
        cur = {
            "lag": t["lag"],
            "committed": t["committed"],
            "growing": growing,
            "progress_at": progress_at,
            "warned_growing": prev.get("warned_growing", False) and growing >= growing_ticks,
            "warned_stall": prev.get("warned_stall", False) and not progressed,
        }
        if growing >= growing_ticks and not cur["warned_growing"]:
            warnings.append(
                (
                    f"Kafka lag on {topic} keeps growing",
                    f"lag grew on {growing} consecutive ticks, now {t['lag']} records "
                    f"(oldest waiting event {t['oldest_age_s']}s old)",
                )
            )
            cur["warned_growing"] = True
        stalled_s = now - progress_at
        if t["lag"] > 0 and stalled_s >= stall_s and not cur["warned_stall"]:
            warnings.append(
                (
                    f"Kafka landing makes no progress on {topic}",
                    f"{t['lag']} records waiting and the committed offsets have not moved for "
                    f"{stalled_s / 60:.0f} min (threshold {stall_s / 60:.0f} min)",
                )
            )
            cur["warned_stall"] = True
        topics[topic] = cur
    return {"topics": topics}, warnings


def observations(lags: Sequence[PartitionLag]) -> list[AssetObservation]:
    """One observation per topic on the external asset ``kafka/<topic>``."""
    by_topic: dict[str, list[PartitionLag]] = defaultdict(list)
    for p in lags:
        by_topic[p.topic].append(p)
    out = []
    for topic, parts in sorted(by_topic.items()):
        ages = [p.oldest_age_s for p in parts if p.oldest_age_s is not None]
        metadata: dict[str, Any] = {
            "total_lag": sum(p.lag for p in parts),
            "max_oldest_age_s": max(ages) if ages else 0.0,
            "partitions": len(parts),
        }
        for p in parts:
            metadata[f"p{p.partition}_lag"] = p.lag
            metadata[f"p{p.partition}_end_offset"] = p.end_offset
            metadata[f"p{p.partition}_committed_offset"] = (
                -1 if p.committed is None else p.committed
            )
            metadata[f"p{p.partition}_oldest_age_s"] = (
                0.0 if p.oldest_age_s is None else p.oldest_age_s
            )
        metadata["by_partition"] = MetadataValue.json([asdict(p) for p in parts])
        out.append(AssetObservation(asset_key=AssetKey(["kafka", topic]), metadata=metadata))
    return out


def kafka_topic_specs(settings: KafkaSettings) -> list[AssetSpec]:
    """External assets ``kafka/<topic>`` on which the lag sensor reports."""
    return [
        AssetSpec(
            key=AssetKey(["kafka", topic]),
            group_name="kafka",
            kinds={"kafka"},
            description=(
                f"Kafka topic `{topic}` (stream `{settings.stream_for_topic(topic)}`). The lag "
                "sensor observes it: lag per partition (log end offset - committed offset of "
                f"the landing group `{settings.group_id}`) and the age of the oldest waiting event."
            ),
        )
        for topic in settings.topic_names
    ]


# ---------------------------------------------------------------- the sensor


def _active_runs(context: SensorEvaluationContext, job_name: str) -> list[str]:
    records = context.instance.get_run_records(
        RunsFilter(job_name=job_name, statuses=ACTIVE_RUN_STATUSES), limit=5
    )
    return [r.dagster_run.run_id for r in records]


def _finished_runs_from(context: SensorEvaluationContext, job_name: str, digest: str) -> int:
    return len(
        context.instance.get_run_records(
            RunsFilter(
                job_name=job_name, statuses=FINISHED_RUN_STATUSES, tags={OFFSETS_TAG: digest}
            )
        )
    )


def evaluate_kafka_lag(
    context: SensorEvaluationContext,
    kafka: KafkaSettings,
    notifier: Notifier,
    *,
    job_name: str = LANDING_JOB_NAME,
    lag_records: int = LAG_RECORDS,
    lag_age_s: float = LAG_AGE_S,
    growing_ticks: int = GROWING_TICKS,
    stall_s: float = STALL_S,
    now: float | None = None,
) -> SensorResult:
    now = time.time() if now is None else now
    state = json.loads(context.cursor) if context.cursor else {}
    lags = consumer_lag(kafka, now=now)
    state, warnings = update_health(state, lags, now, growing_ticks, stall_s)
    for title, text in warnings:
        notifier.send(title, text, "WARN")
    events = observations(lags)
    cursor = json.dumps(state, sort_keys=True)
    total = sum(p.lag for p in lags)
    reasons = wants_landing(lags, lag_records, lag_age_s)
    if not reasons:
        return SensorResult(
            skip_reason=f"lag {total} records: below thresholds",
            cursor=cursor,
            asset_events=events,
        )
    active = _active_runs(context, job_name)
    if active:
        return SensorResult(
            skip_reason=f"{'; '.join(reasons)}; but {job_name} run {active[0]} is in progress",
            cursor=cursor,
            asset_events=events,
        )
    digest = offsets_digest(lags)
    attempt = _finished_runs_from(context, job_name, digest)
    context.log.info(f"starting {job_name}: {'; '.join(reasons)}")
    return SensorResult(
        run_requests=[
            RunRequest(
                run_key=f"kafka-landing-{digest}-{attempt}",
                job_name=job_name,
                tags={OFFSETS_TAG: digest, "kafka/lag": str(total)},
            )
        ],
        cursor=cursor,
        asset_events=events,
    )


def build_kafka_lag_sensor(
    job: Any = None,
    *,
    job_name: str = LANDING_JOB_NAME,
    lag_records: int = LAG_RECORDS,
    lag_age_s: float = LAG_AGE_S,
    growing_ticks: int = GROWING_TICKS,
    stall_s: float = STALL_S,
    minimum_interval_seconds: int = 60,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
):
    """The lag sensor for ``job`` (the landing job object; or by ``job_name``)."""
    target: dict[str, Any] = {"job": job} if job is not None else {"job_name": job_name}
    name = getattr(job, "name", job_name)

    @sensor(
        name=KAFKA_LAG_SENSOR_NAME,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description=(
            f"Measures the landing group's lag (log end - committed offset) per topic partition "
            f"and the age of the oldest waiting event; starts {name} when a topic has "
            f">= {lag_records} records or a {lag_age_s:.0f}s-old event waiting (one run at a "
            f"time); observes kafka/<topic>; warns when lag grows {growing_ticks} ticks in a row "
            f"or nothing is committed for {stall_s / 60:.0f} min."
        ),
        **target,
    )
    def kafka_lag_sensor(
        context: SensorEvaluationContext, kafka: KafkaSettings, notifier: Notifier
    ) -> SensorResult:
        return evaluate_kafka_lag(
            context,
            kafka,
            notifier,
            job_name=name,
            lag_records=lag_records,
            lag_age_s=lag_age_s,
            growing_ticks=growing_ticks,
            stall_s=stall_s,
        )

    return kafka_lag_sensor
