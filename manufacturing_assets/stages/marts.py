"""Mart stages: master data -> SCD2 dimensions; silver/gold rows + dimensions -> facts
(contract 4, 6.4, 7). Transformations: ``transforms/dimensions.py``, ``transforms/facts.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import polars as pl

from manufacturing_assets.catalogue import table
from manufacturing_assets.catalogue.marts import DIMENSION_TABLES, FACT_TABLES
from manufacturing_assets.stages.plants import Engine
from manufacturing_assets.transforms import dimensions, facts

# fact -> (its source table, the transformation)
FACTS: dict[str, tuple[str, Callable[..., Any]]] = {
    "fact_shot": ("silver/shots", facts.fact_shot),
    "fact_machine_state": ("silver/machine_state_intervals", facts.fact_machine_state),
    "fact_sensor_hourly": ("gold/sensor_hourly", facts.fact_sensor_hourly),
    "fact_oee_daily": ("gold/oee_daily", facts.fact_oee_daily),
}
# fact surrogate key column -> (dimension, natural key column in the fact)
FACT_REFERENCES: dict[str, dict[str, tuple[str, str]]] = {
    fact: {
        c.name: (dim, "production_date" if dim == "date" else f"{dim}_id")
        for c in FACT_TABLES[fact].columns
        if c.name.endswith("_sk") and (dim := c.name.removesuffix("_sk"))
    }
    for fact in FACTS
}


def fact_dimensions(fact: str) -> list[str]:
    """The SCD2 dimensions a fact joins (``dim_date`` is a plain calendar)."""
    return sorted({d for d, _ in FACT_REFERENCES[fact].values()} - {"date"})


def dimension(
    engine: Engine, name: str, reference: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``reference/<entity>`` (every snapshot) -> (the SCD2 dimension, snapshot rows it
    could not use as sent)."""
    spec = dimensions.DIMENSIONS[name]
    issues = engine.collect(dimensions.snapshot_issues(engine.lazy(reference), spec))
    dim = engine.collect(dimensions.build_dimension(engine.lazy(reference), spec))
    return DIMENSION_TABLES[name].conform(dim), issues


def dim_mold(
    engine: Engine, molds: pl.DataFrame, mold_parts: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``dim_mold``: molds' history plus each version's part from ``mold_parts``."""
    spec = dimensions.DIMENSIONS["mold"]
    issues = engine.collect(dimensions.snapshot_issues(engine.lazy(molds), spec))
    dim = engine.collect(dimensions.build_dim_mold(engine.lazy(molds), engine.lazy(mold_parts)))
    return DIMENSION_TABLES["mold"].conform(dim), issues


def dim_date(engine: Engine, first: date, last: date) -> pl.DataFrame:
    days = pl.DataFrame({"date": pl.date_range(first, last, "1d", eager=True)})
    return engine.collect(dimensions.dim_date(engine.lazy(days)))


def dimension_stats(name: str, dim: pl.DataFrame, issues: pl.DataFrame) -> dict[str, Any]:
    key = dimensions.DIMENSIONS[name].key
    closed = (
        dim.group_by(key).agg(pl.col("is_current").any()).filter(~pl.col("is_current")).height
        if dim.height
        else 0
    )
    return {
        "versions": dim.height,
        "keys": dim[key].n_unique() if dim.height else 0,
        "current_rows": int(dim["is_current"].sum()) if dim.height else 0,
        "closed_keys": closed,
        "snapshot_issues": issues.height,
    }


def fact(
    engine: Engine, name: str, source: pl.DataFrame, dims: Mapping[str, pl.DataFrame]
) -> pl.DataFrame:
    """Rows of the fact's source with the surrogate keys of the versions valid on their
    production date. ``dims``: dimension name -> the dimension's rows."""
    source_path, transform = FACTS[name]
    source = table(source_path).conform(source)  # a table not written yet: typed, empty
    lazy = {d: engine.lazy(DIMENSION_TABLES[d].conform(dims[d])) for d in fact_dimensions(name)}
    frame = engine.collect(transform(engine.lazy(source), facts.Dimensions(**lazy)))
    return FACT_TABLES[name].conform(frame)


def rows_without_version(name: str, frame: pl.DataFrame) -> dict[str, int]:
    """Per surrogate key: rows whose natural key found no dimension version."""
    if frame.is_empty():
        return {}
    return {
        sk: frame.filter(pl.col(natural).is_not_null() & pl.col(sk).is_null()).height
        for sk, (_, natural) in FACT_REFERENCES[name].items()
    }
