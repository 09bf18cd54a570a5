"""Kafka connection settings: one resource, three confluent-kafka client configurations.

``KafkaSettings`` is the only place the platform builds Kafka client configuration from;
the landing job, the lag sensor, the simulator and the benchmark all go through
:meth:`KafkaSettings.consumer_config`, :meth:`KafkaSettings.producer_config` and
:meth:`KafkaSettings.admin_config`. Credentials are passed in as Dagster ``EnvVar`` by
:mod:`manufacturing_assets.environment` so they never appear in run configuration.

The default topics are the contract's (data contract section 3):

| topic | stream | message key |
|---|---|---|
| ``sensor-readings`` | ``sensor_readings`` | machine_id |
| ``shots`` | ``shots`` | machine_id |
| ``machine-events`` | ``machine_events`` | machine_id |
"""

from __future__ import annotations

from typing import Any

from dagster import ConfigurableResource, EnvVar
from pydantic import Field

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI")
DEFAULT_GROUP_ID = "manufacturing-assets-landing"
DEFAULT_TOPICS: dict[str, str] = {
    "sensor-readings": "sensor_readings",
    "shots": "shots",
    "machine-events": "machine_events",
}
LANDABLE_STREAMS = ("sensor_readings", "shots", "machine_events")


def _resolved(value: str) -> str:
    """The value of a Dagster ``EnvVar`` used outside a run (CLI, simulator); Dagster
    resolves it itself when it builds the resource for a run or a sensor."""
    return value.get_value() if isinstance(value, EnvVar) else value  # type: ignore[return-value]


class KafkaSettings(ConfigurableResource):
    """Where the factory topics live and how to authenticate (standard Kafka settings)."""

    bootstrap_servers: str = Field(description="Comma-separated host:port list.")
    security_protocol: str = Field(
        default="PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."
    )
    sasl_mechanism: str | None = Field(
        default=None,
        description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (default PLAIN with SASL_*).",
    )
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_ca_location: str | None = Field(
        default=None, description="CA bundle (PEM) to verify the brokers; system CAs if unset."
    )
    group_id: str = Field(
        default=DEFAULT_GROUP_ID, description="Consumer group of the landing job."
    )
    topics: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_TOPICS),
        description="topic -> landing stream (sensor_readings, shots, machine_events).",
    )
    session_timeout_ms: int = Field(
        default=45_000, description="Consumer group session timeout (ms)."
    )
    client_id: str = "manufacturing-assets"
    extra_config: dict[str, str] = Field(
        default_factory=dict,
        description="Any further librdkafka properties, passed through unchanged (last word).",
    )

    # ---- validation -------------------------------------------------------------------
    def validate_settings(self) -> None:
        """Raise ``ValueError`` naming the setting that is wrong."""
        if not self.bootstrap_servers.strip():
            raise ValueError("kafka bootstrap_servers is empty")
        protocol = self.security_protocol.strip().upper()
        if protocol not in SECURITY_PROTOCOLS:
            raise ValueError(
                f"kafka security_protocol {self.security_protocol!r} is not one of "
                f"{', '.join(SECURITY_PROTOCOLS)}"
            )
        if protocol.startswith("SASL_"):
            mechanism = (self.sasl_mechanism or "PLAIN").strip().upper()
            if mechanism not in SASL_MECHANISMS:
                raise ValueError(
                    f"kafka sasl_mechanism {self.sasl_mechanism!r} is not one of "
                    f"{', '.join(SASL_MECHANISMS)}"
                )
            if mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512") and not (
                self.sasl_username and self.sasl_password
            ):
                raise ValueError(
                    f"kafka security_protocol {protocol} with {mechanism} needs "
                    "sasl_username and sasl_password (KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD)"
                )
        bad = {t: s for t, s in self.topics.items() if s not in LANDABLE_STREAMS}
        if bad:
            raise ValueError(
                f"kafka topics map to unknown streams {bad}; streams are {', '.join(LANDABLE_STREAMS)}"
            )
        if not self.topics:
            raise ValueError("kafka topics is empty")

    # ---- topics -----------------------------------------------------------------------
    @property
    def topic_names(self) -> list[str]:
        return sorted(self.topics)

    def stream_for_topic(self, topic: str) -> str:
        return self.topics[topic]

    # ---- client configurations --------------------------------------------------------
    def common_config(self) -> dict[str, Any]:
        """Connection and security properties shared by every client."""
        self.validate_settings()
        protocol = self.security_protocol.strip().upper()
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers.strip(),
            "security.protocol": protocol,
            "client.id": self.client_id,
        }
        if protocol.startswith("SASL_"):
            conf["sasl.mechanism"] = (self.sasl_mechanism or "PLAIN").strip().upper()
            if self.sasl_username is not None:
                conf["sasl.username"] = _resolved(self.sasl_username)
            if self.sasl_password is not None:
                conf["sasl.password"] = _resolved(self.sasl_password)
        if self.ssl_ca_location:
            conf["ssl.ca.location"] = self.ssl_ca_location
        return conf

    def consumer_config(self, group_id: str | None = None) -> dict[str, Any]:
        """A consumer that never commits on its own: offsets are committed by the landing
        pass only after the landed files are durable (docs/kafka.md)."""
        conf = self.common_config() | {
            "group.id": group_id or self.group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": int(self.session_timeout_ms),
            "isolation.level": "read_committed",
            "enable.partition.eof": False,
        }
        return conf | dict(self.extra_config)

    def producer_config(self) -> dict[str, Any]:
        """An idempotent producer (no duplicates from retries), lz4-compressed batches."""
        conf = self.common_config() | {
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            "compression.type": "lz4",
        }
        return conf | dict(self.extra_config)

    def admin_config(self) -> dict[str, Any]:
        return self.common_config() | dict(self.extra_config)
