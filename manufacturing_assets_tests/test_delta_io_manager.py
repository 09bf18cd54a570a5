"""DeltaLakeIOManager against real Delta tables (local tmp_path and a moto S3 server)."""

import socket
from collections.abc import Callable, Iterator
from datetime import date

import boto3
import pandas as pd
import polars as pl
import pytest
from dagster import (
    AssetExecutionContext,
    AssetIn,
    DagsterInstance,
    DailyPartitionsDefinition,
    DimensionPartitionMapping,
    DynamicPartitionsDefinition,
    IdentityPartitionMapping,
    MultiPartitionKey,
    MultiPartitionMapping,
    MultiPartitionsDefinition,
    TimeWindowPartitionMapping,
    asset,
    materialize,
)
from deltalake import DeltaTable

from manufacturing_assets.io_managers import (
    DeltaLakeIOManager,
    read_delta_partitions,
    write_delta_partitions,
)
from manufacturing_assets.io_managers.delta import (
    PartitionMismatchError,
    partition_predicate,
)
from manufacturing_assets.io_managers.schema_policy import SchemaChangeRefused

DAILY = DailyPartitionsDefinition(start_date="2024-03-01")
MULTI = MultiPartitionsDefinition(
    {"date": DAILY, "plant": DynamicPartitionsDefinition(name="plant")}
)
PLANTS = ["P01", "P02", "P03"]
D1, D2, D3, D4 = (date(2024, 3, d) for d in (1, 2, 3, 4))
SORT = ["plant_id", "production_date", "reading"]


def key(day: date, plant: str) -> str:
    return MultiPartitionKey({"date": day.isoformat(), "plant": plant})


def rows(pairs: list[tuple[str, date]], run: str, n: int = 3, **extra: pl.Expr) -> pl.DataFrame:
    """``n`` readings per (plant, date) tagged with ``run``."""
    frame = pl.DataFrame(
        {
            "plant_id": [p for p, _ in pairs for _ in range(n)],
            "production_date": [d for _, d in pairs for _ in range(n)],
            "reading": [i for _ in pairs for i in range(n)],
            "value": [float(i) * 1.5 for _ in pairs for i in range(n)],
            "run": [run] * (n * len(pairs)),
        },
        schema_overrides={"reading": pl.Int32},
    )
    return frame.with_columns(**extra) if extra else frame


def pairs_of(context: AssetExecutionContext) -> list[tuple[str, date]]:
    out = []
    for k in context.partition_keys:
        dims = MULTI.get_partition_key_from_str(k).keys_by_dimension
        out.append((dims["plant"], date.fromisoformat(dims["date"])))
    return out


def source_asset(make: Callable[[AssetExecutionContext], object], **kwargs):
    """A ``silver/readings`` asset on the plant x date partitions whose output is ``make(ctx)``."""

    @asset(key=["silver", "readings"], partitions_def=MULTI, **kwargs)
    def readings(context: AssetExecutionContext) -> pl.DataFrame:
        return make(context)

    return readings


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with DagsterInstance.ephemeral() as inst:
        inst.add_dynamic_partitions("plant", PLANTS)
        yield inst


@pytest.fixture
def io_manager(tmp_path) -> DeltaLakeIOManager:
    return DeltaLakeIOManager(root_uri=str(tmp_path / "lake"))


def run(assets, io_manager, instance, partition_key=None, tags=None, **kwargs):
    return materialize(
        assets,
        resources={"io_manager": io_manager},
        instance=instance,
        partition_key=partition_key,
        tags=tags,
        **kwargs,
    )


def backfill_tags(start: str, end: str) -> dict[str, str]:
    """Tags of a single-run backfill over a rectangle of multi keys."""
    return {
        "dagster/asset_partition_range_start": start,
        "dagster/asset_partition_range_end": end,
    }


def table_uri(io_manager: DeltaLakeIOManager) -> str:
    return io_manager.table_uri(["silver", "readings"])


def read_all(io_manager: DeltaLakeIOManager) -> pl.DataFrame:
    return read_delta_partitions(table_uri(io_manager), io_manager.storage_options).sort(SORT)


def materialization_metadata(result, partitions: int = 1) -> dict:
    """Metadata of the run's materializations (one event per partition, same metadata)."""
    events = result.get_asset_materialization_events()
    assert len(events) == partitions
    return {k: v.value for k, v in events[0].materialization.metadata.items()}


# ---------------------------------------------------------------- 1. partition overwrite


