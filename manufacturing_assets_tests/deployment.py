"""The production deployment as processes on this machine (issue 13): what
``deploy/docker-compose.yaml`` runs in containers, without Docker.

:func:`start_deployment` creates a fresh PostgreSQL database, starts an S3 server (moto) for
the landing zone, the lake and the compute logs, prepares the sample there with
``deploy/dagster.yaml`` as the instance (``ui_server.prepare``), then starts, each in its own
process group and on free ports:

- the code server: ``dagster api grpc -m manufacturing_assets.definitions`` (the Dockerfile's
  entry point), with every setting and secret of ``environment.py``;
- ``dagster-webserver`` and ``dagster-daemon`` with ``deploy/workspace.yaml``, with only the
  instance's variables (PostgreSQL, compute logs), as in the compose file.

:class:`Deployment` is a :class:`~manufacturing_assets_tests.ui_server.UIServer` (its GraphQL
helpers launch and wait the way the UI does) that can also kill and restart its processes
and query the instance's PostgreSQL database. Everything is stopped and dropped at the end.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import psycopg2

from manufacturing_assets_tests.ui_server import (
    PLANTS,
    REPO,
    UIServer,
    free_port,
    prepare,
    progress,
)

DEPLOY = REPO / "deploy"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
BIN = Path(sys.executable).parent
# the project's variables never leak from the test process into the deployment's processes
PROJECT_PREFIXES = ("MA_", "KAFKA_", "SNOWFLAKE_", "AWS_", "DAGSTER_")

# Secret values the deployment is given (distinctive strings, so any leak is found).
SECRETS = {
    "AWS_ACCESS_KEY_ID": "AKIADEPLOYTEST7Q2X",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-9f3c1e7b-deploy",
    "KAFKA_SASL_USERNAME": "kafka-user-5d8e2a",
    "KAFKA_SASL_PASSWORD": "kafka-pass-c41b9f0e",
    "SNOWFLAKE_PASSWORD": "snowflake-pass-7a6d3b21",
    "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": "snowflake-passphrase-e09f5c",
    "MA_WEBHOOK_URL": "https://hooks.example.invalid/services/T000/B000/webhook-secret-2b7e",
    "MA_SLACK_TOKEN": "xoxb-slack-token-6c2d9e41",
    "MA_SMTP_PASSWORD": "smtp-pass-0a7f3c55",
    "DAGSTER_POSTGRES_PASSWORD": "pg-password-3e1f8a6c",
}


def clean_environ() -> dict[str, str]:
    """The test process's environment without any project or Dagster variable."""
    return {k: v for k, v in os.environ.items() if not k.startswith(PROJECT_PREFIXES)}


@dataclass
class Deployment(UIServer):
    """The webserver (``port``, ``proc``) plus the code server and the daemon."""

    db: str = ""
    grpc_port: int = 0
    root: Path = Path()
    s3_endpoint: str = ""
    bucket: str = ""
    instance_env: dict[str, str] = field(default_factory=dict)
    code_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    # ------------------------------------------------------------------ processes

    def command(self, name: str) -> list[str]:
        workspace = str(DEPLOY / "workspace.yaml")
        return {
            "code-server": [
                str(BIN / "dagster"),
                *("api", "grpc", "-m", "manufacturing_assets.definitions"),
                *("-h", "127.0.0.1", "-p", str(self.grpc_port)),
            ],
            "webserver": [
                str(BIN / "dagster-webserver"),
                *("-h", "127.0.0.1", "-p", str(self.port), "-w", workspace),
            ],
            "daemon": [str(BIN / "dagster-daemon"), "run", "-w", workspace],
        }[name]

    def start(self, name: str) -> subprocess.Popen:
        env = self.code_env if name == "code-server" else self.instance_env
        log = (self.root / f"{name}.log").open("a")
        proc = subprocess.Popen(
            self.command(name),
            cwd=self.root,
            env=env,
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.procs[name] = proc
        if name == "webserver":
            self.proc = proc
        progress(f"started {name} (pid {proc.pid})")
        return proc

    def kill(self, name: str, sig: int = signal.SIGKILL, timeout: float = 30) -> int | None:
        """Signal the process group of ``name``; returns its exit code."""
        proc = self.procs.pop(name, None)
        if proc is None:
            return None
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=timeout)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        if name == "webserver":
            self.proc = None
        return proc.returncode

    def wait_for_code_server(self, timeout: float = 120) -> None:
        start = time.monotonic()
        while True:
            proc = self.procs["code-server"]
            if proc.poll() is not None:
                raise RuntimeError(f"code server exited:\n{self.log('code-server')}")
            ok = subprocess.run(
                [str(BIN / "dagster"), "api", "grpc-health-check", "-p", str(self.grpc_port)],
                env=self.code_env,
                capture_output=True,
            )
            if ok.returncode == 0:
                break
            if time.monotonic() - start > timeout:
                raise TimeoutError(f"code server not up:\n{self.log('code-server')}")
            time.sleep(1)
        progress(
            f"code server up on 127.0.0.1:{self.grpc_port} after {time.monotonic() - start:.1f} s"
        )

    def log(self, name: str, chars: int = 4000) -> str:
        try:
            return (self.root / f"{name}.log").read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def log_tail(self, chars: int = 4000) -> str:
        return "\n".join(
            f"--- {n}\n{self.log(n, chars)}" for n in ("code-server", "webserver", "daemon")
        )

    def stop(self) -> None:
        for name in ("daemon", "webserver", "code-server"):
            self.kill(name, signal.SIGTERM)
        progress("deployment processes stopped")

    # ------------------------------------------------------------------ PostgreSQL, S3

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of ``query`` on the instance's PostgreSQL database."""
        with psycopg2.connect(dbname=self.db, **PG) as conn, conn.cursor() as cur:
            cur.execute(query, params)
            rows = cur.fetchall()
        conn.close()
        return rows

    def s3(self) -> Any:
        return _s3_client(
            self.s3_endpoint, SECRETS["AWS_ACCESS_KEY_ID"], SECRETS["AWS_SECRET_ACCESS_KEY"]
        )

    def s3_objects(self, prefix: str) -> dict[str, bytes]:
        client, out = self.s3(), {}
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        ):
            for obj in page.get("Contents", []):
                out[obj["Key"]] = client.get_object(Bucket=self.bucket, Key=obj["Key"])[
                    "Body"
                ].read()
        return out


