"""The SQL warehouse (issue 11): one suite, two real backends.

Every test runs against DuckDB (a file in the test's folder) and against Snowflake as served
by a fakesnow server (a separate process on a free port, one per test session), reached by
the real ``snowflake-connector-python`` over HTTP, configured through ``environment.py`` as a
deployment would be (``MA_WAREHOUSE=snowflake`` and the ``SNOWFLAKE_*`` variables). Each
Snowflake test gets a database of its own.

- the first load creates the table from the catalogue (types, UTC ``TIMESTAMP_NTZ``,
  upper-cased identifiers);
- re-publishing one plant-day leaves every other row untouched;
- a single-run backfill of 2 plants x 3 days through Dagster, with rows per partition;
- SCD2 dimensions: a changed row closes the old version and opens a new one, twice, and a
  repeated load changes nothing;
- a new nullable column is added; a type conflict, a failure and a kill between the DELETE
  and the insert leave the table as it was;
- an open table's unknown metrics land in one VARIANT/JSON map;
- a secret never appears in the run's logs, events or configuration;
- end to end: the whole sample, every warehouse table equal row for row to its Delta source.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from dagster import (
    AssetKey,
    AssetsDefinition,
    DagsterInstance,
    EnvVar,
    build_input_context,
    build_output_context,
    materialize,
)
from dagster._core.types.dagster_type import resolve_dagster_type
from dagster._serdes import serialize_value
from polars.testing import assert_frame_equal

from manufacturing_assets.assets.warehouse import warehouse_assets
from manufacturing_assets.catalogue import table
from manufacturing_assets.catalogue.derive import create_table_sql, sql_identifier
from manufacturing_assets.environment import Settings, build_resources
from manufacturing_assets.instance import RANGE_END, RANGE_START
from manufacturing_assets.io_managers.delta import read_delta, scan_delta, write_delta_partitions
from manufacturing_assets.partitions import PLANT_DIMENSION, partition_key
from manufacturing_assets.pipeline import ALL_DEFS, QUIET
from manufacturing_assets.warehouse import (
    PUBLISHED,
    DuckDBWarehouse,
    Warehouse,
    WarehouseLoadError,
    WarehouseTypeConflict,
)
from manufacturing_assets.warehouse.schema import warehouse_family
from manufacturing_assets_tools.snowflake_server import FakesnowServer, fakesnow_server
from manufacturing_assets_tools.synthetic import synthetic_rows

OEE = table("gold/oee_daily")
SHOTS = table("marts/fact_shot")
DIM_MACHINE = table("marts/dim_machine")
D1 = date(2024, 3, 30)
DAYS = [D1 + timedelta(days=i) for i in range(3)]

BACKENDS = ["duckdb", pytest.param("snowflake", marks=pytest.mark.integration)]


@pytest.fixture(scope="session")
def fakesnow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakesnowServer]:
    """One fakesnow server for the session (``fakesnow -s`` in its own process group)."""
    with fakesnow_server(tmp_path_factory.mktemp("fakesnow")) as server:
        yield server


def environment(backend: str, root: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    env = {"MA_DATA_DIR": str(root)}
    if backend == "snowflake":
        server: FakesnowServer = request.getfixturevalue("fakesnow")
        env |= server.env(database=f"T_{uuid.uuid4().hex[:12].upper()}")
    return env


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    return Settings.from_env(environment(request.param, tmp_path, request))


@pytest.fixture
def warehouse(settings: Settings) -> Warehouse:
    return settings.warehouse_io_manager().warehouse()


def lake_defs() -> list[Any]:
    """The code location's assets and checks without its warehouse assets (a test adds those
    of the backend it runs)."""
    return [
        a
        for a in ALL_DEFS
        if not (isinstance(a, AssetsDefinition) and any(k.path[0] == "warehouse" for k in a.keys))
    ]


def values(parts: list[tuple[str, date]]) -> list[dict[str, Any]]:
    return [{"plant_id": p, "production_date": d} for p, d in parts]


def rows(t: Any, parts: list[tuple[str, date]], n: int = 10, offset: int = 0) -> pl.DataFrame:
    return synthetic_rows(t, n, parts, seed=offset + 1, offset=offset)


def same_rows(got: pl.DataFrame, want: pl.DataFrame) -> None:
    """Equal as sets of rows (column order and row order ignored)."""
    got = got.select(want.columns)
    assert_frame_equal(
        got.sort(want.columns), want.sort(want.columns), check_dtypes=False, check_exact=True
    )


def sql(warehouse: Warehouse, query: str) -> list[tuple]:
    """Rows of a query run on the warehouse as a user would."""
    if isinstance(warehouse, DuckDBWarehouse):
        with warehouse.connect(read_only=True) as con:
            return con.execute(query).fetchall()
    with warehouse.cursor() as cur:  # type: ignore[attr-defined]
        cur.execute(query)
        return cur.fetchall()


# ---------------------------------------------------------------- DDL from the catalogue


def test_the_ddl_is_derived_from_the_catalogue() -> None:
    snowflake = create_table_sql(SHOTS, "snowflake", "DB.MARTS.FACT_SHOT")
    assert snowflake.startswith("CREATE TABLE IF NOT EXISTS DB.MARTS.FACT_SHOT (")
    assert "    TS TIMESTAMP_NTZ(6) NOT NULL COMMENT" in snowflake
    assert "    PRODUCTION_DATE DATE NOT NULL" in snowflake
    assert (
        "    SHOT_ID VARCHAR NOT NULL" in snowflake
        and "    PARTS NUMBER(19, 0) COMMENT" in snowflake
    )
    duck = create_table_sql(SHOTS, "duckdb")
    assert duck.startswith("CREATE TABLE IF NOT EXISTS marts.fact_shot (")
    assert "    ts TIMESTAMP NOT NULL" in duck and "COMMENT" not in duck
    readings = table("silver/sensor_readings")  # open: unknown metrics as one map
    assert "    EXTRA_COLUMNS VARIANT COMMENT" in create_table_sql(readings, "snowflake")
    assert "    extra_columns JSON" in create_table_sql(readings, "duckdb")
    assert [warehouse_family(t) for t in ("TEXT", "NUMBER(19,0)", "TIMESTAMP_NTZ", "JSON")] == [
        "string",
        "int",
        "timestamp",
        "variant",
    ]
    assert warehouse_family("NUMBER", scale=2) == "decimal"
    assert warehouse_family("TIMESTAMP_TZ") != warehouse_family("TIMESTAMP_NTZ")


# ---------------------------------------------------------------- tables and partitions


def test_first_load_creates_the_table_from_the_catalogue(warehouse: Warehouse) -> None:
    assert warehouse.columns(SHOTS) is None
    frame = rows(SHOTS, [("P01", D1)], 20)
    result = warehouse.publish(SHOTS, frame, values([("P01", D1)]))

    assert result.plan.create and result.rows_loaded == 20
    assert result.partition_rows == {("P01", D1): 20}
    columns = warehouse.columns(SHOTS)
    assert columns is not None
    dialect = warehouse.dialect
    assert list(columns) == [sql_identifier(c.name, dialect) for c in SHOTS.columns]
    ts, day = (
        columns[sql_identifier("ts", dialect)],
        columns[sql_identifier("production_date", dialect)],
    )
    assert ts.type_text == ("TIMESTAMP_NTZ" if dialect == "snowflake" else "TIMESTAMP")
    assert day.type_text == "DATE" and not day.nullable
    assert columns[sql_identifier("shot_id", dialect)].family == "string"
    # timestamps are the UTC wall clock, whatever the session's zone
    first = frame["ts"].min().replace(tzinfo=None)  # type: ignore[union-attr]
    assert sql(warehouse, f"SELECT MIN(ts) FROM {warehouse.qualified_name(SHOTS)}")[0][0] == first
    same_rows(warehouse.read(SHOTS), frame)


def test_republishing_one_plant_day_leaves_every_other_row_untouched(
    warehouse: Warehouse,
) -> None:
    parts = [(p, d) for p in ("P01", "P02") for d in DAYS[:2]]
    first = rows(OEE, parts, 10)
    warehouse.publish(OEE, first, values(parts))

    again = rows(OEE, [("P01", DAYS[1])], 3, offset=1000)
    result = warehouse.publish(OEE, again, values([("P01", DAYS[1])]))
    assert result.partition_rows == {("P01", DAYS[1]): 3}
    others = first.filter(~((pl.col("plant_id") == "P01") & (pl.col("production_date") == DAYS[1])))
    same_rows(warehouse.read(OEE), pl.concat([others, again]))
    # the same load again: the same table
    warehouse.publish(OEE, again, values([("P01", DAYS[1])]))
    same_rows(warehouse.read(OEE), pl.concat([others, again]))
    # a partition emptied in the lake is emptied in the warehouse
    result = warehouse.publish(OEE, OEE.empty(), values([("P02", DAYS[0])]))
    assert result.partition_rows == {}
    assert warehouse.read(OEE, values([("P02", DAYS[0])])).height == 0


def test_a_backfill_of_two_plants_by_three_days_runs_once_through_dagster(
    settings: Settings, warehouse: Warehouse, tmp_path: Path
) -> None:
    parts = [(p, d) for p in ("P01", "P02") for d in DAYS]
    lake = pl.concat([rows(OEE, [part], 5 + i) for i, part in enumerate(parts)])
    write_delta_partitions(f"{settings.lake_root}/gold/oee_daily", lake, values(parts))
    outside = rows(OEE, [("P01", D1 - timedelta(days=1))], 4, offset=500)
    warehouse.publish(OEE, outside, values([("P01", D1 - timedelta(days=1))]))

    backend = settings.warehouse
    published = warehouse_assets(backend)
    defs = [*lake_defs(), *published]
    key = AssetKey(["warehouse", "oee_daily"])
    (tmp_path / "home").mkdir()
    with DagsterInstance.local_temp(str(tmp_path / "home")) as instance:
        instance.add_dynamic_partitions(PLANT_DIMENSION, ["P01", "P02"])
        result = materialize(
            defs,
            selection=[key],
            instance=instance,
            resources=build_resources(settings),
            run_config=QUIET,
            tags={
                RANGE_START: str(partition_key("P01", DAYS[0])),
                RANGE_END: str(partition_key("P02", DAYS[-1])),
            },
        )
        assert result.success
        materializations = result.asset_materializations_for_node("warehouse__oee_daily")
    (spec,) = [s for a in published for s in a.specs if s.key == key]
    assert spec.kinds == {backend} and spec.group_name == "warehouse"
    counts = {
        m.partition: m.metadata["dagster/partition_row_count"].value for m in materializations
    }
    assert counts == {str(partition_key(p, d)): 5 + i for i, (p, d) in enumerate(parts)}
    metadata = materializations[0].metadata
    assert metadata["dagster/table_name"].value == (
        "warehouse.gold.oee_daily"
        if backend == "duckdb"
        else f"{settings.snowflake.database}.GOLD.OEE_DAILY"
    )
    assert metadata["run_total_rows"].value == lake.height
    assert "select * from" in metadata["query"].value
    names = [c.name for c in metadata["dagster/column_schema"].value.columns]
    assert names == [sql_identifier(c.name, backend) for c in OEE.columns]
    same_rows(warehouse.read(OEE), pl.concat([lake, outside]))


# ---------------------------------------------------------------- dimensions


def _versions(*versions: tuple[int, str, str, date, date | None]) -> pl.DataFrame:
    """dim_machine rows: (sk, machine_id, machine_type, valid_from, valid_to)."""
    return pl.DataFrame(
        [
            {
                "machine_sk": sk,
                "machine_id": machine,
                "plant_id": "P01",
                "line_id": "L1",
                "machine_type": kind,
                "tonnage": 250.0,
                "valid_from": start,
                "valid_to": end,
                "is_current": end is None,
            }
            for sk, machine, kind, start, end in versions
        ],
        schema=DIM_MACHINE.schema,
    )


def test_a_changed_dimension_row_closes_the_old_version_and_opens_a_new_one(
    warehouse: Warehouse,
) -> None:
    d1, d2, d3 = DAYS
    m2 = (201, "M2", "hybrid", d1, None)
    history = [
        _versions((101, "M1", "hydraulic", d1, None), m2),
        _versions((101, "M1", "hydraulic", d1, d2), (102, "M1", "electric", d2, None), m2),
        _versions(
            (101, "M1", "hydraulic", d1, d2),
            (102, "M1", "electric", d2, d3),
            (103, "M1", "hybrid", d3, None),
            m2,
        ),
    ]
    expected_counts = [
        {"inserted": 2, "updated": 0, "deleted": 0},
        {"inserted": 1, "updated": 1, "deleted": 0},
        {"inserted": 1, "updated": 1, "deleted": 0},
    ]
    for dim, counts in zip(history, expected_counts, strict=True):
        result = warehouse.publish(DIM_MACHINE, dim)
        assert {k: result.merge_counts.get(k, 0) for k in counts} == counts
        assert result.table_rows == dim.height
        same_rows(warehouse.read(DIM_MACHINE), dim)
    # repeated: nothing changes, no duplicates
    result = warehouse.publish(DIM_MACHINE, history[-1])
    assert sum(result.merge_counts.values()) == 0
    table_rows = warehouse.read(DIM_MACHINE)
    assert table_rows["machine_sk"].is_unique().all()
    current = table_rows.filter(pl.col("is_current")).group_by("machine_id").len()
    assert current["len"].to_list() == [1, 1]
    # a late snapshot re-dates the last version: the lake's new key replaces the old one
    redated = _versions(
        (101, "M1", "hydraulic", d1, d2),
        (102, "M1", "electric", d2, d3),
        (104, "M1", "hybrid", d3, None),
        m2,
    )
    result = warehouse.publish(DIM_MACHINE, redated)
    assert result.merge_counts["deleted"] == 1 and result.merge_counts["inserted"] == 1
    same_rows(warehouse.read(DIM_MACHINE), redated)


# ---------------------------------------------------------------- schema changes and failures


def test_a_new_nullable_column_is_added(warehouse: Warehouse) -> None:
    warehouse.publish(OEE, rows(OEE, [("P01", D1)], 4), values([("P01", D1)]))
    wider = rows(OEE, [("P01", DAYS[1])], 3).with_columns(
        pl.lit(1.5).alias("energy_kwh"),
        pl.lit(None).alias("no_value_yet"),  # untyped: not added until it has a type
    )
    result = warehouse.publish(OEE, wider, values([("P01", DAYS[1])]))
    name = sql_identifier("energy_kwh", warehouse.dialect)
    assert [n for n, _ in result.plan.add] == [name]
    assert result.plan.untyped == [sql_identifier("no_value_yet", warehouse.dialect)]
    column = (warehouse.columns(OEE) or {})[name]
    assert column.nullable and column.family == "float"
    got = warehouse.read(OEE)
    assert got.filter(pl.col("production_date") == D1)["energy_kwh"].null_count() == 4
    assert got.filter(pl.col("production_date") == DAYS[1])["energy_kwh"].to_list() == [1.5] * 3


def test_a_type_conflict_fails_the_load_and_writes_nothing(warehouse: Warehouse) -> None:
    parts = [("P01", D1), ("P02", D1)]
    warehouse.publish(OEE, rows(OEE, parts, 5), values(parts))
    before = warehouse.read(OEE)
    bad = rows(OEE, [("P01", D1)], 2, offset=100).with_columns(
        pl.col("shots").cast(pl.String), pl.lit(2.0).alias("new_column")
    )
    with pytest.raises(WarehouseTypeConflict) as error:
        warehouse.publish(OEE, bad, values([("P01", D1)]))
    message = str(error.value)
    shots = sql_identifier("shots", warehouse.dialect)
    assert warehouse.qualified_name(OEE) in message or "gold.oee_daily" in message
    assert f"column {shots} is " in message
    assert ("NUMBER" if warehouse.dialect == "snowflake" else "BIGINT") in message
    assert "VARCHAR" in message and "Nothing was written" in message
    same_rows(warehouse.read(OEE), before)
    assert sql_identifier("new_column", warehouse.dialect) not in (warehouse.columns(OEE) or {})


def test_nulls_in_a_not_null_column_fail_the_load_and_write_nothing(
    warehouse: Warehouse,
) -> None:
    warehouse.publish(OEE, rows(OEE, [("P01", D1)], 5), values([("P01", D1)]))
    before = warehouse.read(OEE)
    bad = rows(OEE, [("P01", D1)], 3, offset=10).with_columns(
        pl.when(pl.col("shots") > -1).then(None).otherwise(pl.col("shots")).alias("shots")
    )
    with pytest.raises(WarehouseLoadError) as error:
        warehouse.publish(OEE, bad, values([("P01", D1)]))
    assert "shots" in str(error.value).lower() and "Nothing was written" in str(error.value)
    same_rows(warehouse.read(OEE), before)


def _insert_step(warehouse: Warehouse) -> str:
    return "_insert" if isinstance(warehouse, DuckDBWarehouse) else "_copy"


def test_a_failure_between_delete_and_insert_leaves_the_table(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = [("P01", D1), ("P01", DAYS[1])]
    warehouse.publish(OEE, rows(OEE, parts, 5), values(parts))
    before = warehouse.read(OEE)

    def fail(*args: Any) -> None:
        raise RuntimeError("connection lost between DELETE and the insert")

    monkeypatch.setattr(type(warehouse), _insert_step(warehouse), fail)
    with pytest.raises(RuntimeError, match="connection lost"):
        warehouse.publish(OEE, rows(OEE, parts[:1], 2, offset=50), values(parts[:1]))
    same_rows(warehouse.read(OEE), before)


KILL_SCRIPT = """
import json, os, signal, sys
from manufacturing_assets.catalogue import table
from manufacturing_assets.environment import Settings
from manufacturing_assets_tools.synthetic import synthetic_rows
env, marker = json.loads(sys.argv[1]), sys.argv[2]
warehouse = Settings.from_env(env).warehouse_io_manager().warehouse()
t = table("gold/oee_daily")
step = "_insert" if warehouse.dialect == "duckdb" else "_copy"

