"""Delta tables read and written by Spark executors, committed with ``deltalake``.

Read: the Delta log's file list for exactly the wanted partitions
(``DeltaTable.get_add_actions``; never the table folder, where replaced files remain until
vacuumed) is handed to ``spark.read.parquet``; the partition values come from the log and
are added as literal columns, typed by the table schema.

Write: the executors write Parquet (partitioned by the table's partition columns) into a
fresh folder inside the table, ``spark-<id>/plant_id=.../production_date=.../part-*.parquet``.
The driver then lists those files and reads their Parquet footers (row counts: metadata,
not rows), checks that every written partition is one of the run's, and commits one Delta
transaction: ``create_write_transaction(actions=[AddAction...], mode="overwrite",
partition_filters=...)`` replaces exactly the run's partitions (a run whose plant-days are
not a plants x dates product removes the old files of exactly its partitions with
``RemoveAction``s in the same commit). Readers see the old table or the new one, never
half: a process killed before the commit leaves unreferenced files that no reader sees
(``DeltaTable.vacuum`` deletes them).

A cluster with Delta support (Databricks) can use its native writer instead:
:class:`NativeDeltaWriter` has the same interface (``replaceWhere`` on the partitions).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import unquote

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable, Schema
from deltalake.exceptions import TableNotFoundError
from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions

from manufacturing_assets.io_managers.delta import PartitionMismatchError, PartitionValues

STAGING_PREFIX = "spark-"


@dataclass(frozen=True)
class SparkWriteResult:
    """What :func:`write_partitions` committed."""

    uri: str
    row_count: int
    version: int
    files: int
    partition_rows: dict[tuple, int] = field(default_factory=dict)
    """Rows per partition (partition column values in the order of the partition dicts)."""
    columns: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- paths and schemas


def spark_path(uri: str) -> str:
    """A lake URI as Spark's Hadoop file systems name it (``s3://`` -> ``s3a://``)."""
    if uri.startswith("s3://"):
        return "s3a://" + uri.removeprefix("s3://")
    if "://" in uri:
        return uri
    return "file://" + os.path.abspath(uri)


def open_table(uri: str, storage_options: Mapping[str, str] | None = None) -> DeltaTable | None:
    try:
        return DeltaTable(uri, storage_options=dict(storage_options or {}))
    except TableNotFoundError:
        return None


def spark_schema(table: DeltaTable) -> Any:
    """The table's schema as a Spark ``StructType`` (Delta's schema string is Spark's JSON)."""
    from pyspark.sql.types import StructType

    return StructType.fromJson(json.loads(table.schema().to_json()))


def spark_type(dtype: pl.DataType) -> Any:
    """A Polars (catalogue) type as a Spark type."""
    from pyspark.sql import types as T

    simple = {
        pl.String: T.StringType(),
        pl.Int64: T.LongType(),
        pl.Int32: T.IntegerType(),
        pl.Int16: T.ShortType(),
        pl.Int8: T.ByteType(),
        pl.Float64: T.DoubleType(),
        pl.Float32: T.FloatType(),
        pl.Boolean: T.BooleanType(),
        pl.Date: T.DateType(),
    }
    for polars_type, spark in simple.items():
        if dtype == polars_type:
            return spark
    if isinstance(dtype, pl.Datetime):
        return T.TimestampType() if dtype.time_zone else T.TimestampNTZType()
    raise TypeError(f"no Spark type for {dtype}")


def empty_frame(spark: Any, schema: Mapping[str, pl.DataType]) -> Any:
    """A typed Spark frame with no rows (a table not written yet)."""
    from pyspark.sql import types as T

    struct = T.StructType([T.StructField(n, spark_type(t), True) for n, t in schema.items()])
    return spark.createDataFrame([], struct)


# ---------------------------------------------------------------- read


def _partition_text(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)