def _postgres(sql: str) -> None:
    conn = psycopg2.connect(dbname="postgres", **PG)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


def _s3_client(endpoint: str, key: str = "x", secret: str = "x") -> Any:
    """A boto3 S3 client of the local moto server."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


@contextmanager
def _moto(root: Path) -> Iterator[str]:
    port = free_port()
    with (root / "moto.log").open("w") as log:
        proc = subprocess.Popen(
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _s3_client(endpoint).list_buckets()
                break
            except Exception:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        progress(f"S3 (moto) on {endpoint}")
        yield endpoint
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def start_deployment(root: Path) -> Iterator[Deployment]:
    """The deployment on ``root`` until the block ends (module docstring)."""
    db = f"ma_deploy_{uuid.uuid4().hex[:10]}"
    _postgres(f"CREATE DATABASE {db}")
    progress(f"PostgreSQL database {db} created")
    try:
        with _moto(root) as endpoint:
            bucket = "factory"
            _s3_client(endpoint).create_bucket(Bucket=bucket)
            postgres = {
                "DAGSTER_POSTGRES_HOST": PG["host"],
                "DAGSTER_POSTGRES_PORT": str(PG["port"]),
                "DAGSTER_POSTGRES_USER": PG["user"],
                "DAGSTER_POSTGRES_PASSWORD": SECRETS["DAGSTER_POSTGRES_PASSWORD"],
                "DAGSTER_POSTGRES_DB": db,
            }
            s3 = {
                "MA_S3_ENDPOINT_URL": endpoint,
                "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": SECRETS["AWS_ACCESS_KEY_ID"],
                "AWS_SECRET_ACCESS_KEY": SECRETS["AWS_SECRET_ACCESS_KEY"],
            }
            settings_env = {
                **s3,
                "MA_LANDING_ROOT": f"s3://{bucket}/landing",
                "MA_LAKE_ROOT": f"s3://{bucket}/lake",
            }
            progress(f"preparing the sample on S3 and DAGSTER_HOME in {root}")
            # the instance's variables and the S3 credentials in the process environment, as
            # the deployment's processes have them: credentials become EnvVar (an explicit
            # value would be stored in the preparing run's job snapshot)
            with _environ({**postgres, **s3, "DAGSTER_HOME": str(root / "dagster_home")}):
                settings, home = prepare(root, settings_env, DEPLOY / "dagster.yaml")
            progress(f"sample ready: unpartitioned assets materialized, plants {PLANTS} added")
            grpc_port = free_port()
            instance_env = {
                **clean_environ(),
                **postgres,
                **s3,
                "DAGSTER_HOME": str(home),
                "DAGSTER_GRPC_HOST": "127.0.0.1",
                "DAGSTER_GRPC_PORT": str(grpc_port),
                "MA_COMPUTE_LOGS_BUCKET": bucket,
            }
            code_env = {
                **instance_env,
                **settings_env,
                **SECRETS,
                "MA_DATA_DIR": str(settings.data_dir),
                "MA_START_DATE": os.environ.get("MA_START_DATE", "2024-03-29"),
                "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",  # defined, never reached
                "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
                "MA_WAREHOUSE": "snowflake",
                "SNOWFLAKE_ACCOUNT": "deploy-test-account",
                "SNOWFLAKE_USER": "deploy_test_user",
                "SNOWFLAKE_DATABASE": "MANUFACTURING",
                "MA_NOTIFIER": "log",
            }
            deployment = Deployment(
                port=free_port(),
                home=home,
                settings=settings,
                log_path=root / "webserver.log",
                db=db,
                grpc_port=grpc_port,
                root=root,
                s3_endpoint=endpoint,
                bucket=bucket,
                instance_env=instance_env,
                code_env=code_env,
            )
            try:
                deployment.start("code-server")
                deployment.wait_for_code_server()
                deployment.start("webserver")
                deployment.start("daemon")
                deployment.wait_until_up()
                yield deployment
            finally:
                deployment.stop()
                logs = REPO / "test-artifacts" / "deployment"
                logs.mkdir(parents=True, exist_ok=True)
                for name in ("code-server", "webserver", "daemon", "moto"):
                    if (root / f"{name}.log").exists():
                        shutil.copy(root / f"{name}.log", logs / f"{name}.log")
    finally:
        _postgres(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        progress(f"PostgreSQL database {db} dropped")
