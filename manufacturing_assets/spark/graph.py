"""The asset graph's transformations as Spark plans, end to end.

Each function computes one asset for one plant's dates (``PlantDays``) exactly as the
embedded stages do (``stages/``), with the same Narwhals transformations, but its inputs are
Spark frames read from the Delta log's file list for the wanted plant x date slices, and
its outputs are Spark frames written by the executors and committed to Delta
(``spark/delta.py``). Only counts, file metadata and the small master-data tables that
decide *what* to compute (plants' time zones) reach the driver.

:func:`run_graph` materializes bronze -> silver -> gold -> marts for given plant-days
(``manufacturing-assets benchmark --engine spark`` and the tests use it); the master data
(``reference/*``) is the embedded stage's (a few hundred rows of CSV snapshots).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import narwhals as nw
import polars as pl

from manufacturing_assets.catalogue import Table, table
from manufacturing_assets.catalogue.bronze import BRONZE
from manufacturing_assets.catalogue.gold import GOLD, LOSS_DAILY, OEE_DAILY, RUN_RATE_HOURLY
from manufacturing_assets.catalogue.marts import DIM_DATE, DIMENSION_TABLES, FACT_TABLES
from manufacturing_assets.catalogue.quarantine import QUARANTINE
from manufacturing_assets.catalogue.silver import MACHINE_STATE_INTERVALS, SILVER
from manufacturing_assets.contract import STREAMS
from manufacturing_assets.io_managers.delta import read_delta
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets.spark import bronze as spark_bronze
from manufacturing_assets.spark.delta import (
    SparkWriteResult,
    empty_frame,
    open_table,
    read_partitions,
    spark_type,
    write_partitions,
)
from manufacturing_assets.stages.gold import _READS
from manufacturing_assets.stages.marts import FACTS, fact_dimensions
from manufacturing_assets.stages.plants import PlantDays
from manufacturing_assets.stages.silver import EVENT_COLUMNS
from manufacturing_assets.transforms import (
    dimensions,
    facts,
    machine_events,
    oee,
    quality_inspections,
    sensor_readings,
)
from manufacturing_assets.transforms import shots as shot_transforms
from manufacturing_assets.transforms.master_data import reference_for_dates

Frame = Any  # a pyspark.sql.DataFrame


def _nw(frame: Frame) -> nw.LazyFrame[Any]:
    return nw.from_native(frame)


def _native(frame: nw.LazyFrame[Any]) -> Frame:
    return nw.to_native(frame)


def conform(spark_table: Table, frame: Frame) -> Frame:
    """``Table.conform`` on Spark: the declared columns typed as declared (typed nulls for
    missing ones), extra columns kept only when the table is open."""
    from pyspark.sql import functions as F

    present = set(frame.columns)
    declared = [
        (F.col(c.name) if c.name in present else F.lit(None))
        .cast(spark_type(c.dtype))
        .alias(c.name)
        for c in spark_table.columns
    ]
    extra = (
        []
        if spark_table.open_columns is None
        else [F.col(c) for c in frame.columns if c not in spark_table.schema]
    )
    return frame.select(*declared, *extra)


def plant_day_values(spark_table: Table, plant: str, days: Iterable[date]) -> list[dict]:
    plant_col, day_col = spark_table.partitioning.columns
    return [{plant_col: plant, day_col: d} for d in sorted(set(days))]


@dataclass
class SparkLake:
    """The lake as Spark sees it: ``<root>/<layer>/<table>`` Delta tables."""

    spark: Any
    root: str
    storage_options: Mapping[str, str] = field(default_factory=dict)
    written: dict[str, list[SparkWriteResult]] = field(default_factory=dict)
    before_commit: Callable[[str], None] | None = None

    def uri(self, spark_table: Table) -> str:
        return f"{self.root.rstrip('/')}/{spark_table.layer}/{spark_table.name}"

    def read(self, spark_table: Table, partitions: Sequence[Mapping] | None = None) -> Frame:
        """Rows of ``partitions`` (None: all); a table not written yet reads as its typed
        empty frame."""
        frame = read_partitions(self.spark, self.uri(spark_table), partitions, self.storage_options)
        return frame if frame is not None else empty_frame(self.spark, spark_table.schema)

    def read_plant_days(self, spark_table: Table, plant: str, days: Iterable[date]) -> Frame:
        return self.read(spark_table, plant_day_values(spark_table, plant, days))

    def write(
        self, spark_table: Table, frame: Frame, partitions: Sequence[Mapping] | None
    ) -> SparkWriteResult:
        result = write_partitions(
            frame,
            self.uri(spark_table),
            None if partitions is None else list(partitions),
            partition_columns=spark_table.partitioning.columns,
            declared=spark_table.schema,
            storage_options=self.storage_options,
            table_name=spark_table.path,
            before_commit=self.before_commit,
        )
        self.written.setdefault(spark_table.path, []).append(result)
        return result

    def reference(self, entity: str) -> Frame:
        return self.read(table(f"reference/{entity}"))

    def reference_polars(self, entity: str) -> pl.DataFrame:
        """A master-data table on the driver (a few hundred rows: plants' time zones)."""
        frame = read_delta(f"{self.root.rstrip('/')}/reference/{entity}", self.storage_options)
        return frame if frame is not None else table(f"reference/{entity}").empty()

    def partitions_before(self, spark_table: Table, plant: str, before: date) -> list[dict]:
        """The table's partitions of ``plant`` dated before ``before`` (from the Delta log)."""
        delta = open_table(self.uri(spark_table), self.storage_options)
        if delta is None:
            return []
        import pyarrow as pa

        plant_col, day_col = spark_table.partitioning.columns
        actions = pa.table(delta.get_add_actions(flatten=True)).to_pylist()
        found = {
            (a[f"partition.{plant_col}"], a[f"partition.{day_col}"])
            for a in actions
            if a[f"partition.{plant_col}"] == plant and a[f"partition.{day_col}"] < before
        }
        return [{plant_col: p, day_col: d} for p, d in sorted(found)]


# ---------------------------------------------------------------- bronze


def bronze(
    lake: SparkLake,
    landing: LandingZone,
    stream: str,
    plants_dates: Mapping[str, Sequence[date]],
    ingested_at: datetime | None = None,
) -> SparkWriteResult:
    frame, _ = spark_bronze.read_bronze(
        lake.spark, landing, stream, plants_dates, ingested_at or datetime.now(UTC)
    )
    spark_table = BRONZE[stream]
    parts = [v for p, days in plants_dates.items() for v in plant_day_values(spark_table, p, days)]
    return lake.write(spark_table, frame, parts)


# ---------------------------------------------------------------- silver


def _window(days: Iterable[date], before: int, after: int) -> list[date]:
    return sorted({d + timedelta(days=k) for d in days for k in range(before, after + 1)})


def silver(lake: SparkLake, stream: str, plant: PlantDays) -> tuple[Frame, Frame]:
    """(silver, quarantine) of one stream for the plant's dates, from bronze D-1..D+1."""
    dates = list(plant.dates)
    rows = _nw(lake.read_plant_days(BRONZE[stream], plant.plant, _window(dates, -1, 1)))
    if stream == "sensor_readings":
        result: Any = sensor_readings.silver_sensor_readings(rows, plant.timezone, dates)
    elif stream == "shots":
        assignments = reference_for_dates(
            _nw(lake.reference("mold_assignments")), dates, plant.timezone
        )
        result = shot_transforms.silver_shots(rows, plant.timezone, dates, assignments)
    elif stream == "machine_events":
        result = machine_events.silver_machine_events(rows, plant.timezone, dates)
    else:
        result = quality_inspections.silver_quality_inspections(rows, plant.timezone, dates)
    return _native(result.silver), _native(result.quarantine)


def last_events(events: Frame) -> Frame:
    """Each machine's last event (``stages/silver.last_events``)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = Window.partitionBy("machine_id").orderBy(F.col("ts").desc())
    return (
        events.select(*EVENT_COLUMNS)
        .withColumn("_n", F.row_number().over(order))
        .filter(F.col("_n") == 1)
        .select(*EVENT_COLUMNS)
    )


def machine_state_intervals(lake: SparkLake, plant: PlantDays) -> Frame:
    dates = list(plant.dates)
    events_table, first = SILVER["machine_events"], min(dates) - timedelta(days=1)
    events = lake.read_plant_days(events_table, plant.plant, _window(dates, -1, 0))
    history = last_events(
        lake.read(events_table, lake.partitions_before(events_table, plant.plant, first))
    )
    activity = [
        lake.read_plant_days(SILVER[s], plant.plant, dates).select("machine_id", "production_date")
        for s in ("shots", "quality_inspections")
    ]
    all_events = history.select(*EVENT_COLUMNS).unionByName(events.select(*EVENT_COLUMNS))
    result = machine_events.machine_state_intervals(
        _nw(all_events),
        _nw(activity[0].unionByName(activity[1]).distinct()),
        plant.plant,
        plant.timezone,
        dates,
    )
    return conform(MACHINE_STATE_INTERVALS, _native(result))


# ---------------------------------------------------------------- gold


def _silver_reads(lake: SparkLake, plant: PlantDays) -> dict[str, nw.LazyFrame[Any]]:
    tables = {
        "intervals": MACHINE_STATE_INTERVALS,
        "events": SILVER["machine_events"],
        "shots": SILVER["shots"],
        "inspections": SILVER["quality_inspections"],
    }
    return {
        name: _nw(lake.read_plant_days(t, plant.plant, plant.dates).select(*_READS[name]))
        for name, t in tables.items()
    }


def _master(lake: SparkLake, entity: str, plant: PlantDays) -> nw.LazyFrame[Any]:
    return reference_for_dates(_nw(lake.reference(entity)), list(plant.dates), plant.timezone)


def gold(lake: SparkLake, name: str, plant: PlantDays) -> Frame:
    dates = list(plant.dates)
    if name == "sensor_hourly":
        silver_rows = lake.read_plant_days(SILVER["sensor_readings"], plant.plant, dates)
        return conform(GOLD[name], _native(sensor_readings.gold_sensor_hourly(_nw(silver_rows))))
    if name == "oee_daily":
        s = _silver_reads(lake, plant)
        result = oee.gold_oee_daily(
            s["intervals"],
            s["events"],
            s["shots"],
            s["inspections"],
            _master(lake, "molds", plant),
            plant.timezone,
            dates,
        )
        return conform(OEE_DAILY, _native(result))
    if name == "run_rate_hourly":
        s = _silver_reads(lake, plant)
        machines = oee.machine_days(s["events"], s["shots"], s["inspections"])
        result = oee.gold_run_rate_hourly(
            s["intervals"],
            s["shots"],
            _master(lake, "molds", plant),
            _master(lake, "mold_assignments", plant),
            plant.timezone,
            dates,
            machines,
        )
        return conform(RUN_RATE_HOURLY, _native(result))
    if name == "loss_daily":
        oee_rows = conform(OEE_DAILY, lake.read_plant_days(OEE_DAILY, plant.plant, dates))
        inspections = lake.read_plant_days(SILVER["quality_inspections"], plant.plant, dates)
        result = oee.gold_loss_daily(
            _nw(oee_rows),
            _nw(inspections.select(*_READS["inspections"])),
            _master(lake, "molds", plant),
            _master(lake, "parts", plant),
            _master(lake, "mold_parts", plant),
            _master(lake, "mold_assignments", plant),
            plant.timezone,
            dates,
        )
        return conform(LOSS_DAILY, _native(result))
    raise KeyError(name)


# ---------------------------------------------------------------- marts


def dimension(lake: SparkLake, name: str) -> Frame:
    """An SCD2 dimension rebuilt from every snapshot (``stages/marts.dimension``)."""
    if name == "mold":
        dim = dimensions.build_dim_mold(
            _nw(lake.reference("molds")), _nw(lake.reference("mold_parts"))
        )
    else:
        spec = dimensions.DIMENSIONS[name]
        dim = dimensions.build_dimension(_nw(lake.reference(spec.entity)), spec)
    return conform(DIMENSION_TABLES[name], _native(dim))


def dim_date(lake: SparkLake, first: date, last: date) -> Frame:
    days = lake.spark.sql(
        f"SELECT explode(sequence(DATE'{first.isoformat()}', DATE'{last.isoformat()}', "
        "INTERVAL 1 DAY)) AS date"
    )
    return conform(DIM_DATE, _native(dimensions.dim_date(_nw(days))))


def fact(lake: SparkLake, name: str, plant: PlantDays) -> Frame:
    source_path, transform = FACTS[name]
    source = conform(
        table(source_path), lake.read_plant_days(table(source_path), plant.plant, plant.dates)
    )
    dims = {
        d: _nw(conform(DIMENSION_TABLES[d], lake.read(DIMENSION_TABLES[d])))
        for d in fact_dimensions(name)
    }
    result = transform(_nw(source), facts.Dimensions(**dims))
    return conform(FACT_TABLES[name], _native(result))


# ---------------------------------------------------------------- the graph


def plants_of(lake: SparkLake, plants_dates: Mapping[str, Sequence[date]]) -> list[PlantDays]:
    from manufacturing_assets.ingest.reference import plant_timezones
    from manufacturing_assets.stages.plants import plant_days

    return plant_days(plants_dates, plant_timezones(lake.reference_polars("plants")))


def run_graph(
    lake: SparkLake,
    landing: LandingZone,
    plants_dates: Mapping[str, Sequence[date]],
    calendar: tuple[date, date] | None = None,
    layers: Sequence[str] = ("bronze", "silver", "gold", "marts"),
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, int]:
    """Materialize every plant x date asset (and the dimensions) for ``plants_dates`` on
    Spark, layer by layer, one plant at a time; returns rows written per table."""
    rows: dict[str, int] = {}

    def write(t: Table, frame: Frame, parts: Sequence[Mapping] | None) -> None:
        result = lake.write(t, frame, parts)
        rows[t.path] = rows.get(t.path, 0) + result.row_count
        log(f"{t.path}: {result.row_count} rows, {result.files} files, v{result.version}")

    if "bronze" in layers:
        for stream in STREAMS:
            write(
                BRONZE[stream],
                spark_bronze.read_bronze(
                    lake.spark, landing, stream, plants_dates, datetime.now(UTC)
                )[0],
                [
                    v
                    for p, ds in plants_dates.items()
                    for v in plant_day_values(BRONZE[stream], p, ds)
                ],
            )
    for plant in plants_of(lake, plants_dates):
        parts = plant_day_values(MACHINE_STATE_INTERVALS, plant.plant, plant.dates)
        if "silver" in layers:
            for stream in STREAMS:
                accepted, rejected = silver(lake, stream, plant)
                write(SILVER[stream], accepted, parts)
                write(QUARANTINE[stream], rejected, parts)
            write(MACHINE_STATE_INTERVALS, machine_state_intervals(lake, plant), parts)
        if "gold" in layers:
            for name in ("sensor_hourly", "oee_daily", "run_rate_hourly", "loss_daily"):
                write(GOLD[name], gold(lake, name, plant), parts)
    if "marts" in layers:
        for name in DIMENSION_TABLES:
            write(DIMENSION_TABLES[name], dimension(lake, name), None)
        if calendar is not None:
            write(DIM_DATE, dim_date(lake, *calendar), None)
        for plant in plants_of(lake, plants_dates):
            parts = plant_day_values(MACHINE_STATE_INTERVALS, plant.plant, plant.dates)
            for name in FACT_TABLES:
                write(FACT_TABLES[name], fact(lake, name, plant), parts)
    return rows