def partition_files(
    table: DeltaTable, partitions: Sequence[PartitionValues] | None, absolute: bool = True
) -> dict[tuple, list[str]]:
    """Partition values (as text, in the table's partition column order) -> the Delta log's
    current files in ``partitions`` (None: every file): absolute URIs, or the paths as the
    log records them (``absolute=False``)."""
    columns = table.metadata().partition_columns
    actions = pa.table(table.get_add_actions(flatten=True)).to_pylist()
    wanted = None
    if partitions is not None:
        wanted = {tuple(_partition_text(p[c]) for c in columns) for p in partitions}
    root = table.table_uri.rstrip("/")
    out: dict[tuple, list[str]] = defaultdict(list)
    for action in actions:
        values = tuple(_partition_text(action.get(f"partition.{c}")) for c in columns)
        if wanted is not None and values not in wanted:
            continue
        path = action["path"]
        if absolute:
            path = unquote(path)
            path = path if "://" in path else f"{root}/{path}"
        out[values].append(path)
    return dict(out)


def read_partitions(
    spark: Any,
    uri: str,
    partitions: Sequence[PartitionValues] | None = None,
    storage_options: Mapping[str, str] | None = None,
    columns: Sequence[str] | None = None,
) -> Any | None:
    """The rows of ``partitions`` (None: the whole table) as a lazy Spark frame, read by the
    executors from the files the Delta log lists; None when the table does not exist."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructType

    table = open_table(uri, storage_options)
    if table is None:
        return None
    schema = spark_schema(table)
    part_cols = table.metadata().partition_columns
    types = {f.name: f.dataType for f in schema.fields}
    data_schema = StructType([f for f in schema.fields if f.name not in part_cols])
    names = [f.name for f in schema.fields]
    frames = []
    for values, files in sorted(partition_files(table, partitions).items()):
        frame = spark.read.schema(data_schema).parquet(*[spark_path(f) for f in files])
        literals = {c: F.lit(v).cast(types[c]) for c, v in zip(part_cols, values, strict=True)}
        frames.append(frame.withColumns(literals) if literals else frame)
    if not frames:
        frame = spark.createDataFrame([], schema)
    else:
        frame = frames[0]
        for other in frames[1:]:
            frame = frame.unionByName(other)
    frame = frame.select(*names)
    return frame.select(*columns) if columns is not None else frame


# ---------------------------------------------------------------- write


def conform(frame: Any, target: Any | None, declared: Mapping[str, pl.DataType] | None) -> Any:
    """Cast ``frame``'s columns to the existing table's types (``target``: a Spark
    ``StructType``), else to the declared catalogue types; other columns are kept as they
    are (new columns are added to the table schema)."""
    from pyspark.sql import functions as F

    types: dict[str, Any] = {}
    if declared:
        types.update({n: spark_type(t) for n, t in declared.items()})
    if target is not None:
        types.update({f.name: f.dataType for f in target.fields})
    present = set(frame.columns)
    casts = {
        c: F.col(c).cast(types[c])
        for c in frame.columns
        if c in types and frame.schema[c].dataType != types[c]
    }
    frame = frame.withColumns(casts) if casts else frame
    if declared:  # declared columns the frame lacks: typed nulls (as Table.conform does)
        missing = {n: F.lit(None).cast(types[n]) for n in declared if n not in present}
        frame = frame.withColumns(missing) if missing else frame
    return frame


def _merged_schema(existing: Any | None, frame_schema: Any) -> Schema:
    """The table schema after the write: the existing fields (unchanged) then the frame's
    new columns, all nullable."""
    from pyspark.sql.types import StructField, StructType

    fields = list(existing.fields) if existing is not None else []
    known = {f.name for f in fields}
    fields += [
        StructField(f.name, f.dataType, True) for f in frame_schema.fields if f.name not in known
    ]
    struct = StructType([StructField(f.name, f.dataType, True, f.metadata) for f in fields])
    return Schema.from_json(struct.json())


def _local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


def _filesystem(uri: str) -> tuple[Any, str]:
    from pyarrow import fs

    if _local(uri):
        return fs.LocalFileSystem(), os.path.abspath(uri.removeprefix("file://"))
    return fs.FileSystem.from_uri(uri)


def _written_files(
    uri: str, staging: str, partition_columns: Sequence[str]
) -> list[tuple[str, dict[str, str | None], int, int, int]]:
    """(path relative to the table, partition values, bytes, mtime ms, rows) of each Parquet
    file the executors wrote under ``staging``; rows from the file footer."""
    from pyarrow import fs

    filesystem, root = _filesystem(uri)
    selector = fs.FileSelector(f"{root}/{staging}", recursive=True, allow_not_found=True)
    out = []
    for info in filesystem.get_file_info(selector):
        name = info.base_name
        if info.type != fs.FileType.File or name.startswith((".", "_")):
            continue
        if not name.endswith(".parquet"):
            continue
        relative = info.path[len(root) + 1 :]
        values: dict[str, str | None] = {}
        for segment in relative.split("/")[1:-1]:
            key, _, value = segment.partition("=")
            text = unquote(value)
            values[key] = None if text == "__HIVE_DEFAULT_PARTITION__" else text
        if sorted(values) != sorted(partition_columns):
            raise ValueError(f"unexpected file layout under {staging}: {relative}")
        with filesystem.open_input_file(info.path) as handle:
            rows = pq.ParquetFile(handle).metadata.num_rows
        mtime = int(info.mtime.timestamp() * 1000) if info.mtime else int(time.time() * 1000)
        out.append((relative, values, int(info.size or 0), mtime, rows))
    return out


def _remove_staging(uri: str, staging: str) -> None:
    if _local(uri):
        shutil.rmtree(os.path.join(_filesystem(uri)[1], staging), ignore_errors=True)
        return
    filesystem, root = _filesystem(uri)
    with contextlib.suppress(OSError):
        filesystem.delete_dir(f"{root}/{staging}")


def _product_filters(
    partitions: Sequence[PartitionValues], columns: Sequence[str]
) -> list[tuple[str, str, Any]] | None:
    """Conjunctive ``in`` filters matching exactly ``partitions`` when they are the product
    of their values per column (the usual run: plants x dates); else None."""
    values = {c: sorted({_partition_text(p[c]) for p in partitions}) for c in columns}
    product = 1
    for v in values.values():
        product *= len(v)
    keys = {tuple(_partition_text(p[c]) for c in columns) for p in partitions}
    if product != len(keys):
        return None
    return [(c, "in", v) for c, v in values.items()]


def write_partitions(
    frame: Any,
    uri: str,
    partitions: Sequence[PartitionValues] | None,
    *,
    partition_columns: Sequence[str] = (),
    declared: Mapping[str, pl.DataType] | None = None,
    storage_options: Mapping[str, str] | None = None,
    table_name: str | None = None,
    before_commit: Callable[[str], None] | None = None,
) -> SparkWriteResult:
    """Replace exactly ``partitions`` of the Delta table at ``uri`` with the Spark
    ``frame`` (None: the whole table), in one Delta commit.

    The executors write the Parquet files; the driver only lists them and reads their
    footers. A row outside ``partitions`` fails the write before anything is committed.
    ``before_commit(staging folder)`` is called between the write and the commit (tests).
    """
    name = table_name or uri
    options = dict(storage_options or {})
    spark = frame.sparkSession
    table = open_table(uri, options)
    existing = spark_schema(table) if table is not None else None
    if table is not None:
        partition_columns = list(table.metadata().partition_columns)
    elif partitions:
        partition_columns = list(partitions[0])
    partition_columns = list(partition_columns)
    frame = conform(frame, existing, declared)
    for key, value in (
        ("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS"),
        ("spark.sql.session.timeZone", "UTC"),
    ):
        if spark.conf.get(key, None) != value:
            spark.conf.set(key, value)

    staging = f"{STAGING_PREFIX}{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}"
    writer = frame.write.mode("errorifexists").option("compression", "snappy")
    if partition_columns:
        writer = writer.partitionBy(*partition_columns)
    try:
        writer.parquet(f"{spark_path(uri).rstrip('/')}/{staging}")
        files = _written_files(uri, staging, partition_columns)
        if partitions is not None:
            allowed = {tuple(_partition_text(p[c]) for c in partition_columns) for p in partitions}
            outside = sorted(
                {tuple(v[c] for c in partition_columns) for _, v, *_ in files} - allowed,
                key=str,
            )
            if outside:
                raise PartitionMismatchError(
                    f"Cannot write Delta table '{name}': {len(outside)} partition value "
                    f"combination(s) in the frame are outside the materialized partitions "
                    f"({len(allowed)}); e.g. {dict(zip(partition_columns, outside[0], strict=True))}"
                )
    except BaseException:
        _remove_staging(uri, staging)
        raise

    now = int(time.time() * 1000)
    adds = [
        AddAction(path, size, values, mtime, True, json.dumps({"numRecords": rows}))
        for path, values, size, mtime, rows in files
    ]
    schema = _merged_schema(existing, frame.schema)
    if before_commit is not None:
        before_commit(staging)
    if table is None:
        create_table_with_add_actions(
            uri,
            schema,
            adds,
            mode="error",
            partition_by=partition_columns or None,
            storage_options=options,
        )
    elif partitions is None:
        table.create_write_transaction(
            adds, mode="overwrite", schema=schema, partition_by=partition_columns or None
        )
    else:
        filters = _product_filters(partitions, partition_columns)
        if filters is not None:
            table.create_write_transaction(
                adds,
                mode="overwrite",
                schema=schema,
                partition_by=partition_columns,
                partition_filters=filters,
            )
        else:  # not a product: remove exactly the old files of the run's partitions
            removes = [
                RemoveAction(
                    path=f,
                    data_change=True,
                    deletion_timestamp=now,
                    partition_values=dict(zip(partition_columns, values, strict=True)),
                )
                for values, paths in partition_files(table, partitions, absolute=False).items()
                for f in paths
            ]
            table.create_write_transaction(
                [*adds, *removes],
                mode="append",
                schema=schema,
                partition_by=partition_columns,
            )
    version = DeltaTable(uri, storage_options=options).version()
    per_partition: dict[tuple, int] = defaultdict(int)
    for _, values, _, _, rows in files:
        key = tuple(
            date.fromisoformat(v) if isinstance(v, str) and c.endswith("_date") else v
            for c, v in ((c, values[c]) for c in partition_columns)
        )
        per_partition[key] += rows
    return SparkWriteResult(
        uri,
        sum(f[4] for f in files),
        version,
        len(files),
        dict(per_partition),
        list(frame.columns),
    )


class NativeDeltaWriter:
    """The same write on a cluster with Delta Lake support (Databricks, delta-spark):
    ``df.write.format("delta").mode("overwrite").option("replaceWhere", ...)``, one commit
    by Spark's own Delta writer. Not usable here (delta-spark's jars are not available
    offline); selected with ``MA_SPARK_DELTA_WRITER=native``."""

    def write(
        self,
        frame: Any,
        uri: str,
        partitions: Sequence[PartitionValues] | None,
        **_: Any,
    ) -> None:
        from manufacturing_assets.io_managers.delta import partition_predicate

        writer = frame.write.format("delta").option("mergeSchema", "true")
        if partitions is None:
            writer.mode("overwrite").save(spark_path(uri))
            return
        writer.mode("overwrite").option(
            "replaceWhere", partition_predicate(partitions)
        ).partitionBy(*list(partitions[0])).save(spark_path(uri))