def test_rematerializing_one_partition_leaves_others_identical(io_manager, instance):
    first = source_asset(lambda ctx: rows(pairs_of(ctx), "v1"))
    result = run([first], io_manager, instance, tags=backfill_tags(key(D1, "P01"), key(D3, "P03")))
    meta = materialization_metadata(result, partitions=9)
    assert meta["run_total_rows"] == 27  # the run's total, named as such
    per_partition = {
        e.partition: e.materialization.metadata["dagster/row_count"].value
        for e in result.get_asset_materialization_events()
    }
    assert per_partition == {k: 3 for k in per_partition} and len(per_partition) == 9
    assert meta["partition_count"] == 9
    assert "production_date BETWEEN '2024-03-01' AND '2024-03-03'" in meta["partitions_written"]
    assert [c.name for c in meta["dagster/column_schema"].columns] == list(rows([], "x").columns)
    assert meta["dagster/uri"] == table_uri(io_manager)
    before = read_all(io_manager)
    assert before.height == 27
    other_files = {
        f
        for f in DeltaTable(table_uri(io_manager)).file_uris()
        if not ("plant_id=P02/" in f and "production_date=2024-03-02/" in f)
    }
    assert len(other_files) == 8

    second = source_asset(lambda ctx: rows(pairs_of(ctx), "v2", n=5))
    result = run([second], io_manager, instance, partition_key=key(D2, "P02"))
    meta = materialization_metadata(result)
    assert meta["partitions_written"] == "(plant_id = 'P02' AND production_date IN ('2024-03-02'))"
    assert meta["delta_version"] == 1

    after = read_all(io_manager)
    target = (pl.col("plant_id") == "P02") & (pl.col("production_date") == D2)
    assert after.filter(~target).equals(before.filter(~target))
    # physically partitioned: the other partitions' parquet files were not even rewritten
    assert other_files <= set(DeltaTable(table_uri(io_manager)).file_uris())
    replaced = after.filter(target)
    assert replaced["run"].to_list() == ["v2"] * 5
    assert replaced["reading"].to_list() == [0, 1, 2, 3, 4]


# ---------------------------------------------------------------- 2. multi-plant, multi-day loads


def test_load_many_plants_and_dates(io_manager, instance, tmp_path):
    pairs = [(p, d) for p in PLANTS for d in (D1, D2, D3, D4)]
    uri = table_uri(io_manager)
    write_delta_partitions(
        uri, rows(pairs, "v1"), [{"plant_id": p, "production_date": d} for p, d in pairs]
    )

    got = read_delta_partitions(uri, {}, None, plants=["P01", "P03"], dates=[D2, D4]).sort(SORT)
    assert set(zip(got["plant_id"], got["production_date"], strict=True)) == {
        ("P01", D2),
        ("P01", D4),
        ("P03", D2),
        ("P03", D4),
    }
    assert got.height == 12
    assert got.columns == rows([], "x").columns
    assert got.schema["production_date"] == pl.Date
    assert read_delta_partitions(uri, plants=["P09"]).height == 0
    assert read_delta_partitions(str(tmp_path / "missing")).equals(pl.DataFrame())

    seen: dict[str, pl.DataFrame] = {}
    window = MultiPartitionMapping(
        {
            "date": DimensionPartitionMapping(
                "date", TimeWindowPartitionMapping(start_offset=-1, end_offset=1)
            ),
            "plant": DimensionPartitionMapping("plant", IdentityPartitionMapping()),
        }
    )

    @asset(
        partitions_def=MULTI,
        ins={"readings": AssetIn(key=["silver", "readings"], partition_mapping=window)},
    )
    def smoothed(readings: pl.DataFrame) -> None:
        seen["window"] = readings

    @asset(ins={"readings": AssetIn(key=["silver", "readings"])})
    def summary(readings: pd.DataFrame) -> None:
        seen["all"] = readings

    upstream = source_asset(lambda ctx: ctx)  # only its definition is needed
    run(
        [upstream, smoothed],
        io_manager,
        instance,
        partition_key=key(D3, "P02"),
        selection=[smoothed],
    )
    window_rows = seen["window"]
    assert set(window_rows["plant_id"]) == {"P02"}
    assert sorted(set(window_rows["production_date"])) == [D2, D3, D4]

    run([upstream, summary], io_manager, instance, selection=[summary])
    assert isinstance(seen["all"], pd.DataFrame)
    assert len(seen["all"]) == len(pairs) * 3


