"""The plant x date transformation assets as Spark plans (``MA_ENGINE=spark``, issue 14).

Each Spark asset is the twin of a Polars asset of ``definitions.ASSETS``: the same asset
keys, partitions, descriptions, metadata, owners, tags, automation, freshness and backfill
policies, check specs and upstream partition mappings (taken from the Polars definition's
specs, so the two cannot drift), with kind ``spark`` instead of ``polars``. What differs:

- upstream tables are ``deps`` (``AssetDep`` with the same partition mappings), not loaded
  inputs: the body reads exactly its plant x date slices through :class:`SparkLake` from
  the Delta log (``spark/graph.py``);
- the body computes per plant of the run (``runner.plants_of_run``: plants' time zones read
  on the driver, a few rows), writes through ``SparkLake.write`` (executors write Parquet,
  one deltalake commit replacing exactly the run's partitions per plant) and returns one
  ``MaterializeResult`` per output key; row counts per partition come from the Parquet
  footers of the write (``dagster/row_count``), never from a collect;
- the plant-day checks keep their names and are evaluated per plant-day on the committed
  rows with only small aggregates reaching the driver (:func:`contract_outcomes`: the
  catalogue's column contract as Spark aggregations grouped by plant and date;
  ``quarantine_share`` from counts). The table-level pandera rules (``checks/rules.py``:
  Polars expressions) are *not* evaluated on Spark: each evaluation names them in
  ``rules_not_evaluated``.

The Spark session is the ``pyspark`` resource's (``LazyPySparkResource``); the lake root and
storage options are the Delta IO manager's (``io_manager.root_uri``, ``.storage_options``),
so one setting drives both engines. Master data (``reference/*``) and the marts stay on
the embedded engine (small, unpartitioned; facts: see ``deploy/spark.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pyarrow as pa
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from manufacturing_assets.assets.runner import PlantDayRecords, plants_of_run
from manufacturing_assets.catalogue import Table
from manufacturing_assets.catalogue.bronze import BRONZE
from manufacturing_assets.catalogue.gold import GOLD
from manufacturing_assets.catalogue.marts import FACT_TABLES
from manufacturing_assets.catalogue.quarantine import QUARANTINE
from manufacturing_assets.catalogue.silver import MACHINE_STATE_INTERVALS, SILVER
from manufacturing_assets.checks.plant_day import (
    QUARANTINE_SHARE,
    QUARANTINE_WARN_SHARE,
    SILENT_DEVICES,
    Outcome,
    PlantDayCheck,
    contract_check,
)
from manufacturing_assets.checks.rules import RULES
from manufacturing_assets.io_managers.delta import written_column_schema
from manufacturing_assets.ops.health import HISTORY_DAYS
from manufacturing_assets.partitions import partition_key, plants_and_dates
from manufacturing_assets.spark import graph
from manufacturing_assets.spark.delta import SparkWriteResult, open_table, spark_type
from manufacturing_assets.stages.marts import FACT_REFERENCES
from manufacturing_assets.stages.plants import PlantDays, require_safe_plant_ids

KINDS = {"spark", "delta"}
RESOURCES = {"pyspark", "io_manager"}
PlantDay = tuple[str, date]


# ---------------------------------------------------------------- the lake of a run


def lake_of(context: AssetExecutionContext) -> graph.SparkLake:
    """The lake as Spark sees it: session from ``pyspark``, root and storage options from
    the Delta IO manager."""
    io_manager = context.resources.io_manager
    return graph.SparkLake(
        context.resources.pyspark.spark_session,
        io_manager.root_uri,
        dict(io_manager.storage_options),
    )


def run_plants(context: AssetExecutionContext, lake: graph.SparkLake) -> list[PlantDays]:
    return plants_of_run(context, lake.reference_polars("plants"))


def _values(spark_table: Table, plant: PlantDays) -> list[dict]:
    return graph.plant_day_values(spark_table, plant.plant, plant.dates)


class Written:
    """What one output key committed in this run (possibly one commit per plant)."""

    def __init__(self, spark_table: Table) -> None:
        self.table = spark_table
        self.results: list[SparkWriteResult] = []
        self.rows: dict[PlantDay, int] = {}
        self.partitions: list[PlantDay] = []

    def add(self, result: SparkWriteResult, parts: Iterable[PlantDay]) -> None:
        self.results.append(result)
        for plant, day in parts:
            self.partitions.append((plant, day))
            self.rows[(plant, day)] = self.rows.get((plant, day), 0) + result.partition_rows.get(
                (plant, day), 0
            )

    def write(self, lake: graph.SparkLake, frame: Any, plant: PlantDays) -> SparkWriteResult:
        result = lake.write(self.table, frame, _values(self.table, plant))
        self.add(result, [(plant.plant, d) for d in plant.dates])
        return result

    def result(
        self,
        context: AssetExecutionContext,
        lake: graph.SparkLake,
        metadata: Mapping[str, Any] | None = None,
        per_day: Mapping[PlantDay, Mapping[str, Any]] | None = None,
    ) -> MaterializeResult:
        """Per-partition ``dagster/row_count`` (and further ``per_day`` metadata), the run's
        total and the committed table's schema (from the Delta log)."""
        key = AssetKey(self.table.key_path)
        for part, n in sorted(self.rows.items()):
            context.add_asset_metadata(
                {
                    "dagster/row_count": n,
                    "dagster/partition_row_count": n,
                    **dict((per_day or {}).get(part, {})),
                },
                asset_key=key,
                partition_key=str(partition_key(*part)),
            )
        uri = lake.uri(self.table)
        delta = open_table(uri, lake.storage_options)
        schema = (
            pl.DataFrame(pa.schema(delta.schema().to_arrow()).empty_table()).schema
            if delta is not None
            else self.table.empty().schema
        )
        return MaterializeResult(
            asset_key=key,
            metadata={
                "run_total_rows": sum(self.rows.values()),
                "dagster/column_schema": written_column_schema(self.table.key_path, schema),
                "dagster/uri": uri,
                "partition_count": len(self.partitions),
                "delta_version": max((r.version for r in self.results), default=-1),
                "files_written": sum(r.files for r in self.results),
                "engine": "spark",
                **dict(metadata or {}),
            },
        )


