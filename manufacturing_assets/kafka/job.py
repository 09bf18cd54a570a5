"""The Dagster job of the Kafka landing pass: ``kafka_landing_job`` (op ``land_kafka_topics``).

Started by the Kafka lag sensor (``sensors/kafka_lag.py``); the pass itself is ``lander.py``.
Defined in the code location only when ``KAFKA_BOOTSTRAP_SERVERS`` is set (docs/kafka.md).
"""

from dataclasses import asdict

from dagster import Config, MetadataValue, OpExecutionContext, Output, job, op

from manufacturing_assets.kafka.lander import LandingOptions, run_landing_pass
from manufacturing_assets.kafka.settings import KafkaSettings
from manufacturing_assets.resources.landing_zone import LandingZone


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
            "landed_without_ts": report.bad_ts,
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
