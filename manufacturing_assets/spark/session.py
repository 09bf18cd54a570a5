"""The Spark session of the code location: ``dagster-pyspark``'s ``LazyPySparkResource``
(created the first time an asset needs it), configured from the environment.

``MA_SPARK_MASTER``: ``local[N]``, ``spark://host:port`` (standalone), or a Spark Connect
URL ``sc://host:port`` (Databricks, a Connect server); ``MA_SPARK_CONF``: further settings
as ``key=value`` pairs separated by ``;`` (or a JSON object). The settings every session
needs whatever the cluster (UTC session time zone, microsecond Parquet timestamps that
Delta readers understand) are always set.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

# what every session needs (field notes): UTC everywhere; Parquet timestamps as INT64
# microseconds with UTC adjustment (Spark's default INT96 is not a Delta type)
REQUIRED_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.sources.partitionOverwriteMode": "static",
}
# defaults for a small machine; any of them can be overridden by MA_SPARK_CONF
DEFAULT_CONF: dict[str, str] = {
    "spark.app.name": "manufacturing_assets",
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.adaptive.enabled": "true",
    # no _SUCCESS marker files next to the Parquet the executors write into a table
    "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
    "spark.hadoop.parquet.summary.metadata.level": "NONE",
}

# for tiny data (tests, one plant-day of a sample): one shuffle partition (no range
# sampling job before a sort, one task per stage), and Catalyst's interpreted evaluation
# instead of whole-stage code generation (the graph's plans are wide: compiling their
# generated Java costs seconds per table, far more than evaluating a few hundred rows).
# Results are the same; not for real volumes (MA_SPARK_CONF there).
SMALL_DATA_CONF: dict[str, str] = {
    "spark.sql.shuffle.partitions": "1",
    "spark.default.parallelism": "1",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.sql.files.openCostInBytes": str(64 * 2**20),
}


def parse_conf(text: str | None) -> dict[str, str]:
    """``"a=1; b=2"`` or ``'{"a": "1"}'`` -> ``{"a": "1", "b": "2"}``."""
    text = (text or "").strip()
    if not text:
        return {}
    if text.startswith("{"):
        return {str(k): str(v) for k, v in json.loads(text).items()}
    pairs = [p.strip() for p in text.split(";") if p.strip()]
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"MA_SPARK_CONF: {pair!r} is not key=value")
        out[key.strip()] = value.strip()
    return out


def spark_config(
    master: str = "local[2]", extra: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The session settings for ``master`` (``sc://`` selects Spark Connect)."""
    conf: dict[str, Any] = {**DEFAULT_CONF, **dict(extra or {}), **REQUIRED_CONF}
    if master.startswith("sc://"):
        conf["spark.remote"] = master
        # a Connect client cannot set cluster settings (UI, Hadoop) of the server
        for key in ("spark.ui.enabled", "spark.app.name"):
            conf.pop(key, None)
        conf = {k: v for k, v in conf.items() if not k.startswith("spark.hadoop.")}
    else:
        conf["spark.master"] = master
    return conf


def spark_resource(master: str = "local[2]", extra: Mapping[str, str] | None = None) -> Any:
    """A ``LazyPySparkResource``: nothing starts until an asset asks for the session."""
    from dagster_pyspark import LazyPySparkResource

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return LazyPySparkResource(spark_config=spark_config(master, extra))


def get_session(master: str = "local[2]", extra: Mapping[str, str] | None = None) -> Any:
    """The process's session with these settings (tools and tests; assets use the resource)."""
    return spark_resource(master, extra).spark_session


def is_connect(spark: Any) -> bool:
    """A Spark Connect session (no SparkContext on the client)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")