# ---------------------------------------------------------------- checks as aggregations


def _failure_text(column: str, check: str, n: int) -> str:
    return f"- `{column}` {check}: {n} row(s)"


def contract_outcomes(
    lake: graph.SparkLake, spark_table: Table, parts: Sequence[PlantDay]
) -> dict[PlantDay, Outcome]:
    """The catalogue contract of ``spark_table`` on its committed rows of ``parts``, as
    Spark aggregations grouped by (plant_id, production_date): declared columns and types
    (from the schema, on the driver), non-null columns, ranges and allowed values, unique
    columns and the unique key. Only one row of counts per plant-day reaches the driver.
    Table-level rules (Polars expressions) are listed as not evaluated."""
    from pyspark.sql import functions as F

    plant_col, day_col = spark_table.partitioning.columns
    values = [{plant_col: p, day_col: d} for p, d in parts]
    frame = lake.read(spark_table, values)
    actual = {f.name: f.dataType for f in frame.schema.fields}
    everywhere: list[str] = []
    for c in spark_table.columns:
        if c.name not in actual:
            everywhere.append(f"- `{c.name}` column_in_dataframe: missing")
        elif actual[c.name] != spark_type(c.dtype):
            everywhere.append(f"- `{c.name}` dtype: {actual[c.name].simpleString()}")
    if spark_table.open_columns is None:
        everywhere += [
            f"- `{n}` column_in_schema: not declared" for n in actual if n not in spark_table.schema
        ]
    aggs = [F.count(F.lit(1)).alias("rows")]
    labels: list[tuple[str, str]] = []

    def violations(condition: Any, column: str, check: str) -> None:
        aggs.append(F.sum(F.when(condition, 1).otherwise(0)).alias(f"v{len(labels)}"))
        labels.append((column, check))

    for c in spark_table.columns:
        if c.name not in actual:
            continue
        col = F.col(c.name)
        if not c.nullable:
            violations(col.isNull(), c.name, "not_nullable")
        for name, bound, bad in (
            ("greater_than_or_equal_to", c.ge, lambda x, b: x < b),
            ("greater_than", c.gt, lambda x, b: x <= b),
            ("less_than_or_equal_to", c.le, lambda x, b: x > b),
            ("less_than", c.lt, lambda x, b: x >= b),
        ):
            if bound is not None:
                violations(col.isNotNull() & bad(col, F.lit(bound)), c.name, f"{name}({bound})")
        if c.isin:
            violations(col.isNotNull() & ~col.isin(list(c.isin)), c.name, "isin")
    counts: dict[PlantDay, dict[str, int]] = {}
    for row in frame.groupBy(plant_col, day_col).agg(*aggs).collect():
        counts[(row[plant_col], row[day_col])] = row.asDict()
    duplicates: dict[PlantDay, list[str]] = {}
    keys = [[c.name] for c in spark_table.columns if c.unique and c.name in actual]
    if spark_table.unique:
        keys.append(list(spark_table.unique))
    for key in keys:
        group = list(dict.fromkeys([plant_col, day_col, *key]))
        dup = (
            frame.groupBy(*group)
            .count()
            .filter(F.col("count") > 1)
            .groupBy(plant_col, day_col)
            .agg(F.sum("count").alias("n"))
        )
        for row in dup.collect():
            duplicates.setdefault((row[plant_col], row[day_col]), []).append(
                _failure_text(", ".join(key), "unique", row["n"])
            )
    not_evaluated = [getattr(r, "name", str(r)) for r in RULES.get(spark_table.path, ())]
    out = {}
    for part in parts:
        found = counts.get(part, {})
        rows = int(found.get("rows", 0))
        lines = list(everywhere)
        lines += [
            _failure_text(column, check, found[f"v{i}"])
            for i, (column, check) in enumerate(labels)
            if found.get(f"v{i}")
        ]
        lines += duplicates.get(part, [])
        metadata: dict[str, Any] = {"rows": rows, "engine": "spark"}
        if not_evaluated:
            metadata["rules_not_evaluated"] = ", ".join(not_evaluated)
        if lines:
            metadata.update(
                {"failures": len(lines), "failure_cases": MetadataValue.md("\n".join(lines[:20]))}
            )
        out[part] = Outcome(not lines, metadata)
    return out


