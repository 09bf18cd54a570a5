"""Bronze on Spark: the landed files of a run's plant-days, read by the executors.

The driver only lists the landing folders (file keys: metadata). The keys become a Spark
frame; each executor task opens its files and turns them into bronze rows with the same
readers as the embedded engine (``ingest/readers.read_landed_file``: JSON lines, gzip,
CSV, Parquet, with lineage, line numbers, malformed lines and unreadable files kept as
rows with ``parse_error``), so both engines give identical bronze tables. Spark's own JSON
and CSV readers were not used for the records themselves: they have no per-file line
numbers, would re-decide what a malformed line is (the contract keeps a line with
repeated keys, bad UTF-8 or a truncated gzip tail as a row with its reason, and Spark
drops or nulls such lines differently), and would render numbers and nested objects as
Spark chooses rather than as the contract's "text as sent".

Open-ended columns (``metric__<key>``, ``content__<key>``) are found in a first pass that
returns only column names to the driver; the second pass produces the rows with the union
schema. Landing folders must be readable by the executors: a local/shared folder path;
an ``s3://`` landing zone is read by the executors with boto3 from the ambient AWS
configuration (``AWS_*`` variables on the workers).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import polars as pl
import pyarrow as pa

from manufacturing_assets.catalogue.bronze import BRONZE
from manufacturing_assets.ingest.readers import read_landed_file
from manufacturing_assets.resources.landing_zone import LandingZone

KEY_SCHEMA = "key string, plant string, day date"


def landed_keys(
    landing: LandingZone, stream: str, plants_dates: Mapping[str, Sequence[date]]
) -> tuple[list[tuple[str, str, date]], list[str]]:
    """(key, plant, landing date) of every file landed for the plant-days, and the
    plant-days with no file."""
    keys, empty = [], []
    for plant, days in plants_dates.items():
        for day in days:
            prefix = f"raw/{stream}/plant={plant}/date={day.isoformat()}/"
            found = [obj.key for obj in landing.list_objects(prefix)]
            if not found:
                empty.append(f"{plant}/{day}")
            keys += [(k, plant, day) for k in found]
    return sorted(keys), empty


def _read_bytes(root: str, key: str) -> bytes:
    if root.startswith("s3://"):
        import boto3

        bucket, _, prefix = root.removeprefix("s3://").partition("/")
        name = f"{prefix.rstrip('/')}/{key}" if prefix else key
        client = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)
        return client.get_object(Bucket=bucket, Key=name)["Body"].read()
    with open(os.path.join(root, key), "rb") as handle:
        return handle.read()


def _frames(
    root: str, stream: str, ingested_at: datetime, batches: Iterator[pa.RecordBatch]
) -> Iterator[pl.DataFrame]:
    for batch in batches:
        for row in batch.to_pylist():
            data = _read_bytes(root, row["key"])
            yield read_landed_file(stream, row["key"], data, row["plant"], row["day"], ingested_at)


def _arrow_type(dtype: pl.DataType) -> pa.DataType:
    if dtype == pl.Date:
        return pa.date32()
    if isinstance(dtype, pl.Datetime):
        return pa.timestamp("us", tz="UTC")
    if dtype == pl.Int64:
        return pa.int64()
    return pa.string()


def read_bronze(
    spark: Any,
    landing: LandingZone,
    stream: str,
    plants_dates: Mapping[str, Sequence[date]],
    ingested_at: datetime,
) -> tuple[Any, dict[str, Any]]:
    """The bronze rows of the plant-days as a lazy Spark frame, and what the driver knows
    without reading rows (files, empty partitions)."""
    from pyspark.sql import types as T

    from manufacturing_assets.spark.delta import empty_frame, spark_type

    table = BRONZE[stream]
    keys, empty = landed_keys(landing, stream, plants_dates)
    stats: dict[str, Any] = {"files": [k for k, _, _ in keys], "empty_partitions": empty}
    if not keys:
        return empty_frame(spark, table.schema), stats
    root = landing.root
    slices = max(1, min(len(keys), int(spark.conf.get("spark.sql.shuffle.partitions", "4"))))
    files = spark.createDataFrame(keys, KEY_SCHEMA).repartition(slices, "key")

    def columns_of(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        seen: set[str] = set()
        for frame in _frames(root, stream, ingested_at, batches):
            seen.update(frame.columns)
        yield pa.RecordBatch.from_pydict(
            {"column": sorted(seen)}, pa.schema([("column", pa.string())])
        )

    found = {
        r["column"] for r in files.mapInArrow(columns_of, "column string").distinct().collect()
    }
    extra = sorted(found - set(table.schema))
    schema = {**table.schema, **{c: pl.String() for c in extra}}
    arrow_schema = pa.schema([(n, _arrow_type(t)) for n, t in schema.items()])
    struct = T.StructType([T.StructField(n, spark_type(t), True) for n, t in schema.items()])

    def rows_of(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for frame in _frames(root, stream, ingested_at, batches):
            missing = [
                pl.lit(None, t).alias(n) for n, t in schema.items() if n not in frame.columns
            ]
            frame = frame.with_columns(missing).select(list(schema))
            yield from frame.to_arrow().cast(arrow_schema).to_batches()

    return files.mapInArrow(rows_of, struct), stats
