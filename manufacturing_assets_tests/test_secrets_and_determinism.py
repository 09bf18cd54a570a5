"""Hardening (issue 9, items 3, 8 and 9).

- Secrets: with the landing zone and the lake on S3 (a real moto server), a webhook
  notifier and Kafka with SASL, no credential value reaches what the UI shows (the
  repository snapshot: resources' configuration, job snapshots) or the run database (runs,
  job and execution-plan snapshots, event logs: every table of the instance's SQLite
  files, compressed snapshots inflated), while the S3 round trip, the landing sensor with
  its ledger and the webhook still work with the ``EnvVar`` values read at run time.
- Determinism: the gold stages give bit-identical frames for any order of their input
  rows, on Polars and on Spark, and a second run of the whole sample pipeline gives
  bit-identical tables (``frame.equals``; only ``ingested_at``, the wall clock, differs).
- Symbolic links: a local landing zone never reads through a link below its root.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import logging
import math
import os
import random
import socket
import sqlite3
import threading
import uuid
import zlib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import boto3
import narwhals as nw
import polars as pl
import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    Definitions,
    EnvVar,
    asset,
    build_sensor_context,
    materialize,
)
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._serdes import serialize_value
from deltalake import DeltaTable

from manufacturing_assets.environment import Settings, build_resources
from manufacturing_assets.io_managers.delta import read_delta
from manufacturing_assets.resources.engine import EngineResource
from manufacturing_assets.resources.landing_zone import (
    LandingZone,
    RefusedObject,
    UnsafeKeyError,
)
from manufacturing_assets.resources.notifier import Notifier, WebhookError
from manufacturing_assets.resources.s3 import S3Connection
from manufacturing_assets.stages import gold as gold_stage
from manufacturing_assets.stages.bronze import read_bronze
from manufacturing_assets.stages.plants import PlantDays
from manufacturing_assets.transforms.sums import exact_sum
from manufacturing_assets_tests.helpers import jsonl, reading
from manufacturing_assets_tests.sample_run import (
    sample_run_in,
)
from manufacturing_assets_tools.generator import GeneratorConfig, generate_landing_zone

# ---------------------------------------------------------------- servers


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[tuple[str, dict]]]]:
    """A local webhook: ``(base URL, [(path, JSON body), ...] received)``."""
    received: list[tuple[str, dict]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


# ---------------------------------------------------------------- secrets


def database_text(dagster_home: Path) -> str:
    """Every value of every table of the instance's SQLite databases as text; compressed
    values (Dagster stores snapshots zlib-compressed) inflated."""
    out: list[str] = []
    for db in sorted(dagster_home.rglob("*.db")):
        with sqlite3.connect(db) as conn:
            tables = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for table in tables:
                for row in conn.execute(f'SELECT * FROM "{table}"'):
                    for value in row:
                        if isinstance(value, bytes):
                            with contextlib.suppress(zlib.error):
                                value = zlib.decompress(value)
                            value = value.decode("utf-8", "replace")
                        out.append(str(value))
    return "\n".join(out)


def _secret_environment(tmp_path: Path, endpoint: str, hook: str, bucket: str) -> dict[str, str]:
    def token(what: str) -> str:
        return f"{what}-{uuid.uuid4().hex}"

    return {
        "MA_DATA_DIR": str(tmp_path / "data"),
        "MA_LANDING_ROOT": f"s3://{bucket}/landing",
        "MA_LAKE_ROOT": f"s3://{bucket}/lake",
        "MA_S3_ENDPOINT_URL": endpoint,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": token("AKIDSECRET"),
        "AWS_SECRET_ACCESS_KEY": token("aws-secret-key"),
        "AWS_SESSION_TOKEN": token("aws-session-token"),
        "MA_NOTIFIER": "webhook",
        "MA_WEBHOOK_URL": f"{hook}/services/T0000/B0000/{token('slack-token')}",
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",  # configured only, never connected to
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_USERNAME": token("kafka-user"),
        "KAFKA_SASL_PASSWORD": token("kafka-password"),
    }


SECRET_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "MA_WEBHOOK_URL",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
)


def _leaks(text: str, secrets: dict[str, str]) -> list[str]:
    """The variables whose value (or, for the webhook, its token path) is in ``text``."""
    found = [name for name, value in secrets.items() if value in text]
    token_path = secrets["MA_WEBHOOK_URL"].split("/services/", 1)[1]
    return found + (["MA_WEBHOOK_URL (path)"] if token_path in text else [])


def test_no_secret_reaches_the_ui_or_the_run_database(
    moto_endpoint: str, webhook: tuple[str, list], tmp_path: Path, monkeypatch: Any
) -> None:
    from manufacturing_assets.definitions import ASSETS, build_defs
    from manufacturing_assets.sensors.landing import landing_sensor

    hook, received = webhook
    bucket = f"secrets-{uuid.uuid4().hex[:8]}"
    env = _secret_environment(tmp_path, moto_endpoint, hook, bucket)
    for name in list(os.environ):
        if name.startswith(("AWS_", "KAFKA_", "MA_")) and name != "MA_START_DATE":
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    secrets = {name: env[name] for name in SECRET_VARIABLES}
    boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    ).create_bucket(Bucket=bucket)

    settings = Settings.from_env()
    assert not _leaks(repr(settings), secrets)
    defs = build_defs(settings)
    resources = defs.resources or {}

    # 1. What the UI shows: the repository snapshot (every resource's configured values,
    #    every job's snapshot with the resources' config schemas and defaults).
    repo = RepositorySnap.from_def(defs.get_repository_def())
    ui_text = serialize_value(repo)
    dumped = json.dumps({k: r.model_dump() for k, r in resources.items()}, default=str)
    assert not _leaks(ui_text + dumped, secrets)
    configured = {r.name: r.configured_values for r in repo.resources}
    assert '{"env": "AWS_SECRET_ACCESS_KEY"}' in configured["landing"]["s3"]
    assert '"env": "AWS_SESSION_TOKEN"' in configured["io_manager"]["s3"]
    assert '"env": "AWS_ACCESS_KEY_ID"' in configured["landing_ledger"]["s3"]
    assert configured["notifier"]["webhook_url"].name == "MA_WEBHOOK_URL"  # an env var snap
    assert configured["kafka"]["sasl_password"].name == "KAFKA_SASL_PASSWORD"

    # 2. Runs on a persistent instance, every credential read at run time: the sample
    #    lands in S3 (the landing zone used directly), the landing sensor records it in
    #    the S3 ledger, reference data and one plant-day of readings go through the lake.
    generate_landing_zone(
        resources["landing"],
        GeneratorConfig(days=1, machines_per_plant=1, readings_per_machine_per_day=24),
    )
    home = tmp_path / "dagster_home"
    home.mkdir()
    with DagsterInstance.local_temp(str(home)) as instance:
        sensor_resources = {k: resources[k] for k in ("landing", "landing_ledger")}
        with build_sensor_context(instance=instance, resources=sensor_resources) as context:
            tick = landing_sensor(context)
        for request in tick.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(
                request.partitions_def_name, list(request.partition_keys)
            )
        assert tick.run_requests

        reference = defs.resolve_job_def("reference_job").execute_in_process(instance=instance)
        assert reference.success
        day = "2024-03-30"
        readings = materialize(
            ASSETS,
            selection=[
                AssetKey(["bronze", "sensor_readings"]),
                AssetKey(["silver", "sensor_readings"]),
                AssetKey(["quarantine", "sensor_readings"]),
            ],
            partition_key=f"{day}|P01",
            instance=instance,
            resources=resources,
        )
        assert readings.success

        @asset
        def alert_probe(notifier: Notifier) -> None:
            notifier.send("probe", "sent from a run")

        assert materialize([alert_probe], instance=instance, resources=resources).success
        resources["notifier"].send("probe", "sent from outside a run")

        # the values reached S3, the ledger and the webhook
        lake = resources["io_manager"]
        silver = read_delta(lake.table_uri(["silver", "sensor_readings"]), lake.storage_options)
        assert silver is not None and silver.height > 0
        plants = read_delta(lake.table_uri(["reference", "plants"]), lake.storage_options)
        assert plants is not None and set(plants["plant_id"]) >= {"P01", "P02"}
        assert resources["landing_ledger"].read().height > 0
        token_path = "/" + env["MA_WEBHOOK_URL"].split("/", 3)[3]
        assert [p for p, _ in received] == [token_path, token_path]

        # 3. Nothing in the run database holds a secret: runs, job and execution-plan
        #    snapshots, event logs (the API) and every stored value (the files).
        stored = []
        for run in instance.get_runs():
            stored.append(serialize_value(run))
            stored.append(serialize_value(instance.get_job_snapshot(run.job_snapshot_id)))
            plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
            stored.append(serialize_value(plan))
            stored += [serialize_value(e) for e in instance.all_logs(run.run_id)]
        assert len(instance.get_runs()) == 3
        files = database_text(home)
        assert not _leaks("\n".join(stored), secrets)
        assert not _leaks(files, secrets)
        assert "AWS_SECRET_ACCESS_KEY" in files  # the snapshots were read: {"env": ...}

        # Control: the same search finds a credential given as a plain value.
        control = f"{hook}/services/T0000/B0000/control-{uuid.uuid4().hex}"
        plain = Notifier(kind="webhook", webhook_url=control)
        assert materialize([alert_probe], instance=instance, resources={"notifier": plain})
        assert control in database_text(home)
        assert control in serialize_value(
            RepositorySnap.from_def(
                Definitions(
                    assets=[alert_probe], resources={"notifier": plain}
                ).get_repository_def()
            )
        )


def test_s3_connection_reads_env_vars_when_used(monkeypatch: Any) -> None:
    monkeypatch.setenv("MA_TEST_KEY", "key-1")
    monkeypatch.setenv("MA_TEST_SECRET", "secret-1")
    s3 = S3Connection(
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id=EnvVar("MA_TEST_KEY"),
        aws_secret_access_key=EnvVar("MA_TEST_SECRET"),
    )
    assert s3.delta_storage_options() == {
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": "key-1",
        "AWS_SECRET_ACCESS_KEY": "secret-1",
    }
    monkeypatch.setenv("MA_TEST_SECRET", "secret-2")  # rotated: read again when used
    assert s3.delta_storage_options()["AWS_SECRET_ACCESS_KEY"] == "secret-2"
    assert s3.client()._request_signer._credentials.secret_key == "secret-2"


def test_settings_pass_environment_credentials_as_env_vars(monkeypatch: Any) -> None:
    env = {
        "MA_LAKE_ROOT": "s3://b/lake",
        "MA_LANDING_ROOT": "/data/landing",
        "AWS_SECRET_ACCESS_KEY": "from-env",
        "AWS_SESSION_TOKEN": "token-from-env",
        "MA_WEBHOOK_URL": "https://hooks.example/T/B/x",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    resources = build_resources(Settings.from_env())
    lake_s3 = resources["io_manager"].s3
    assert isinstance(lake_s3.aws_secret_access_key, EnvVar)
    assert isinstance(lake_s3.aws_session_token, EnvVar)
    assert lake_s3.aws_access_key_id is None  # unset: left to the AWS credential chain
    assert resources["landing_ledger"].s3 == lake_s3
    assert resources["landing"].s3 is None  # a local landing zone has no S3 connection
    assert isinstance(resources["notifier"].webhook_url, EnvVar)
    options = resources["io_manager"].storage_options
    assert options["AWS_SESSION_TOKEN"] == "token-from-env"
    assert options["AWS_SECRET_ACCESS_KEY"] == "from-env"
    # read outside Dagster (CLI, tools): plain options from the same settings
    assert Settings.from_env().delta_storage_options() == options


def test_webhook_errors_never_quote_the_url(monkeypatch: Any) -> None:
    token = uuid.uuid4().hex
    monkeypatch.setenv("MA_WEBHOOK_URL", f"hooks.example/services/{token}")  # no scheme
    notifier = Notifier(kind="webhook", webhook_url=EnvVar("MA_WEBHOOK_URL"), timeout_s=2)
    with pytest.raises(WebhookError) as error:
        notifier.send("t", "x")
    assert token not in str(error.value) and "<MA_WEBHOOK_URL>" in str(error.value)
    assert error.value.__cause__ is None and error.value.__suppress_context__


# ---------------------------------------------------------------- symbolic links

KEY_DIR = "raw/sensor_readings/plant=P01/date=2024-03-04"


def _linked_landing(tmp_path: Path) -> tuple[Path, Path]:
    """A landing root with one real file and links of every kind; an outside folder."""
    outside = tmp_path / "outside"
    (outside / "folder").mkdir(parents=True)
    (outside / "secret.jsonl").write_bytes(jsonl([reading("P01-M01-T1", "2024-03-04T10:00:00")]))
    (outside / "folder" / "x.jsonl").write_bytes(b"{}\n")
    real = tmp_path / "real_root"
    day = real / KEY_DIR
    day.mkdir(parents=True)
    good = jsonl([reading("P01-M01-T1", f"2024-03-04T08:0{i}:00") for i in range(3)])
    (day / "good.jsonl").write_bytes(good)
    (real / "raw/sensor_readings/plant=P01/elsewhere").mkdir()
    (real / "raw/sensor_readings/plant=P01/elsewhere/inside.jsonl").write_bytes(good)
    (day / "to_outside.jsonl").symlink_to(outside / "secret.jsonl")
    (day / "to_inside.jsonl").symlink_to(
        real / "raw/sensor_readings/plant=P01/elsewhere/inside.jsonl"
    )
    (day / "broken.jsonl").symlink_to(tmp_path / "missing.jsonl")
    (day / "folder_outside").symlink_to(outside / "folder", target_is_directory=True)
    (day / "folder_inside").symlink_to(real / "raw/sensor_readings/plant=P01/elsewhere")
    os.mkfifo(day / "pipe.jsonl")
    (real / "raw/shots").symlink_to(outside, target_is_directory=True)  # a whole stream
    root = tmp_path / "root_link"  # the root itself may be a link
    root.symlink_to(real, target_is_directory=True)
    return root, outside


def test_local_landing_zone_never_reads_through_symbolic_links(tmp_path: Path, caplog: Any) -> None:
    root, outside = _linked_landing(tmp_path)
    landing = LandingZone(root=str(root))
    refused: list[RefusedObject] = []
    with caplog.at_level(logging.WARNING, logger="manufacturing_assets.landing"):
        listed = [o.key for o in landing.list_objects("raw/", refused)]

    assert listed == [
        "raw/sensor_readings/plant=P01/date=2024-03-04/good.jsonl",
        "raw/sensor_readings/plant=P01/elsewhere/inside.jsonl",
    ]
    reasons = {r.key.removeprefix(KEY_DIR + "/"): r.reason for r in refused}
    assert set(reasons) == {
        "to_outside.jsonl",
        "to_inside.jsonl",
        "broken.jsonl",
        "folder_outside",
        "folder_inside",
        "pipe.jsonl",
        "raw/shots",
    }
    assert reasons["to_outside.jsonl"].startswith(
        f"symbolic link to the file {outside / 'secret.jsonl'} (outside the landing root)"
    )
    assert "(inside the landing root): links are not followed" in reasons["to_inside.jsonl"]
    assert reasons["folder_outside"].startswith("symbolic link to the folder")
    assert reasons["broken.jsonl"].startswith("symbolic link to the missing path")
    assert reasons["pipe.jsonl"].startswith("not a regular file")
    assert "outside the landing root" in reasons["raw/shots"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert all(f"{key} not read: " in logged for key in [r.key for r in refused])

    # a listing whose prefix goes through a link lists nothing and says why
    refused = []
    assert list(landing.list_objects("raw/shots/", refused)) == []
    assert [r.key for r in refused] == ["raw/shots"]

    # reading, writing or testing a key through a link, or out of the root, is refused
    for key in [
        f"{KEY_DIR}/to_outside.jsonl",
        f"{KEY_DIR}/to_inside.jsonl",
        f"{KEY_DIR}/folder_outside/x.jsonl",
        "raw/shots/secret.jsonl",
        "../outside/secret.jsonl",
        str(outside / "secret.jsonl"),
    ]:
        with pytest.raises(UnsafeKeyError):
            landing.read_bytes(key)
        assert not landing.exists(key)
    with pytest.raises(UnsafeKeyError, match="not a regular file"):
        landing.read_bytes(f"{KEY_DIR}/pipe.jsonl")  # and never blocks on the FIFO
    before = (outside / "secret.jsonl").read_bytes()
    with pytest.raises(UnsafeKeyError):
        landing.write_bytes("raw/shots/secret.jsonl", b"overwritten")
    assert (outside / "secret.jsonl").read_bytes() == before
    assert landing.read_bytes(f"{KEY_DIR}/good.jsonl").count(b"\n") == 3

    # bronze: the three records of the real file, nothing from the links
    bronze, stats = read_bronze(
        landing, "sensor_readings", {"P01": [date(2024, 3, 4)]}, datetime.now(UTC)
    )
    assert stats["files"] == [f"{KEY_DIR}/good.jsonl"]
    assert bronze.height == 3 and set(bronze["source"]) == {f"{KEY_DIR}/good.jsonl"}


# ---------------------------------------------------------------- determinism


def test_exact_sum_is_order_independent_and_accurate() -> None:
    rng = random.Random(9)
    values = [
        rng.choice([0.37, 1.1, 12.345, 0.1, 1e-3, 123456.789, -5.5, 3.3e-9, 7.25e9])
        * rng.randint(1, 7)
        for _ in range(20_000)
    ]
    frame = pl.DataFrame({"g": [i % 3 for i in range(len(values))], "v": values})
    frame = pl.concat([frame, pl.DataFrame({"g": [0, 3], "v": [None, None]})])

    def sums(f: pl.DataFrame) -> pl.DataFrame:
        out = nw.from_native(f.lazy()).group_by("g").agg(exact_sum(nw.col("v")).alias("s"))
        return out.sort("g").collect(backend="polars").to_native()

    base = sums(frame)
    for seed in range(5):
        assert sums(frame.sample(fraction=1.0, shuffle=True, seed=seed)).equals(base)
    for g in range(3):
        exact = math.fsum(v for i, v in enumerate(values) if i % 3 == g)
        got = base.filter(pl.col("g") == g)["s"].item()
        assert abs(got - exact) <= 2 * math.ulp(exact)
    assert base.filter(pl.col("g") == 3)["s"].item() == 0.0  # only nulls: 0.0
    odd = pl.DataFrame({"g": [1, 1, 2, 2, 3], "v": [2.0**70, 1.0, math.inf, 1.0, math.nan]})
    got = dict(sums(odd).iter_rows())
    assert got[1] == 2.0**70 + 1.0 and got[2] == math.inf and math.isnan(got[3])


@pytest.mark.integration
def test_exact_sum_gives_the_same_bits_on_spark(spark: Any) -> None:
    rng = random.Random(3)
    values = [rng.uniform(-1e6, 1e6) * 10 ** rng.randint(-8, 0) for _ in range(5_000)]
    frame = pl.DataFrame({"g": [i % 4 for i in range(len(values))], "v": values})
    polars, spark_engine = EngineResource(name="polars"), EngineResource(name="spark")
    spark_engine._spark = spark

    def sums(engine: EngineResource, f: pl.DataFrame) -> pl.DataFrame:
        lazy = engine.lazy(f).group_by("g").agg(exact_sum(nw.col("v")).alias("s")).sort("g")
        return engine.collect(lazy)

    base = sums(polars, frame)
    assert sums(spark_engine, frame.sample(fraction=1.0, shuffle=True, seed=1)).equals(base)


def _lake(sample: dict[str, Any]) -> str:
    return sample["pristine_lake"]


def _read(lake: str, table: str) -> pl.DataFrame:
    frame = pl.from_arrow(DeltaTable(f"{lake}/{table}").to_pyarrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def _gold_inputs(lake: str, plant: str) -> dict[str, Any]:
    def silver(name: str) -> pl.DataFrame:
        return _read(lake, f"silver/{name}").filter(pl.col("plant_id") == plant)

    plants = _read(lake, "reference/plants").filter(pl.col("plant_id") == plant)
    intervals = silver("machine_state_intervals")
    return {
        "plant": PlantDays(
            plant, plants["timezone"][0], tuple(sorted(set(intervals["production_date"])))
        ),
        "intervals": intervals,
        "events": silver("machine_events"),
        "shots": silver("shots"),
        "inspections": silver("quality_inspections"),
        "readings": silver("sensor_readings"),
        **{
            e: _read(lake, f"reference/{e}")
            for e in ("molds", "parts", "mold_parts", "mold_assignments")
        },
    }


def _gold(engine: Any, inputs: dict[str, Any]) -> dict[str, pl.DataFrame]:
    plant = inputs["plant"]
    silver = gold_stage.ProductionSilver(
        **{k: inputs[k] for k in ("intervals", "events", "shots", "inspections")}
    )
    master = {k: inputs[k] for k in ("molds", "parts", "mold_parts", "mold_assignments")}
    oee = gold_stage.oee_daily(engine, silver, plant, master["molds"])
    return {
        "sensor_hourly": gold_stage.sensor_hourly(engine, inputs["readings"].lazy()),
        "oee_daily": oee,
        "run_rate_hourly": gold_stage.run_rate_hourly(
            engine, silver, plant, master["molds"], master["mold_assignments"]
        ),
        "loss_daily": gold_stage.loss_daily(engine, oee, inputs["inspections"], master, plant),
    }


def _shuffled(inputs: dict[str, Any], seed: int) -> dict[str, Any]:
    return {
        k: v.sample(fraction=1.0, shuffle=True, seed=seed) if isinstance(v, pl.DataFrame) else v
        for k, v in inputs.items()
    }


def test_gold_is_bit_identical_for_any_order_of_its_input_rows(sample_run: dict) -> None:  # noqa: F811
    engine = EngineResource(name="polars")
    for plant in ("P01", "P02"):
        inputs = _gold_inputs(_lake(sample_run), plant)
        base = _gold(engine, inputs)
        assert base["loss_daily"]["scrap_cost"].sum() > 0
        assert base["sensor_hourly"].height > 0
        for seed in range(3):
            again = _gold(engine, _shuffled(inputs, seed))
            for name, frame in base.items():
                assert again[name].equals(frame), f"{plant} {name} differs (seed {seed})"


@pytest.mark.integration
def test_gold_on_spark_is_bit_identical_to_polars(sample_run: dict, spark: Any) -> None:  # noqa: F811
    polars, spark_engine = EngineResource(name="polars"), EngineResource(name="spark")
    spark_engine._spark = spark
    inputs = _gold_inputs(_lake(sample_run), "P01")
    base = _gold(polars, inputs)
    on_spark = _gold(spark_engine, _shuffled(inputs, 5))
    for name, frame in base.items():
        assert on_spark[name].equals(frame), name


def _comparable(frame: pl.DataFrame) -> pl.DataFrame:
    """The table's content in a fixed row order (the wall-clock ``ingested_at`` dropped)."""
    frame = frame.drop([c for c in ("ingested_at",) if c in frame.columns])
    keys = [c for c, t in frame.schema.items() if not isinstance(t, pl.List | pl.Struct)]
    return frame.sort(keys, nulls_last=True) if keys else frame


def test_second_run_of_the_sample_gives_bit_identical_tables(
    sample_run: dict,  # noqa: F811
    tmp_path: Path,
) -> None:
    first = Path(_lake(sample_run))
    tables = sorted(
        log.parent.relative_to(first).as_posix()
        for log in first.glob("*/*/_delta_log")
        # not the lake's system tables, nor ops/: the run's history (run ids, times) by design
        if not log.parent.parent.name.startswith("_") and log.parent.parent.name != "ops"
    )
    assert {"gold/loss_daily", "gold/sensor_hourly", "silver/sensor_readings"} <= set(tables)
    for second in sample_run_in(tmp_path):
        for table in tables:
            want = _comparable(_read(str(first), table))
            got = _comparable(_read(second["pristine_lake"], table))
            assert got.schema == want.schema, table
            assert got.equals(want), table