def record_contract(
    records: PlantDayRecords, lake: graph.SparkLake, check: PlantDayCheck, written: Written
) -> None:
    if check not in records.checks:
        return
    for (plant, day), outcome in contract_outcomes(lake, written.table, written.partitions).items():
        records.record(check.name, plant, day, outcome)


def quarantine_share_outcomes(
    lake: graph.SparkLake,
    silver: Written,
    quarantine: Written,
    replayed: Sequence[str],
) -> dict[PlantDay, Outcome]:
    """``quarantine_share`` per plant-day from counts: silver rows (Parquet footers) and the
    quarantine's rows by reason and replayed origins (one small aggregation)."""
    from pyspark.sql import functions as F

    values = [{"plant_id": p, "production_date": d} for p, d in quarantine.partitions]
    frame = lake.read(quarantine.table, values)
    is_replayed = (
        F.concat_ws(":", F.col("source"), F.col("line_number").cast("string")).isin(list(replayed))
        if replayed
        else F.lit(False)
    )
    by_reason: dict[PlantDay, dict[str, int]] = {}
    resolved: dict[PlantDay, int] = {}
    grouped = frame.groupBy("plant_id", "production_date", "reason").agg(
        F.count(F.lit(1)).alias("n"), F.sum(F.when(is_replayed, 1).otherwise(0)).alias("replayed")
    )
    for row in grouped.collect():
        part = (row["plant_id"], row["production_date"])
        by_reason.setdefault(part, {})[row["reason"]] = row["n"]
        resolved[part] = resolved.get(part, 0) + int(row["replayed"] or 0)
    out = {}
    for part in silver.partitions:
        reasons = dict(sorted(by_reason.get(part, {}).items()))
        quarantined = sum(reasons.values())
        open_rows = quarantined - resolved.get(part, 0)
        total = silver.rows.get(part, 0) + open_rows
        share = open_rows / total if total else 0.0
        n_resolved = resolved.get(part, 0)
        out[part] = Outcome(
            passed=share <= QUARANTINE_WARN_SHARE,
            metadata={
                "quarantine_share": round(share, 6),
                "threshold": QUARANTINE_WARN_SHARE,
                "quarantined": quarantined,
                "replayed": n_resolved,
                "silver_rows": silver.rows.get(part, 0),
                "by_reason": MetadataValue.json(reasons),
            },
            description=(
                f"{share:.2%} of the plant-day's records were quarantined (warn above 5%)"
                + (
                    f"; {n_resolved} quarantined record(s) were replayed and are not counted."
                    if n_resolved
                    else "."
                )
            ),
        )
    return out