def test_partition_predicate_groups_plants_by_dates():
    parts = [{"plant_id": p, "production_date": d} for p in ("P01", "P02") for d in (D1, D2, D4)]
    parts.append({"plant_id": "O'Hare", "production_date": D3})
    assert partition_predicate(parts) == (
        "(plant_id = 'O''Hare' AND production_date IN ('2024-03-03'))"
        " OR (plant_id IN ('P01', 'P02') AND (production_date BETWEEN '2024-03-01' AND"
        " '2024-03-02' OR production_date IN ('2024-03-04')))"
    )


# ---------------------------------------------------------------- 3.-6. schema policy, validation


def test_new_column_is_added_and_reported(io_manager, instance):
    run(
        [source_asset(lambda ctx: rows(pairs_of(ctx), "v1"))],
        io_manager,
        instance,
        partition_key=key(D1, "P01"),
    )
    with_temp = source_asset(
        lambda ctx: rows(pairs_of(ctx), "v2", temperature=pl.lit(71.5)).drop("run")
    )
    result = run([with_temp], io_manager, instance, partition_key=key(D2, "P01"))
    meta = materialization_metadata(result)
    assert meta["schema_change"] == "added: temperature (Float64)"
    assert meta["null_filled_columns"] == "run"

    table = read_all(io_manager)
    assert table.columns[-1] == "temperature"
    assert table.filter(pl.col("production_date") == D1)["temperature"].null_count() == 3
    assert table.filter(pl.col("production_date") == D2)["temperature"].to_list() == [71.5] * 3
    assert table.filter(pl.col("production_date") == D2)["run"].null_count() == 3


@pytest.mark.parametrize(
    ("column", "bad", "old", "new"),
    [
        ("run", pl.lit(7, dtype=pl.Int64), "String", "Int64"),
        ("value", pl.col("value").cast(pl.Int64), "Float64", "Int64"),
    ],
)
def test_incompatible_type_change_is_refused(tmp_path, column, bad, old, new):
    uri = str(tmp_path / "silver" / "readings")
    part = [{"plant_id": "P01", "production_date": D1}]
    write_delta_partitions(uri, rows([("P01", D1)], "v1"), part)
    before = pl.read_delta(uri)
    version = DeltaTable(uri).version()

    with pytest.raises(SchemaChangeRefused) as error:
        write_delta_partitions(
            uri, rows([("P01", D1)], "v2").with_columns(bad.alias(column)), part, table_name="t"
        )
    message = str(error.value)
    assert all(s in message for s in ("'t'", f"'{column}'", old, new))
    assert DeltaTable(uri).version() == version
    assert pl.read_delta(uri).equals(before)


def test_safe_widening(tmp_path):
    uri = str(tmp_path / "t")
    p1, p2 = (
        [{"plant_id": "P01", "production_date": D1}],
        [{"plant_id": "P02", "production_date": D1}],
    )
    write_delta_partitions(uri, rows([("P01", D1)], "v1"), p1)
    # narrower frame (Int16 into the Int32 table): cast up, no schema change
    narrow = rows([("P02", D1)], "v1").with_columns(pl.col("reading").cast(pl.Int16))
    assert write_delta_partitions(uri, narrow, p2).schema_plan.description is None
    # wider frame: the table column is widened, other partitions kept
    wide = rows([("P02", D1)], "v2").with_columns(pl.col("reading").cast(pl.Int64) + 2**40)
    result = write_delta_partitions(uri, wide, p2)
    assert result.schema_plan.description == "widened: reading (Int32 -> Int64)"
    table = read_delta_partitions(uri).sort(SORT)
    assert table.schema["reading"] == pl.Int64
    assert table.filter(pl.col("plant_id") == "P01")["reading"].to_list() == [0, 1, 2]
    assert table.filter(pl.col("plant_id") == "P02")["reading"].min() == 2**40
    assert table.filter(pl.col("plant_id") == "P02")["run"].to_list() == ["v2"] * 3


def test_row_outside_materialized_partitions_is_refused(io_manager, instance):
    stray = source_asset(lambda ctx: rows(pairs_of(ctx) + [("P03", D1)], "v1"))
    with pytest.raises(
        PartitionMismatchError, match=r"silver/readings.*'plant_id' has value 'P03'"
    ):
        run([stray], io_manager, instance, partition_key=key(D1, "P01"))
    assert not DeltaTable.is_deltatable(table_uri(io_manager))

    wrong_day = rows([("P01", D2)], "v1")
    with pytest.raises(PartitionMismatchError, match=r"'production_date' has value.*2024, 3, 2"):
        write_delta_partitions(
            table_uri(io_manager), wrong_day, [{"plant_id": "P01", "production_date": D1}]
        )


