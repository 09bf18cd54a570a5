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
| MA_SPARK_MASTER | local[2] | Spark master when MA_ENGINE=spark: local[N], spark://host:port, or a Spark Connect sc://host:port (deploy/spark.md) |
| MA_SPARK_CONF | | further Spark settings, `key=value;key=value` or a JSON object (executor memory, packages ...) |
| MA_S3_ENDPOINT_URL | (AWS) | S3-compatible endpoint (MinIO, moto, ...) |
| AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN | (AWS chain) | S3 credentials (passed to Dagster as `EnvVar`) |
| AWS_REGION (or AWS_DEFAULT_REGION) | us-east-1 | S3 region |
| MA_NOTIFIER | log | where alerts (failed checks and runs) are sent, comma-separated: log, webhook, slack, email (docs/operations.md) |
| MA_WEBHOOK_URL | | generic JSON webhook for `webhook` (passed as `EnvVar`) |
| MA_SLACK_TOKEN | | Slack bot token for `slack` (passed as `EnvVar`) |
| MA_SLACK_BASE_URL | https://slack.com/api/ | Slack Web API address (a proxy or compatible server) |
| MA_SLACK_CHANNEL / MA_SLACK_CHANNEL_ERROR / MA_SLACK_CHANNEL_WARN | | Slack channel for all alerts / for one severity |
| MA_SMTP_HOST / MA_SMTP_PORT | / 25 | SMTP server for `email` |
| MA_SMTP_FROM / MA_SMTP_TO | | sender; recipients, comma-separated |
| MA_SMTP_USERNAME / MA_SMTP_PASSWORD | | SMTP login (password passed as `EnvVar`) |
| MA_SMTP_STARTTLS | false | STARTTLS before login |
| MA_UI_BASE_URL | | Dagster UI address (http://dagster.example:3000): alerts link to `<it>/runs/<run id>` |
| MA_ALERT_MAX_ATTEMPTS / MA_ALERT_BACKOFF_S | 5 / 30 | attempts per message and channel; first back-off (doubles) |
| MA_SILENT_DEVICE_SHARE | 0.10 | health: WARN when more of a plant's devices of the previous 7 days are silent in a plant-day (0.10 or 10%; a value outside 0..1 stops the code location with the variable named) |
| MA_STALL_MINUTES | 15 | health: no landed file for a plant for this long while its machines run -> stall alert |
| MA_BACKLOG_MINUTES | 60 | health: landed files older than this and not yet in bronze -> backlog WARN |
| MA_COMPLETE_AFTER_HOURS | 6 | health: silver of a plant-day not materialized this long after the plant's local day ends -> WARN |
| MA_INGESTION_SENSORS | stopped | default status of the landing, automation and Kafka lag sensors: running (deployments), stopped (`dagster dev`) |
| KAFKA_BOOTSTRAP_SERVERS | (absent: Kafka off) | brokers; when set, `kafka_landing_job` and the Kafka sensors are defined |
| KAFKA_SECURITY_PROTOCOL | PLAINTEXT | PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL |
| KAFKA_SASL_MECHANISM | PLAIN (with SASL_*) | PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 |
| KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD | | SASL credentials (passed to Dagster as `EnvVar`) |
| KAFKA_SSL_CA_LOCATION | (system CAs) | CA bundle to verify the brokers |
| KAFKA_GROUP_ID | manufacturing-assets-landing | consumer group of the landing job |
| MA_WAREHOUSE | duckdb | SQL warehouse the gold and marts tables are published to: duckdb or snowflake (docs/warehouse.md) |
| MA_DUCKDB_PATH | $MA_DATA_DIR/warehouse.duckdb | the DuckDB warehouse file |
| SNOWFLAKE_ACCOUNT / SNOWFLAKE_USER | | Snowflake account identifier and login (MA_WAREHOUSE=snowflake) |
| SNOWFLAKE_PASSWORD | | password (passed as `EnvVar`); or a key pair: |
| SNOWFLAKE_PRIVATE_KEY_PATH / SNOWFLAKE_PRIVATE_KEY | | private key file, or its PEM text (passed as `EnvVar`) |
| SNOWFLAKE_PRIVATE_KEY_PASSPHRASE | | passphrase of an encrypted private key (passed as `EnvVar`) |
| SNOWFLAKE_ROLE / SNOWFLAKE_WAREHOUSE | (user defaults) | role and virtual warehouse of the session |
| SNOWFLAKE_DATABASE | | database holding the schemas GOLD and MARTS (required) |
| SNOWFLAKE_SCHEMA | PUBLIC | the session's schema |
| SNOWFLAKE_HOST / SNOWFLAKE_PORT / SNOWFLAKE_PROTOCOL | (Snowflake's) | endpoint overrides (a proxy, or the fakesnow emulator in tests) |
| SNOWFLAKE_NETWORK_TIMEOUT | (connector's) | seconds before a Snowflake request gives up |

Secrets (the AWS keys and session token, the webhook URL, the Slack token, the SMTP
password, the Kafka SASL credentials, the
Snowflake password, private key and passphrase) reach
Dagster only as ``EnvVar``: the UI and the job snapshots in the run database show the
variable's name, and Dagster reads the value in the process that runs a step or a sensor.
A value given in an explicit ``env`` mapping that is not the process environment's (tests,
tools) cannot be an ``EnvVar`` and is passed as it is.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster import EnvVar

from manufacturing_assets.io_managers.delta import DeltaLakeIOManager
from manufacturing_assets.io_managers.warehouse import WarehouseIOManager
from manufacturing_assets.kafka.settings import DEFAULT_GROUP_ID, KafkaSettings
from manufacturing_assets.resources.engine import EngineResource
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets.resources.ledger import LandingLedger, ledger_uri
from manufacturing_assets.resources.notifier import Notifier
from manufacturing_assets.resources.replay_ledger import ReplayLedger
from manufacturing_assets.resources.s3 import DEFAULT_REGION, S3Connection

if TYPE_CHECKING:
    from dagster_snowflake import SnowflakeResource

# The sample's first landing day is 2024-03-30; silver of the day before holds the records of
# that folder stamped before its local midnight.
DEFAULT_START_DATE = "2024-03-29"


def partition_start_date(env: dict[str, str] | None = None) -> str:
    """``MA_START_DATE``: where the `date` partitions (and ``marts/dim_date``) start."""
    env = dict(os.environ if env is None else env)
    return env.get("MA_START_DATE", "").strip() or DEFAULT_START_DATE


WAREHOUSES = ("duckdb", "snowflake")


def warehouse_backend(env: dict[str, str] | None = None) -> str:
    """``MA_WAREHOUSE``: the SQL warehouse (``duckdb`` or ``snowflake``)."""
    env = dict(os.environ if env is None else env)
    backend = env.get("MA_WAREHOUSE", "").strip().lower() or "duckdb"
    if backend not in WAREHOUSES:
        raise ValueError(f"MA_WAREHOUSE={backend!r}: expected one of {WAREHOUSES}")
    return backend


@dataclass(frozen=True)
class SnowflakeSettings:
    """The ``SNOWFLAKE_*`` variables (module docstring)."""

    account: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    private_key: str | None = field(default=None, repr=False)
    private_key_path: str | None = None
    private_key_passphrase: str | None = field(default=None, repr=False)
    role: str | None = None
    warehouse: str | None = None
    database: str | None = None
    schema: str = "PUBLIC"
    host: str | None = None
    port: int | None = None
    protocol: str | None = None
    network_timeout: int | None = None

    @classmethod
    def from_env(cls, env: dict[str, str]) -> SnowflakeSettings:
        def get(name: str) -> str | None:
            return env.get(f"SNOWFLAKE_{name}", "").strip() or None

        port, timeout = get("PORT"), get("NETWORK_TIMEOUT")
        return cls(
            account=get("ACCOUNT"),
            user=get("USER"),
            password=env.get("SNOWFLAKE_PASSWORD") or None,
            private_key=env.get("SNOWFLAKE_PRIVATE_KEY") or None,
            private_key_path=get("PRIVATE_KEY_PATH"),
            private_key_passphrase=env.get("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE") or None,
            role=get("ROLE"),
            warehouse=get("WAREHOUSE"),
            database=get("DATABASE"),
            schema=get("SCHEMA") or "PUBLIC",
            host=get("HOST"),
            port=int(port) if port else None,
            protocol=get("PROTOCOL"),
            network_timeout=int(timeout) if timeout else None,
        )


@dataclass(frozen=True)
class AlertSettings:
    """The notifier variables (module docstring)."""

    channels: str = "log"
    webhook_url: str | None = field(default=None, repr=False)
    slack_token: str | None = field(default=None, repr=False)
    slack_base_url: str | None = None
    slack_channels: dict[str, str] = field(default_factory=dict)
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str | None = None
    smtp_to: tuple[str, ...] = ()
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = False
    ui_base_url: str | None = None
    max_attempts: int = 5
    backoff_s: float = 30.0

    @classmethod
    def from_env(cls, env: dict[str, str]) -> AlertSettings:
        def get(name: str) -> str | None:
            return env.get(name, "").strip() or None

        channels = {
            sev: value
            for sev, var in (
                ("default", "MA_SLACK_CHANNEL"),
                ("ERROR", "MA_SLACK_CHANNEL_ERROR"),
                ("WARN", "MA_SLACK_CHANNEL_WARN"),
            )
            if (value := get(var))
        }
        return cls(
            channels=get("MA_NOTIFIER") or "log",
            webhook_url=env.get("MA_WEBHOOK_URL") or None,
            slack_token=env.get("MA_SLACK_TOKEN") or None,
            slack_base_url=get("MA_SLACK_BASE_URL"),
            slack_channels=channels,
            smtp_host=get("MA_SMTP_HOST"),
            smtp_port=int(env_number(env, "MA_SMTP_PORT", 25, minimum=1, maximum=65535)),
            smtp_from=get("MA_SMTP_FROM"),
            smtp_to=tuple(t.strip() for t in (get("MA_SMTP_TO") or "").split(",") if t.strip()),
            smtp_username=get("MA_SMTP_USERNAME"),
            smtp_password=env.get("MA_SMTP_PASSWORD") or None,
            smtp_starttls=(get("MA_SMTP_STARTTLS") or "").lower() in ("1", "true", "yes"),
            ui_base_url=get("MA_UI_BASE_URL"),
            max_attempts=int(env_number(env, "MA_ALERT_MAX_ATTEMPTS", 5, minimum=1)),
            backoff_s=env_number(env, "MA_ALERT_BACKOFF_S", 30),
        )


def env_number(
    env: Mapping[str, str],
    name: str,
    default: float,
    minimum: float = 0.0,
    maximum: float | None = None,
    share: bool = False,
) -> float:
    """``env[name]`` as a number (``default`` when unset or blank); a clear error naming the
    variable for text that is not a number or lies outside [minimum, maximum]. ``share``:
    a fraction in [0, 1], also written as a percentage (``10%`` = 0.10)."""
    text = (env.get(name) or "").strip()
    if not text:
        return default
    try:
        value = float(text[:-1]) / 100 if share and text.endswith("%") else float(text)
    except ValueError:
        raise ValueError(f"{name}={text!r}: expected a number") from None
    if share:
        minimum, maximum = 0.0, 1.0
    if value != value or value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum:g} and {maximum:g}" if maximum is not None else f">= {minimum:g}"
        hint = " (a share: 0.10 or 10% for ten percent)" if share else ""
        raise ValueError(f"{name}={text!r}: expected a number {bound}{hint}")
    return value


@dataclass(frozen=True)
class HealthSettings:
    """Thresholds of the health checks and sensors (module docstring)."""

    silent_device_share: float = 0.10
    stall_minutes: float = 15.0
    backlog_minutes: float = 60.0
    complete_after_hours: float = 6.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> HealthSettings:
        return cls(
            silent_device_share=env_number(env, "MA_SILENT_DEVICE_SHARE", 0.10, share=True),
            stall_minutes=env_number(env, "MA_STALL_MINUTES", 15),
            backlog_minutes=env_number(env, "MA_BACKLOG_MINUTES", 60),
            complete_after_hours=env_number(env, "MA_COMPLETE_AFTER_HOURS", 6),
        )


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    landing_root: str
    lake_root: str
    engine: str = "polars"
    spark_master: str = "local[2]"
    spark_conf: str = ""
    s3_endpoint_url: str | None = None
    aws_access_key_id: str | None = field(default=None, repr=False)
    aws_secret_access_key: str | None = field(default=None, repr=False)
    aws_session_token: str | None = field(default=None, repr=False)
    aws_region: str | None = None
    notifier: str = "log"
    webhook_url: str | None = field(default=None, repr=False)
    ingestion_sensors: str = "stopped"
    kafka_bootstrap_servers: str | None = None
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = field(default=None, repr=False)
    kafka_sasl_password: str | None = field(default=None, repr=False)
    kafka_ssl_ca_location: str | None = None
    kafka_group_id: str = DEFAULT_GROUP_ID
    warehouse: str = "duckdb"
    duckdb_path: str | None = None
    snowflake: SnowflakeSettings = field(default_factory=SnowflakeSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    health: HealthSettings = field(default_factory=HealthSettings)

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
            spark_conf=env.get("MA_SPARK_CONF", ""),
            s3_endpoint_url=env.get("MA_S3_ENDPOINT_URL") or None,
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
            aws_session_token=env.get("AWS_SESSION_TOKEN") or None,
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
            warehouse=warehouse_backend(env),
            duckdb_path=env.get("MA_DUCKDB_PATH", "").strip() or None,
            snowflake=SnowflakeSettings.from_env(env),
            alerts=AlertSettings.from_env(env),
            health=HealthSettings.from_env(env),
        )

    @property
    def kafka_enabled(self) -> bool:
        return bool(self.kafka_bootstrap_servers)

    @staticmethod
    def secret(name: str, value: str | None, as_env_var: bool = True) -> Any:
        """A credential for a resource: ``EnvVar(name)`` when the value is the process
        environment's (always, for the code location), else the value as given."""
        if as_env_var and value is not None and os.environ.get(name) == value:
            return EnvVar(name)
        return value

    def kafka_settings(self, secrets_as_env_vars: bool = True) -> KafkaSettings | None:
        """The Kafka resource (None when KAFKA_BOOTSTRAP_SERVERS is absent). Credentials
        that come from the environment are passed as Dagster ``EnvVar`` so they never show
        in run configuration or the UI."""
        if not self.kafka_bootstrap_servers:
            return None
        as_env = secrets_as_env_vars
        return KafkaSettings(
            bootstrap_servers=self.kafka_bootstrap_servers,
            security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.secret("KAFKA_SASL_USERNAME", self.kafka_sasl_username, as_env),
            sasl_password=self.secret("KAFKA_SASL_PASSWORD", self.kafka_sasl_password, as_env),
            ssl_ca_location=self.kafka_ssl_ca_location,
            group_id=self.kafka_group_id,
        )

    def s3_connection(self, secrets_as_env_vars: bool = True) -> S3Connection:
        """The S3 connection of an ``s3://`` landing zone or lake (``resources/s3.py``);
        credentials from the environment as ``EnvVar``, unset ones left to the AWS
        credential chain."""
        as_env = secrets_as_env_vars
        return S3Connection(
            region_name=self.aws_region or DEFAULT_REGION,
            endpoint_url=self.s3_endpoint_url,
            aws_access_key_id=self.secret("AWS_ACCESS_KEY_ID", self.aws_access_key_id, as_env),
            aws_secret_access_key=self.secret(
                "AWS_SECRET_ACCESS_KEY", self.aws_secret_access_key, as_env
            ),
            aws_session_token=self.secret("AWS_SESSION_TOKEN", self.aws_session_token, as_env),
        )

    def _s3_for(self, root: str) -> S3Connection | None:
        return self.s3_connection() if root.startswith("s3://") else None

    def landing_zone(self) -> LandingZone:
        return LandingZone(root=self.landing_root, s3=self._s3_for(self.landing_root))

    def delta_storage_options(self) -> dict[str, str]:
        """delta-rs storage options for an ``s3://`` lake, from the same settings (plain
        values: for reading the lake outside Dagster, never for resource configuration)."""
        if not self.lake_root.startswith("s3://"):
            return {}
        return self.s3_connection(secrets_as_env_vars=False).delta_storage_options()

    @property
    def warehouse_path(self) -> Path:
        """The DuckDB warehouse file."""
        return Path(self.duckdb_path) if self.duckdb_path else self.data_dir / "warehouse.duckdb"

    def snowflake_resource(self, secrets_as_env_vars: bool = True) -> SnowflakeResource:
        """``dagster-snowflake``'s resource for the ``SNOWFLAKE_*`` variables; the password,
        private key and passphrase as ``EnvVar``. (Imported here: ``dagster-snowflake`` takes
        about 5 s to import, which the embedded default never pays.)"""
        from dagster_snowflake import SnowflakeResource

        sf, as_env = self.snowflake, secrets_as_env_vars
        missing = [
            f"SNOWFLAKE_{n.upper()}" for n in ("account", "user", "database") if not getattr(sf, n)
        ]
        if not (sf.password or sf.private_key or sf.private_key_path):
            missing.append("SNOWFLAKE_PASSWORD or SNOWFLAKE_PRIVATE_KEY(_PATH)")
        if missing:
            raise ValueError(f"MA_WAREHOUSE=snowflake needs {', '.join(missing)}")
        endpoint = {"host": sf.host, "port": sf.port, "protocol": sf.protocol}
        timeouts = {"network_timeout": sf.network_timeout, "login_timeout": sf.network_timeout}
        return SnowflakeResource(
            account=sf.account,
            user=sf.user,  # type: ignore[arg-type]
            password=self.secret("SNOWFLAKE_PASSWORD", sf.password, as_env),
            private_key=self.secret("SNOWFLAKE_PRIVATE_KEY", sf.private_key, as_env),
            private_key_path=sf.private_key_path,
            private_key_password=self.secret(
                "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", sf.private_key_passphrase, as_env
            ),
            role=sf.role,
            warehouse=sf.warehouse,
            database=sf.database,
            schema=sf.schema,
            autocommit=True,  # transactions are explicit (BEGIN ... COMMIT)
            additional_snowflake_connection_args={k: v for k, v in endpoint.items() if v} or None,
            **{k: v for k, v in timeouts.items() if v},
        )

    def notifier_resource(self, secrets_as_env_vars: bool = True) -> Notifier:
        """The alert channels (``resources/notifier.py``); the webhook URL, Slack token and
        SMTP password as ``EnvVar``. Only configured fields are set, so the UI and the
        definitions show what a deployment uses."""
        a, as_env = self.alerts, secrets_as_env_vars
        fields: dict[str, Any] = {
            "kind": a.channels,
            "webhook_url": self.secret("MA_WEBHOOK_URL", a.webhook_url, as_env),
            "slack_token": self.secret("MA_SLACK_TOKEN", a.slack_token, as_env),
            "slack_base_url": a.slack_base_url,
            "slack_channels": a.slack_channels or None,
            "smtp_host": a.smtp_host,
            "smtp_port": a.smtp_port if a.smtp_host else None,
            "smtp_from": a.smtp_from,
            "smtp_to": list(a.smtp_to) or None,
            "smtp_username": a.smtp_username,
            "smtp_password": self.secret("MA_SMTP_PASSWORD", a.smtp_password, as_env),
            "smtp_starttls": a.smtp_starttls or None,
            "ui_base_url": a.ui_base_url,
            "max_attempts": a.max_attempts if a.max_attempts != 5 else None,
            "backoff_s": a.backoff_s if a.backoff_s != 30 else None,
        }
        return Notifier(**{k: v for k, v in fields.items() if v is not None})

    def warehouse_io_manager(self) -> WarehouseIOManager:
        """The warehouse IO manager: the DuckDB file, or Snowflake."""
        if self.warehouse == "snowflake":
            from manufacturing_assets.io_managers.warehouse_snowflake import (
                SnowflakeWarehouseIOManager,
            )

            return SnowflakeWarehouseIOManager(snowflake=self.snowflake_resource())
        return WarehouseIOManager(backend="duckdb", duckdb_path=str(self.warehouse_path))

    def spark_resource(self) -> Any:
        """``LazyPySparkResource`` (dagster-pyspark): the session starts when first used."""
        from manufacturing_assets.spark.session import parse_conf, spark_resource

        return spark_resource(self.spark_master, parse_conf(self.spark_conf))


def build_resources(settings: Settings | None = None) -> dict[str, Any]:
    """Resources for the given settings (the environment's when omitted). No secret is a
    value in their configuration (module docstring)."""
    s = settings or Settings.from_env()
    lake_s3 = s._s3_for(s.lake_root)
    return {
        "landing": s.landing_zone(),
        "io_manager": DeltaLakeIOManager(root_uri=s.lake_root, s3=lake_s3),
        "engine": EngineResource(name=s.engine, spark_master=s.spark_master),  # type: ignore[arg-type]
        "notifier": s.notifier_resource(),
        "landing_ledger": LandingLedger(uri=ledger_uri(s.lake_root), s3=lake_s3),
        "replay_ledger": ReplayLedger(lake_root=s.lake_root, s3=lake_s3),
        "warehouse_io_manager": s.warehouse_io_manager(),
        **({"kafka": s.kafka_settings()} if s.kafka_enabled else {}),
        **({"pyspark": s.spark_resource()} if s.engine == "spark" else {}),
    }