def silent_device_frame(lake: graph.SparkLake, plant: PlantDays) -> pl.DataFrame:
    """Distinct (plant_id, production_date, device_id) of the plant's silver readings of its
    dates and the ``HISTORY_DAYS`` before (devices x days: small)."""
    days = {d - timedelta(days=n) for d in plant.dates for n in range(HISTORY_DAYS + 1)}
    frame = lake.read_plant_days(SILVER["sensor_readings"], plant.plant, days)
    rows = frame.select("plant_id", "production_date", "device_id").distinct().collect()
    return pl.DataFrame(
        [r.asDict() for r in rows],
        schema={"plant_id": pl.String, "production_date": pl.Date, "device_id": pl.String},
        orient="row",
    )


def day_sums(
    lake: graph.SparkLake, written: Written, sums: Mapping[str, Callable[[Any], Any]]
) -> dict[PlantDay, dict[str, int]]:
    """Per plant-day sums (``name -> column expression``) of the committed rows."""
    from pyspark.sql import functions as F

    frame = lake.read(
        written.table, [{"plant_id": p, "production_date": d} for p, d in written.partitions]
    )
    wanted = {k: f for k, f in sums.items()}
    aggs = [F.coalesce(F.sum(f(frame)), F.lit(0)).alias(k) for k, f in wanted.items()]
    if not aggs:
        return {}
    return {
        (r["plant_id"], r["production_date"]): {k: int(r[k]) for k in wanted}
        for r in frame.groupBy("plant_id", "production_date").agg(*aggs).collect()
    }


def _silver_sums(spark_table: Table) -> dict[str, Callable[[Any], Any]]:
    """``stage.silver_stats`` as Spark sums."""
    from pyspark.sql import functions as F

    sums: dict[str, Callable[[Any], Any]] = {
        "flagged_rows": lambda f: (F.col("flags") != "").cast("int"),
        "duplicates_removed": lambda f: F.col("deliveries") - 1,
    }
    if "is_valid" in spark_table.schema:
        sums["invalid_rows"] = lambda f: (~F.col("is_valid")).cast("int")
    if "is_resolved" in spark_table.schema:
        sums["unresolved_shots"] = lambda f: (~F.col("is_resolved")).cast("int")
    return sums