def test_empty_frame_empties_partition(io_manager, instance):
    run(
        [source_asset(lambda ctx: rows(pairs_of(ctx), "v1"))],
        io_manager,
        instance,
        tags=backfill_tags(key(D1, "P01"), key(D2, "P02")),
    )
    result = run(
        [source_asset(lambda ctx: rows([], "v2"))],
        io_manager,
        instance,
        partition_key=key(D2, "P01"),
    )
    assert materialization_metadata(result)["dagster/row_count"] == 0
    table = read_all(io_manager)
    assert ("P01", D2) not in set(zip(table["plant_id"], table["production_date"], strict=True))
    assert table.height == 9

    # a frame without any column (e.g. ``pl.DataFrame()``) empties the partition, too
    write_delta_partitions(
        table_uri(io_manager), pl.DataFrame(), [{"plant_id": "P02", "production_date": D2}]
    )
    assert read_all(io_manager).height == 6


def test_single_daily_partitions_pandas_and_unpartitioned(io_manager, instance):
    @asset(
        key=["reference", "plants"],
        partitions_def=DAILY,
        metadata={"partition_expr": "snapshot_date"},
    )
    def plants(context: AssetExecutionContext) -> pd.DataFrame:
        days = [date.fromisoformat(k) for k in context.partition_keys]
        return pd.DataFrame(
            {
                "snapshot_date": [d for d in days for _ in PLANTS[:2]],
                "plant_id": PLANTS[:2] * len(days),
                "loaded_at": pd.Timestamp("2024-03-04T12:00:00", tz="Europe/Berlin"),
            }
        )

    @asset(key=["marts", "dim_plant"])
    def dim_plant() -> pl.LazyFrame:
        return pl.LazyFrame({"plant_id": ["P01"]})

    for day in ("2024-03-01", "2024-03-02", "2024-03-01"):
        run([plants], io_manager, instance, partition_key=day)
    run([plants], io_manager, instance, tags=backfill_tags("2024-03-02", "2024-03-03"))
    run([dim_plant], io_manager, instance)
    run([dim_plant], io_manager, instance)
    snapshots = read_delta_partitions(
        io_manager.table_uri(["reference", "plants"]), {}, "snapshot_date"
    )
    assert snapshots.height == 6
    assert snapshots["snapshot_date"].unique().sort().to_list() == [D1, D2, D3]
    assert snapshots.schema["snapshot_date"] == pl.Date
    assert snapshots.schema["loaded_at"] == pl.Datetime("us", "UTC")
    assert snapshots["loaded_at"].dt.hour().to_list() == [11] * 6
    assert read_delta_partitions(io_manager.table_uri(["marts", "dim_plant"])).height == 1


def test_missing_table_loads_empty_frame(io_manager, instance):
    seen = {}

    @asset(ins={"readings": AssetIn(key=["silver", "readings"])})
    def summary(readings: pl.LazyFrame) -> None:
        seen["lazy"] = readings

    upstream = source_asset(lambda ctx: ctx)
    result = run([upstream, summary], io_manager, instance, selection=[summary])
    assert seen["lazy"].collect().equals(pl.DataFrame())
    messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any("does not exist yet" in (m or "") for m in messages)


# ---------------------------------------------------------------- 7. S3 (moto server)


@pytest.fixture(scope="module")
def s3_options() -> Iterator[dict[str, str]]:
    from moto import server as moto_server  # a test dependency: never skipped

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    options = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
    }
    boto3.client(
        "s3",
        endpoint_url=options["AWS_ENDPOINT_URL"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).create_bucket(Bucket="lake")
    yield options
    server.stop()


@pytest.mark.integration
def test_s3_partition_overwrite_round_trip(s3_options, instance):
    io_manager = DeltaLakeIOManager(root_uri="s3://lake/dev", storage_options=s3_options)
    run(
        [source_asset(lambda ctx: rows(pairs_of(ctx), "v1"))],
        io_manager,
        instance,
        tags=backfill_tags(key(D1, "P01"), key(D2, "P02")),
    )
    before = read_all(io_manager)
    run(
        [source_asset(lambda ctx: rows(pairs_of(ctx), "v2", n=2))],
        io_manager,
        instance,
        partition_key=key(D1, "P02"),
    )
    after = read_all(io_manager)
    target = (pl.col("plant_id") == "P02") & (pl.col("production_date") == D1)
    assert after.filter(~target).equals(before.filter(~target))
    assert after.filter(target)["run"].to_list() == ["v2", "v2"]
    got = read_delta_partitions(
        "s3://lake/dev/silver/readings", s3_options, None, plants=["P01", "P02"], dates=[D1]
    )
    assert got.height == 5
