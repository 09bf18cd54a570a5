"""The execution engine for transformations: Polars (embedded default) or PySpark.

Transformations are Narwhals functions; this resource turns the Polars frames the IO
managers hand over into the engine's lazy frames and collects results back into Polars.
"""

from __future__ import annotations

import os
from typing import Any, Literal

import narwhals as nw
import polars as pl
from dagster import ConfigurableResource
from pydantic import PrivateAttr


def spark_session(master: str = "local[2]") -> Any:
    """One Spark session per process, pinned to UTC (field notes)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master(master)
        .appName("manufacturing_assets")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )


class EngineResource(ConfigurableResource):
    """``name='polars'`` runs in-process; ``name='spark'`` runs on ``spark_master``."""

    name: Literal["polars", "spark"] = "polars"
    spark_master: str = "local[2]"

    _spark: Any = PrivateAttr(default=None)

    def spark(self) -> Any:
        if self._spark is None:
            self._spark = spark_session(self.spark_master)
        return self._spark

    def lazy(self, frame: pl.DataFrame | pl.LazyFrame) -> nw.LazyFrame[Any]:
        """A Polars frame as the engine's lazy frame."""
        if self.name == "spark":
            eager = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
            return nw.from_native(to_spark(self.spark(), eager))
        return nw.from_native(frame.lazy())

    def collect(self, frame: nw.LazyFrame[Any]) -> pl.DataFrame:
        return collect_polars(frame)


def to_spark(spark: Any, frame: pl.DataFrame) -> Any:
    table = frame.to_arrow()
    if frame.width and frame.height == 0:
        return spark.createDataFrame([], schema=spark.createDataFrame(table.to_pandas()).schema)
    return spark.createDataFrame(table)


def collect_polars(frame: nw.LazyFrame[Any]) -> pl.DataFrame:
    """Collect any engine's lazy frame into an eager Polars frame (timestamps UTC)."""
    if frame.implementation.is_pyspark():
        native = nw.to_native(frame)
        out = pl.from_arrow(native.toArrow())
        assert isinstance(out, pl.DataFrame)
        return out.with_columns(
            [
                pl.col(c).dt.replace_time_zone("UTC")
                if t == pl.Datetime and getattr(t, "time_zone", None) is None
                else pl.col(c)
                for c, t in out.schema.items()
            ]
        )
    native = nw.to_native(frame)
    if isinstance(native, pl.LazyFrame):  # streaming engine: bounded memory on big partitions
        return native.collect(engine="streaming")
    return frame.collect(backend="polars").to_native()