def _totals(per_day: Mapping[PlantDay, Mapping[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for stats in per_day.values():
        for k, v in stats.items():
            totals[f"run_total_{k}"] = totals.get(f"run_total_{k}", 0) + v
    return totals


# ---------------------------------------------------------------- asset bodies


def _bronze_body(stream: str) -> Callable[[AssetExecutionContext], Iterator[Any]]:
    from manufacturing_assets.spark import bronze as spark_bronze

    def body(context: AssetExecutionContext) -> Iterator[Any]:
        from manufacturing_assets.assets.runner import check_run_carries_its_range

        check_run_carries_its_range(context)
        lake = lake_of(context)
        landing = context.resources.landing
        plants_dates = plants_and_dates(context.partition_keys)
        require_safe_plant_ids(plants_dates)  # before any landing path is built from them
        frame, stats = spark_bronze.read_bronze(
            lake.spark, landing, stream, plants_dates, datetime.now(UTC)
        )
        for part in stats["empty_partitions"]:
            context.log.warning(f"no {stream} files landed for {part}: partition is empty")
        written = Written(BRONZE[stream])
        parts = [(p, d) for p, days in plants_dates.items() for d in sorted(set(days))]
        values = [v for p, d in parts for v in graph.plant_day_values(BRONZE[stream], p, [d])]
        written.add(lake.write(BRONZE[stream], frame, values), parts)
        yield written.result(
            context,
            lake,
            {
                "files_read": len(stats["files"]),
                "empty_partitions": MetadataValue.json(stats["empty_partitions"]),
                "landing_zone": landing.describe(f"raw/{stream}/"),
            },
        )

    return body


def _silver_body(stream: str) -> Callable[[AssetExecutionContext], Iterator[Any]]:
    def body(context: AssetExecutionContext) -> Iterator[Any]:
        from manufacturing_assets.assets.silver import _checks

        lake = lake_of(context)
        checks = _checks(stream)
        records = PlantDayRecords(context, AssetKey(SILVER[stream].key_path), checks)
        silver, quarantine = Written(SILVER[stream]), Written(QUARANTINE[stream])
        extra: set[str] = set()
        targets = run_plants(context, lake)
        for plant in targets:
            accepted, rejected = graph.silver(lake, stream, plant)
            extra.update(c for c in accepted.columns if c not in SILVER[stream].schema)
            silver.write(lake, accepted, plant)
            quarantine.write(lake, rejected, plant)
        if extra:
            context.log.warning(
                f"schema changed: unknown {stream} keys kept as columns: {sorted(extra)}"
            )
        per_day = day_sums(lake, silver, _silver_sums(SILVER[stream]))
        yield silver.result(
            context, lake, {**_totals(per_day), "unknown_keys": sorted(extra)}, per_day
        )
        yield quarantine.result(context, lake)
        record_contract(records, lake, checks[0], silver)
        if QUARANTINE_SHARE in records.checks:
            ledger = getattr(context.resources, "replay_ledger", None)
            replayed = sorted(ledger.replayed_origins(stream)) if ledger is not None else []
            for (p, d), outcome in quarantine_share_outcomes(
                lake, silver, quarantine, replayed
            ).items():
                records.record(QUARANTINE_SHARE.name, p, d, outcome)
        if SILENT_DEVICES in records.checks:
            for plant in targets:
                devices = silent_device_frame(lake, plant)
                records.check(plant, {}, {"devices": devices}, only=[SILENT_DEVICES.name])
        yield from records.results()

    return body


def _intervals_body(context: AssetExecutionContext) -> Iterator[Any]:
    from pyspark.sql import functions as F

    lake = lake_of(context)
    check = contract_check(MACHINE_STATE_INTERVALS, blocking=True)
    records = PlantDayRecords(context, AssetKey(MACHINE_STATE_INTERVALS.key_path), [check])
    written = Written(MACHINE_STATE_INTERVALS)
    for plant in run_plants(context, lake):
        written.write(lake, graph.machine_state_intervals(lake, plant), plant)
    values = [{"plant_id": p, "production_date": d} for p, d in written.partitions]
    frame = lake.read(MACHINE_STATE_INTERVALS, values)
    per_day = {
        (r["plant_id"], r["production_date"]): {
            "machines": int(r["machines"]),
            "carried_over_intervals": int(r["carried_over_intervals"] or 0),
        }
        for r in frame.groupBy("plant_id", "production_date")
        .agg(
            F.countDistinct("machine_id").alias("machines"),
            F.sum(F.col("carried_over").cast("int")).alias("carried_over_intervals"),
        )
        .collect()
    }
    yield written.result(context, lake, _totals(per_day), per_day)
    record_contract(records, lake, check, written)
    yield from records.results()


def _gold_body(name: str) -> Callable[[AssetExecutionContext], Iterator[Any]]:
    def body(context: AssetExecutionContext) -> Iterator[Any]:
        lake = lake_of(context)
        check = contract_check(GOLD[name], blocking=False)
        records = PlantDayRecords(context, AssetKey(GOLD[name].key_path), [check])
        written = Written(GOLD[name])
        for plant in run_plants(context, lake):
            written.write(lake, graph.gold(lake, name, plant), plant)
        yield written.result(context, lake)
        record_contract(records, lake, check, written)
        yield from records.results()

    return body


def referential_outcomes(
    lake: graph.SparkLake, name: str, written: Written
) -> tuple[dict[PlantDay, Outcome], dict[str, int]]:
    """``referential_integrity`` per plant-day (``checks/marts_logic.referential_violations``
    as Spark joins and counts grouped by plant and date), and the run's rows without a
    dimension version per surrogate key (``stage.rows_without_version``)."""
    from pyspark.sql import functions as F

    from manufacturing_assets.catalogue.marts import DIM_DATE, DIMENSION_TABLES

    references = FACT_REFERENCES[name]
    values = [{"plant_id": p, "production_date": d} for p, d in written.partitions]
    fact = lake.read(written.table, values)
    counts: dict[PlantDay, dict[str, dict[str, int]]] = {
        part: {sk: {"dangling": 0, "missing": 0, "not_valid_on_date": 0} for sk in references}
        for part in written.partitions
    }
    rows = {
        (r["plant_id"], r["production_date"]): r["n"]
        for r in fact.groupBy("plant_id", "production_date")
        .agg(F.count(F.lit(1)).alias("n"))
        .collect()
    }

    def add(frame: Any, sk: str, kind: str) -> None:
        for r in frame.groupBy("plant_id", "production_date").count().collect():
            part = (r["plant_id"], r["production_date"])
            if part in counts:
                counts[part][sk][kind] = int(r["count"])

    for sk, (dim_name, natural) in references.items():
        dim_table = DIM_DATE if dim_name == "date" else DIMENSION_TABLES[dim_name]
        dim = lake.read(dim_table)
        dim_sk = f"{dim_name}_sk"
        known = dim.select(F.col(dim_sk).alias(sk)).distinct()
        add(fact.filter(F.col(sk).isNotNull()).join(known, on=sk, how="left_anti"), sk, "dangling")
        add(fact.filter(F.col(natural).isNotNull() & F.col(sk).isNull()), sk, "missing")
        if "valid_from" in dim.columns:
            first = dim.agg(F.min("valid_from").alias("_first"))
            versions = dim.select(F.col(dim_sk).alias(sk), "valid_from", "valid_to").crossJoin(
                first
            )
            d = F.col("production_date")
            valid = (
                (F.col("valid_from") <= d)
                | ((d < F.col("_first")) & (F.col("valid_from") == F.col("_first")))
            ) & (F.col("valid_to").isNull() | (d < F.col("valid_to")))
            joined = fact.select("plant_id", sk, "production_date").join(versions, on=sk)
            add(joined.filter(~valid), sk, "not_valid_on_date")
    out = {}
    without: dict[str, int] = {sk: 0 for sk in references}
    for part, by_sk in counts.items():
        for sk, c in by_sk.items():
            without[sk] += c["missing"]
        failing = {sk: c for sk, c in by_sk.items() if any(c.values())}
        out[part] = Outcome(
            passed=not failing,
            metadata={
                "rows": int(rows.get(part, 0)),
                "violations": MetadataValue.json(by_sk),
                "failing_keys": ", ".join(sorted(failing)) or "none",
                "engine": "spark",
            },
        )
    return out, without


def _fact_body(name: str) -> Callable[[AssetExecutionContext], Iterator[Any]]:
    def body(context: AssetExecutionContext) -> Iterator[Any]:
        from manufacturing_assets.catalogue.marts import FACT_TABLES
        from manufacturing_assets.checks.plant_day import referential_check

        fact_table = FACT_TABLES[name]
        references = FACT_REFERENCES[name]
        contract = contract_check(fact_table, blocking=False)
        referential = referential_check(references)
        lake = lake_of(context)
        records = PlantDayRecords(context, AssetKey(fact_table.key_path), [contract, referential])
        written = Written(fact_table)
        for plant in run_plants(context, lake):
            written.write(lake, graph.fact(lake, name, plant), plant)
        outcomes, without = referential_outcomes(lake, name, written)
        if any(without.values()):
            context.log.warning(f"{name}: rows without a dimension version: {without}")
        yield written.result(context, lake, {"rows_without_version": MetadataValue.json(without)})
        record_contract(records, lake, contract, written)
        if referential in records.checks:
            for (p, d), outcome in outcomes.items():
                records.record(referential.name, p, d, outcome)
        yield from records.results()

    return body


# op name of the Polars asset -> the Spark body
BODIES: dict[str, Callable[[AssetExecutionContext], Iterator[Any]]] = {
    **{f"bronze__{s}": _bronze_body(s) for s in BRONZE},
    **{f"silver_{s}": _silver_body(s) for s in SILVER if s != "machine_state_intervals"},
    "silver__machine_state_intervals": _intervals_body,
    **{f"gold__{n}": _gold_body(n) for n in GOLD},
    **{f"marts__{n}": _fact_body(n) for n in FACT_TABLES},
}
EXTRA_RESOURCES: dict[str, set[str]] = {
    **{f"bronze__{s}": {"landing"} for s in BRONZE},
    **{f"silver_{s}": {"replay_ledger"} for s in SILVER if s != "machine_state_intervals"},
}


def _spark_spec(spec: Any) -> Any:
    tags = {k: v for k, v in spec.tags.items() if not k.startswith("dagster/kind/")}
    return spec.replace_attributes(tags=tags, kinds=KINDS)


def spark_twin(polars_asset: AssetsDefinition) -> AssetsDefinition:
    """The Spark asset with ``polars_asset``'s specs, checks, partitions and policies."""
    name = polars_asset.op.name
    body = BODIES[name]
    checks = list(polars_asset.check_specs)

    @multi_asset(
        name=name,
        specs=[_spark_spec(s) for s in polars_asset.specs],
        check_specs=checks or None,
        partitions_def=polars_asset.partitions_def,
        backfill_policy=polars_asset.backfill_policy,
        required_resource_keys=RESOURCES | EXTRA_RESOURCES.get(name, set()),
        op_tags=dict(polars_asset.op.tags),
    )
    def _spark(context):  # noqa: ANN001 (Dagster reads the annotation; future annotations)
        yield from body(context)

    return _spark


def has_spark_twin(asset: Any) -> bool:
    return isinstance(asset, AssetsDefinition) and asset.node_def.name in BODIES


def with_spark_assets(assets: Sequence[Any]) -> list[Any]:
    """``assets`` with every plant x date transformation asset that has a Spark body
    replaced by its Spark twin (reference data, marts and warehouse assets unchanged)."""
    return [spark_twin(a) if has_spark_twin(a) else a for a in assets]
