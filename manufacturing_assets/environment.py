"""The one place where the environment becomes settings and resources.

Every variable has a local default under one data folder (``MA_DATA_DIR``, default
``./data``), so `dagster dev` and the CLI work on a fresh clone with no servers.

| variable | default | meaning |
|---|---|---|
| MA_DATA_DIR | ./data | root of every local default below |
| MA_LANDING_ROOT | $MA_DATA_DIR/landing | landing zone: a folder or s3://bucket/prefix |
| MA_LAKE_ROOT | $MA_DATA_DIR/lake | Delta lake root: a folder or s3://bucket/prefix |
| MA_START_DATE | 2024-03-29 | first day of the `date` partitions: the day before your first landing day (records near its midnight may belong to the day before). The default fits the sample |
| MA_ENGINE | polars | polars or spark |
| MA_SPARK_MASTER | local[2] | Spark master URL when MA_ENGINE=spark |
| MA_S3_ENDPOINT_URL | (AWS) | S3-compatible endpoint (MinIO, moto, ...) |
| AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION | | S3 credentials |
| MA_NOTIFIER | log | where failed checks are sent: log, webhook |
| MA_WEBHOOK_URL | | webhook (Slack incoming webhooks work) for MA_NOTIFIER=webhook |
| MA_INGESTION_SENSORS | stopped | default status of the landing, automation and Kafka lag sensors: running (deployments), stopped (`dagster dev`) |
| KAFKA_BOOTSTRAP_SERVERS | (absent: Kafka off) | brokers; when set, `kafka_landing_job` and the Kafka sensors are defined |
| KAFKA_SECURITY_PROTOCOL | PLAINTEXT | PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL |
| KAFKA_SASL_MECHANISM | PLAIN (with SASL_*) | PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 |
| KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD | | SASL credentials (passed to Dagster as `EnvVar`) |
| KAFKA_SSL_CA_LOCATION | (system CAs) | CA bundle to verify the brokers |
| KAFKA_GROUP_ID | manufacturing-assets-landing | consumer group of the landing job |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import EnvVar

from manufacturing_assets.io_managers.delta import DeltaLakeIOManager
from manufacturing_assets.kafka.settings import DEFAULT_GROUP_ID, KafkaSettings
from manufacturing_assets.resources.engine import EngineResource
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets.resources.ledger import LandingLedger, ledger_uri
from manufacturing_assets.resources.notifier import Notifier

# The sample's first landing day is 2024-03-30; silver of the day before holds the records of
# that folder stamped before its local midnight.
DEFAULT_START_DATE = "2024-03-29"


def partition_start_date(env: dict[str, str] | None = None) -> str:
    """``MA_START_DATE``: where the `date` partitions (and ``marts/dim_date``) start."""
    env = dict(os.environ if env is None else env)
    return env.get("MA_START_DATE", "").strip() or DEFAULT_START_DATE


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    landing_root: str
    lake_root: str
    engine: str = "polars"
    spark_master: str = "local[2]"
    s3_endpoint_url: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_region: str | None = None
    notifier: str = "log"
    webhook_url: str | None = None
    ingestion_sensors: str = "stopped"
    kafka_bootstrap_servers: str | None = None
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = None
    kafka_ssl_ca_location: str | None = None
    kafka_group_id: str = DEFAULT_GROUP_ID

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("MA_DATA_DIR", "data")).resolve()
        return cls(
            data_dir=data_dir,
            landing_root=env.get("MA_LANDING_ROOT", str(data_dir / "landing")),
            lake_root=env.get("MA_LAKE_ROOT", str(data_dir / "lake")),
            engine=env.get("MA_ENGINE", "polars"),
            spark_master=env.get("MA_SPARK_MASTER", "local[2]"),
            s3_endpoint_url=env.get("MA_S3_ENDPOINT_URL") or None,
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
            aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            notifier=env.get("MA_NOTIFIER", "log"),
            webhook_url=env.get("MA_WEBHOOK_URL") or None,
            ingestion_sensors=env.get("MA_INGESTION_SENSORS", "stopped").strip().lower(),
            kafka_bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS", "").strip() or None,
            kafka_security_protocol=env.get("KAFKA_SECURITY_PROTOCOL", "").strip() or "PLAINTEXT",
            kafka_sasl_mechanism=env.get("KAFKA_SASL_MECHANISM") or None,
            kafka_sasl_username=env.get("KAFKA_SASL_USERNAME") or None,
            kafka_sasl_password=env.get("KAFKA_SASL_PASSWORD") or None,
            kafka_ssl_ca_location=env.get("KAFKA_SSL_CA_LOCATION") or None,
            kafka_group_id=env.get("KAFKA_GROUP_ID", "").strip() or DEFAULT_GROUP_ID,
        )

    @property
    def kafka_enabled(self) -> bool:
        return bool(self.kafka_bootstrap_servers)

    def kafka_settings(self, secrets_as_env_vars: bool = True) -> KafkaSettings | None:
        """The Kafka resource (None when KAFKA_BOOTSTRAP_SERVERS is absent). Credentials
        that come from the environment are passed as Dagster ``EnvVar`` so they never show
        in run configuration or the UI."""
        if not self.kafka_bootstrap_servers:
            return None

        def secret(name: str, value: str | None) -> Any:
            if secrets_as_env_vars and value is not None and os.environ.get(name) == value:
                return EnvVar(name)
            return value

        return KafkaSettings(
            bootstrap_servers=self.kafka_bootstrap_servers,
            security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=secret("KAFKA_SASL_USERNAME", self.kafka_sasl_username),
            sasl_password=secret("KAFKA_SASL_PASSWORD", self.kafka_sasl_password),
            ssl_ca_location=self.kafka_ssl_ca_location,
            group_id=self.kafka_group_id,
        )

    def delta_storage_options(self) -> dict[str, str]:
        """delta-rs storage options for an ``s3://`` lake, from the same settings."""
        if not self.lake_root.startswith("s3://"):
            return {}
        opts = {"AWS_REGION": self.aws_region or "us-east-1"}
        if self.s3_endpoint_url:
            opts["AWS_ENDPOINT_URL"] = self.s3_endpoint_url
            if self.s3_endpoint_url.startswith("http://"):
                opts["AWS_ALLOW_HTTP"] = "true"
        if self.aws_access_key_id:
            opts["AWS_ACCESS_KEY_ID"] = self.aws_access_key_id
        if self.aws_secret_access_key:
            opts["AWS_SECRET_ACCESS_KEY"] = self.aws_secret_access_key
        return opts


def build_resources(settings: Settings | None = None) -> dict[str, Any]:
    """Resources for the given settings (the environment's when omitted)."""
    s = settings or Settings.from_env()
    return {
        "landing": LandingZone(
            root=s.landing_root,
            endpoint_url=s.s3_endpoint_url,
            region_name=s.aws_region,
            aws_access_key_id=s.aws_access_key_id,
            aws_secret_access_key=s.aws_secret_access_key,
        ),
        "io_manager": DeltaLakeIOManager(
            root_uri=s.lake_root, storage_options=s.delta_storage_options()
        ),
        "engine": EngineResource(name=s.engine, spark_master=s.spark_master),  # type: ignore[arg-type]
        "notifier": Notifier(kind=s.notifier, webhook_url=s.webhook_url),  # type: ignore[arg-type]
        "landing_ledger": LandingLedger(
            uri=ledger_uri(s.lake_root), storage_options=s.delta_storage_options()
        ),
        **({"kafka": s.kafka_settings()} if s.kafka_enabled else {}),
    }
