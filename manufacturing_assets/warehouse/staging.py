"""Rows of a load in the shape the warehouse stores them, and how they travel to it.

:func:`prepare` turns the lake's rows into the warehouse's shape (lazily): identifiers as the
warehouse spells them, timestamps converted to UTC and stored without a zone, and, for an open
table, the undeclared columns (unknown metrics ...) packed into one map column
(``catalogue/derive.EXTRA_COLUMNS``). :func:`stage_parquet` streams them into a Parquet file
(``LazyFrame.sink_parquet``: memory stays bounded by Polars' streaming engine whatever the
number of plant-days) and reads back, from the file's footer, the row count and each column's
null count; Snowflake ``PUT``s it to a temporary stage and ``COPY``s it in. DuckDB reads the
rows as a stream of Arrow batches instead (:func:`arrow_batches`: no file, memory bounded by
a batch).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from manufacturing_assets.catalogue.derive import EXTRA_COLUMNS, sql_identifier
from manufacturing_assets.catalogue.model import Table

FrameLike = pl.DataFrame | pl.LazyFrame


@dataclass(frozen=True)
class StagedFiles:
    """Parquet files of one load."""

    paths: tuple[Path, ...]
    rows: int
    null_counts: dict[str, int]
    schema: dict[str, pl.DataType]
    """Warehouse column name -> Polars type, as written."""


def prepare(frame: FrameLike, table: Table, dialect: str) -> pl.LazyFrame:
    """The rows of ``frame`` as the warehouse stores them (see the module docstring)."""
    lazy = frame.lazy()
    schema = lazy.collect_schema()
    columns = list(schema)
    if table.open_columns is not None:
        declared = set(table.column_names)
        extra = [c for c in columns if c not in declared and c != EXTRA_COLUMNS]
        if extra:
            lazy = lazy.with_columns(pl.struct(extra).alias(EXTRA_COLUMNS)).drop(extra)
            columns = [c for c in columns if c not in extra] + [EXTRA_COLUMNS]
    exprs = []
    for name in columns:
        expr = pl.col(name)
        dtype = schema.get(name)
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
            expr = expr.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        exprs.append(expr.alias(sql_identifier(name, dialect)))
    return lazy.select(exprs)


def stage_parquet(lazy: pl.LazyFrame, directory: Path, name: str = "part-0") -> StagedFiles:
    """Write ``lazy`` to ``directory/<name>.parquet`` (streaming) and read its footer."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.parquet"
    lazy.sink_parquet(path, compression="lz4", statistics=True, row_group_size=262_144)
    meta = pq.read_metadata(path)
    names = [meta.schema.column(i).path.split(".")[0] for i in range(meta.num_columns)]
    nulls: dict[str, int] = {}
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for i, column in enumerate(names):
            stats = group.column(i).statistics
            count = stats.null_count if stats is not None and stats.has_null_count else 0
            nulls[column] = nulls.get(column, 0) + (count or 0)
    return StagedFiles((path,), meta.num_rows, nulls, dict(lazy.collect_schema()))


BATCH_ROWS = 100_000


def arrow_batches(lazy: pl.LazyFrame) -> pa.RecordBatchReader | None:
    """The rows of ``lazy`` as an Arrow stream computed batch by batch by Polars' streaming
    engine (None when there are no rows)."""
    batches = iter(lazy.collect_batches(chunk_size=BATCH_ROWS))
    first = next((b for b in batches if b.height), None)
    if first is None:
        return None
    head = first.to_arrow()

    def stream() -> Iterator[pa.RecordBatch]:
        yield from head.to_batches()
        for batch in batches:
            if batch.height:
                yield from batch.to_arrow().cast(head.schema).to_batches()

    return pa.RecordBatchReader.from_batches(head.schema, stream())
