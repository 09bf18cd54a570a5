"""Rows of any catalogue table, made up from its declaration (for warehouse tests and the
warehouse benchmark): every declared column filled by type, within its declared range, the
partition columns set to the plant-days asked for, unique columns (surrogate keys, the table's
one-column key such as ``shot_id``) unique, other text columns with few distinct values as in
real data (machines, molds, flags).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import numpy as np
import polars as pl

from manufacturing_assets.catalogue.model import Column, Table

DISTINCT_TEXT = 40
"""Distinct values of a text column that is not unique."""


def _values(
    column: Column, n: int, offset: int, rng: np.random.Generator, unique: bool
) -> pl.Series:
    dtype = column.dtype
    index = np.arange(offset, offset + n, dtype=np.int64)
    if column.isin:
        return pl.Series(column.name, [column.isin[i % len(column.isin)] for i in range(n)])
    if dtype == pl.String:
        codes = index if unique else index % DISTINCT_TEXT
        text = pl.Series(column.name, codes).cast(pl.String)
        return pl.select(pl.lit(f"{column.name[:4]}-") + text).to_series().alias(column.name)
    if dtype.is_integer():
        low = int(column.ge if column.ge is not None else 1 if column.gt is not None else 0)
        high = int(column.le) if column.le is not None else low + 1_000_000
        if unique or column.name.endswith("_sk"):
            return pl.Series(column.name, index + 1, dtype=pl.Int64)
        return pl.Series(column.name, rng.integers(low, high + 1, n), dtype=pl.Int64)
    if dtype.is_float():
        low = column.ge if column.ge is not None else column.gt or 0.0
        high = column.le if column.le is not None else column.lt or low + 1000.0
        return pl.Series(column.name, rng.uniform(low, high, n))
    if dtype == pl.Boolean:
        return pl.Series(column.name, rng.integers(0, 2, n).astype(bool))
    if dtype == pl.Date:
        start = date(2024, 1, 1)
        days = pl.Series(column.name, index if unique else index % 365).cast(pl.Int32)
        return pl.select(pl.lit(start) + pl.duration(days=days)).to_series().alias(column.name)
    if isinstance(dtype, pl.Datetime):
        start = datetime(2024, 3, 30, tzinfo=UTC)
        return pl.Series(
            column.name, (start.timestamp() * 1e6 + index * 1_000_000).astype(np.int64)
        ).cast(pl.Datetime("us", "UTC"))
    raise ValueError(f"no synthetic values for {column.name}: {dtype}")


def synthetic_rows(
    table: Table,
    rows_per_partition: int,
    partitions: Sequence[tuple[str, date]] = (),
    seed: int = 7,
    offset: int = 0,
) -> pl.DataFrame:
    """``rows_per_partition`` rows of ``table`` for each (plant, date) of ``partitions``
    (an unpartitioned table: ``rows_per_partition`` rows); typed as declared."""
    rng = np.random.default_rng(seed)
    unique = {c.name for c in table.columns if c.unique}
    if len(table.unique) == 1:
        unique.add(table.unique[0])
    parts = list(partitions) if table.is_partitioned else [None]
    frames = []
    for k, part in enumerate(parts):
        start = offset + k * rows_per_partition
        frame = pl.DataFrame(
            [_values(c, rows_per_partition, start, rng, c.name in unique) for c in table.columns]
        )
        if part is not None:
            plant_col, day_col = table.partitioning.columns
            frame = frame.with_columns(
                pl.lit(part[0], pl.String).alias(plant_col), pl.lit(part[1], pl.Date).alias(day_col)
            )
        frames.append(frame)
    return pl.concat(frames).cast(table.schema)  # type: ignore[arg-type]
