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
| AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN | (AWS chain) | S3 credentials (passed to Dagster as `EnvVar`) |
| AWS_REGION (or AWS_DEFAULT_REGION) | us-east-1 | S3 region |
| MA_NOTIFIER | log | where failed checks are sent: log, webhook |
| MA_WEBHOOK_URL | | webhook (Slack incoming webhooks work) for MA_NOTIFIER=webhook (passed as `EnvVar`) |
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

Secrets (the AWS keys and session token, the webhook URL, the Kafka SASL credentials, the
Snowflake password, private key and passphrase) reach
Dagster only as ``EnvVar``: the UI and the job snapshots in the run database show the
variable's name, and Dagster reads the value in the process that runs a step or a sensor.
A value given in an explicit ``env`` mapping that is not the process environment's (tests,
tools) cannot be an ``EnvVar`` and is passed as it is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagster import EnvVar
from dagster_snowflake import SnowflakeResource

from manufacturing_assets.io_managers.delta import DeltaLakeIOManager
from manufacturing_assets.io_managers.warehouse import WarehouseIOManager
from manufacturing_assets.kafka.settings import DEFAULT_GROUP_ID, KafkaSettings
from manufacturing_assets.resources.engine import EngineResource
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets.resources.ledger import LandingLedger, ledger_uri
from manufacturing_assets.resources.notifier import Notifier
from manufacturing_assets.resources.s3 import DEFAULT_REGION, S3Connection

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
class Settings:
    data_dir: Path
    landing_root: str
    lake_root: str
    engine: str = "polars"
    spark_master: str = "local[2]"
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
        private key and passphrase as ``EnvVar``."""
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

    def warehouse_io_manager(self) -> WarehouseIOManager:
        """The warehouse IO manager: the DuckDB file, or Snowflake."""
        if self.warehouse == "snowflake":
            return WarehouseIOManager(backend="snowflake", snowflake=self.snowflake_resource())
        return WarehouseIOManager(backend="duckdb", duckdb_path=str(self.warehouse_path))


def build_resources(settings: Settings | None = None) -> dict[str, Any]:
    """Resources for the given settings (the environment's when omitted). No secret is a
    value in their configuration (module docstring)."""
    s = settings or Settings.from_env()
    lake_s3 = s._s3_for(s.lake_root)
    return {
        "landing": s.landing_zone(),
        "io_manager": DeltaLakeIOManager(root_uri=s.lake_root, s3=lake_s3),
        "engine": EngineResource(name=s.engine, spark_master=s.spark_master),  # type: ignore[arg-type]
        "notifier": Notifier(
            kind=s.notifier,  # type: ignore[arg-type]
            webhook_url=s.secret("MA_WEBHOOK_URL", s.webhook_url),
        ),
        "landing_ledger": LandingLedger(uri=ledger_uri(s.lake_root), s3=lake_s3),
        "warehouse_io_manager": s.warehouse_io_manager(),
        **({"kafka": s.kafka_settings()} if s.kafka_enabled else {}),
    }