def killed(self, cursor, *args):
    # the DELETE ran in this transaction: the partition is empty here
    name = warehouse.qualified_name(t)
    cursor.execute(f"SELECT COUNT(*) FROM {name} WHERE plant_id = 'P01'")
    with open(marker, "w") as out:
        out.write(str(cursor.fetchone()[0]))
    os.kill(os.getpid(), signal.SIGKILL)

setattr(type(warehouse), step, killed)
rows = synthetic_rows(t, 3, [("P01", __import__("datetime").date(2024, 3, 30))], offset=900)
warehouse.publish(t, rows, [{"plant_id": "P01", "production_date": rows["production_date"][0]}])
"""


def test_a_kill_between_delete_and_copy_leaves_the_table(
    request: pytest.FixtureRequest, warehouse: Warehouse, settings: Settings, tmp_path: Path
) -> None:
    parts = [("P01", D1), ("P02", D1)]
    warehouse.publish(OEE, rows(OEE, parts, 5), values(parts))
    before = warehouse.read(OEE)
    env = environment(settings.warehouse, tmp_path, request) | {"MA_DATA_DIR": str(tmp_path)}
    if settings.warehouse == "snowflake":  # the same database as this test's warehouse
        env["SNOWFLAKE_DATABASE"] = settings.snowflake.database  # type: ignore[assignment]
    marker = tmp_path / "deleted_rows"
    child = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KILL_SCRIPT), json.dumps(env), str(marker)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -9, child.stderr[-2000:]
    assert marker.read_text() == "0"  # killed after its DELETE
    same_rows(warehouse.read(OEE), before)
    # and the table takes the next load
    fresh = rows(OEE, [("P02", D1)], 2, offset=77)
    warehouse.publish(OEE, fresh, values([("P02", D1)]))
    same_rows(warehouse.read(OEE), pl.concat([before.filter(pl.col("plant_id") == "P01"), fresh]))


def test_unknown_metrics_of_an_open_table_are_one_map(warehouse: Warehouse) -> None:
    readings = table("silver/sensor_readings")
    frame = rows(readings, [("P01", D1)], 3).with_columns(
        pl.Series("spindle_rpm", [1200.0, None, 1250.5])
    )
    warehouse.publish(readings, frame, values([("P01", D1)]))
    extra = (warehouse.columns(readings) or {})[sql_identifier("extra_columns", warehouse.dialect)]
    assert extra.type_text == ("VARIANT" if warehouse.dialect == "snowflake" else "JSON")
    value = (
        "extra_columns:spindle_rpm::FLOAT"
        if warehouse.dialect == "snowflake"
        else "CAST(extra_columns->>'spindle_rpm' AS DOUBLE)"
    )
    got = sql(
        warehouse, f"SELECT {value} FROM {warehouse.qualified_name(readings)} ORDER BY device_id"
    )
    assert [r[0] for r in got] == [1200.0, None, 1250.5]


def test_a_locked_duckdb_file_is_waited_for(tmp_path: Path) -> None:
    """Steps of a multiprocess run (`dagster dev`) take turns on the file."""
    path = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True);"
            " time.sleep(1.0)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = DuckDBWarehouse(path).publish(
            OEE, rows(OEE, [("P01", D1)], 3), values([("P01", D1)])
        )
        assert result.partition_rows == {("P01", D1): 3}
    finally:
        holder.wait(timeout=30)
    with pytest.raises(RuntimeError, match="holds it"):
        holder = subprocess.Popen(
            [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]);"
             " print('held', flush=True); time.sleep(30)", str(path)],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            DuckDBWarehouse(path, lock_timeout_s=0.3).publish(
                OEE, OEE.empty(), values([("P01", D1)])
            )
        finally:
            holder.kill()
            holder.wait(timeout=30)


def test_the_io_manager_loads_what_it_published(settings: Settings, warehouse: Warehouse) -> None:
    dim = _versions((101, "M1", "hydraulic", D1, None))
    warehouse.publish(DIM_MACHINE, dim)
    io_manager = settings.warehouse_io_manager()
    key = AssetKey(["warehouse", "dim_machine"])
    context = build_input_context(
        asset_key=key,
        upstream_output=build_output_context(asset_key=key, definition_metadata={}),
        dagster_type=resolve_dagster_type(pl.DataFrame),
    )
    same_rows(io_manager.load_input(context), dim)


# ---------------------------------------------------------------- secrets


def _encrypted_key(passphrase: str) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    ).decode()


@pytest.mark.integration
@pytest.mark.parametrize("auth", ["password", "key pair"])
def test_a_secret_never_appears_in_logs_or_metadata(
    auth: str,
    fakesnow: FakesnowServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """(Snowflake: the DuckDB warehouse has no credential.)"""
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    env = fakesnow.env(database=f"T_{uuid.uuid4().hex[:12].upper()}", MA_DATA_DIR=str(tmp_path))
    del env["SNOWFLAKE_PASSWORD"]
    if auth == "password":
        env["SNOWFLAKE_PASSWORD"] = secret
        secrets = [secret]
    else:
        pem = _encrypted_key(secret)
        env |= {"SNOWFLAKE_PRIVATE_KEY": pem, "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": secret}
        secrets = [secret, pem.splitlines()[1]]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    resources = build_resources(settings)
    snowflake = resources["warehouse_io_manager"].snowflake
    secret_fields = ("password",) if auth == "password" else ("private_key", "private_key_password")
    assert all(isinstance(getattr(snowflake, f), EnvVar) for f in secret_fields)
    assert secret not in repr(settings)

    dim = table("marts/dim_plant")
    write_delta_partitions(f"{settings.lake_root}/marts/dim_plant", synthetic_rows(dim, 3), None)
    defs = lake_defs()
    (tmp_path / "home").mkdir()
    with DagsterInstance.local_temp(str(tmp_path / "home")) as instance:
        result = materialize(
            [*defs, *warehouse_assets("snowflake")],
            selection=[AssetKey(["warehouse", "dim_plant"])],
            instance=instance,
            resources=resources,
        )
        assert result.success
        run = instance.get_run_by_id(result.run_id)
        assert run is not None
        recorded = [serialize_value(e) for e in instance.all_logs(result.run_id)]
        recorded.append(serialize_value(run))
        snapshot = instance.get_job_snapshot(run.job_snapshot_id)
        recorded.append(serialize_value(snapshot))
    (materialization,) = result.asset_materializations_for_node("warehouse__dim_plant")
    assert materialization.metadata["dagster/row_count"].value == 3
    out, err = capfd.readouterr()
    recorded += [out, err]
    for value in secrets:
        assert not any(value in text for text in recorded)


# ---------------------------------------------------------------- end to end


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_whole_sample_is_published_row_for_row(
    backend: str,
    sample_run: dict[str, Any],  # noqa: F811 (the session fixture)
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    """DuckDB: the warehouse the pipeline of `manufacturing-assets run` (README step 1) left
    next to the lake, through Dagster and the warehouse IO manager. Snowflake: the same lake
    published to the fakesnow server by the IO manager's publish function, every plant-day of
    the run in one load per table (the Dagster path is the backfill test's)."""
    run_settings: Settings = sample_run["settings"]
    pristine = sample_run["pristine_lake"]
    if backend == "duckdb":
        warehouse: Warehouse = DuckDBWarehouse(run_settings.warehouse_path)
    else:
        warehouse = (
            Settings.from_env(environment(backend, tmp_path, request))
            .warehouse_io_manager()
            .warehouse()
        )
        plant_days = values(sorted(sample_run["report"].partitions))
        for name, t in PUBLISHED.items():
            lake = scan_delta(f"{pristine}/{t.layer}/{name}")
            assert lake is not None, name
            warehouse.publish(t, lake, plant_days if t.is_partitioned else None)
    for name, t in PUBLISHED.items():
        lake = read_delta(f"{pristine}/{t.layer}/{name}")
        assert lake is not None and lake.height, name
        got = warehouse.read(t)
        assert got.height == lake.height, name
        same_rows(got, lake)
