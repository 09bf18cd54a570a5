"""Silver stages: bronze D-1..D+1 of one plant -> (silver, quarantine) for its dates, and
the machine state intervals derived from silver events (contract 2, 3, 5, 7).

Transformations: ``transforms/sensor_readings.py``, ``shots.py``, ``machine_events.py``,
``quality_inspections.py``. Each stage takes and returns Polars frames.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import narwhals as nw
import polars as pl

from manufacturing_assets.catalogue.bronze import BRONZE
from manufacturing_assets.catalogue.silver import MACHINE_STATE_INTERVALS
from manufacturing_assets.stages.plants import Engine, PlantDays
from manufacturing_assets.transforms import machine_events, quality_inspections, sensor_readings
from manufacturing_assets.transforms import shots as shot_transforms
from manufacturing_assets.transforms.master_data import reference_for_dates

RAW_PAYLOAD = "raw_payload"
SILVER_BUCKET_ROWS = 1_250_000  # bronze rows per silver pass; bigger partitions are split
SHOT_BUCKET_ROWS = 250_000  # bronze shots per silver pass (the plan joins and windows)


@dataclass
class SilverOutput:
    """One silver pass: accepted rows, quarantined rows, unknown keys kept as columns."""

    silver: pl.DataFrame
    quarantine: pl.DataFrame
    extra_columns: list[str] = field(default_factory=list)


def device_buckets(n_rows: int, bucket_rows: int | None = None) -> int:
    return max(1, -(-n_rows // (bucket_rows or SILVER_BUCKET_ROWS)))


def device_bucket(buckets: int) -> pl.Expr:
    """A stable bucket per device (rows without a device share bucket of the empty id)."""
    return pl.col("device_id").fill_null("").hash(seed=7) % buckets


def silver_sensor_readings(
    engine: Engine, bronze: pl.LazyFrame, plant: PlantDays, bucket_rows: int | None = None
) -> Iterator[SilverOutput]:
    """Silver sensor readings of one plant, in device buckets when the partition is big
    (re-deliveries share a device, so buckets de-duplicate independently): bounded memory
    on any day. ``bronze`` is a lazy scan; only the columns the transformation needs are
    read."""
    rows = bronze.filter(pl.col("plant_id") == plant.plant)
    n_rows = rows.select(pl.len()).collect().item()
    if n_rows == 0:
        rows = BRONZE["sensor_readings"].empty().lazy()
    # the raw payload (most of bronze's bytes) is read for quarantined records only
    narrow = without_texts(rows, (RAW_PAYLOAD,))
    buckets = device_buckets(n_rows, bucket_rows)
    for k in range(buckets):
        part = narrow.filter(device_bucket(buckets) == k) if buckets > 1 else narrow
        result = sensor_readings.silver_sensor_readings(
            engine.lazy(part), plant.timezone, list(plant.dates)
        )
        silver, quarantine = collect_both(engine, result.silver, result.quarantine)
        yield SilverOutput(silver, with_raw_payload(quarantine, rows), list(result.extra_metrics))


def without_texts(bronze: pl.LazyFrame, columns: tuple[str, ...]) -> pl.LazyFrame:
    """``bronze`` with ``columns`` (wide texts a transformation does not read) as nulls:
    never read from the table, never copied through the plan."""
    present = [c for c in columns if c in bronze.collect_schema().names()]
    return bronze.drop(present).with_columns(pl.lit(None, pl.String).alias(c) for c in present)


def collect_both(engine: Engine, first: Any, second: Any) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Two results of one plan: on Polars in one pass (the scan, the parse and the checks
    they share run once), on another engine one after the other."""
    natives = [nw.to_native(first), nw.to_native(second)]
    if all(isinstance(n, pl.LazyFrame) for n in natives):
        one, two = pl.collect_all(natives, engine="streaming")
        return one, two
    return engine.collect(first), engine.collect(second)


def with_raw_payload(quarantine: pl.DataFrame, bronze: pl.LazyFrame) -> pl.DataFrame:
    """``quarantine`` with its ``raw_payload`` read back from ``bronze`` by lineage (the
    record's file, content hash and line), only from the files that have such records."""
    if quarantine.is_empty():
        return quarantine
    keys = ["landing_date", "source", "file_hash", "line_number"]
    wanted = quarantine.select(keys).unique()
    raw = (
        bronze.filter(pl.col("source").is_in(wanted["source"].unique().implode()))
        .select(*keys, RAW_PAYLOAD)
        .join(wanted.lazy(), on=keys, how="semi", nulls_equal=True)
        .collect()
    )
    if raw.select(keys).n_unique() != raw.height:  # lineage not unique: never guess
        raise ValueError("bronze lineage (file, hash, line) is not unique; cannot read payloads")
    out = quarantine.drop(RAW_PAYLOAD).join(
        raw, on=keys, how="left", nulls_equal=True, maintain_order="left"
    )
    return out.select(quarantine.columns)


def silver_shots(
    engine: Engine, bronze: pl.DataFrame, plant: PlantDays, mold_assignments: pl.DataFrame
) -> SilverOutput:
    """Shots with the mold resolved from the assignments snapshot valid on each date.

    A big partition is computed in buckets of shot ids (re-deliveries share the shot id,
    so each bucket de-duplicates on its own): memory is that of one bucket."""
    dates = list(plant.dates)
    assignments = reference_for_dates(engine.lazy(mold_assignments), dates, plant.timezone)
    # the transformation reads neither the raw line nor the content text (bronze opened it)
    narrow = without_texts(bronze.lazy(), (RAW_PAYLOAD, "content"))
    polars = getattr(engine, "name", "polars") == "polars"  # Spark spills on its own
    rows = bronze.height if polars and "shot_id" in bronze.columns else 0
    buckets = device_buckets(rows, SHOT_BUCKET_ROWS)
    # the bucket of the shot id as de-duplication reads it (trimmed; blank and null together)
    shot_key = pl.col("shot_id").cast(pl.String).str.strip_chars().fill_null("")
    silvers, quarantines, extra = [], [], []
    for k in range(buckets):
        part = narrow.filter(shot_key.hash(seed=7) % buckets == k) if buckets > 1 else narrow
        result = shot_transforms.silver_shots(engine.lazy(part), plant.timezone, dates, assignments)
        silver, quarantine = collect_both(engine, result.silver, result.quarantine)
        silvers.append(silver)
        quarantines.append(with_raw_payload(quarantine, bronze.lazy()))
        extra = list(result.extra_measures)
    if buckets == 1:
        return SilverOutput(silvers[0], quarantines[0], extra)
    return SilverOutput(
        pl.concat(silvers, how="diagonal_relaxed"),
        pl.concat(quarantines, how="diagonal_relaxed"),
        extra,
    )


def silver_machine_events(engine: Engine, bronze: pl.DataFrame, plant: PlantDays) -> SilverOutput:
    result = machine_events.silver_machine_events(
        engine.lazy(bronze), plant.timezone, list(plant.dates)
    )
    return SilverOutput(*collect_both(engine, result.silver, result.quarantine))


def silver_quality_inspections(
    engine: Engine, bronze: pl.DataFrame, plant: PlantDays
) -> SilverOutput:
    result = quality_inspections.silver_quality_inspections(
        engine.lazy(bronze), plant.timezone, list(plant.dates)
    )
    return SilverOutput(*collect_both(engine, result.silver, result.quarantine))


def silver_stats(frame: pl.DataFrame) -> dict[str, int]:
    """Counts a silver materialization reports: flagged rows, duplicates removed, and
    (where the table has them) invalid rows and unresolved shots."""
    if frame.is_empty():
        return {"flagged_rows": 0, "duplicates_removed": 0}
    stats = {
        "flagged_rows": int((frame["flags"] != "").sum()),
        "duplicates_removed": int(frame["deliveries"].sum() - frame.height),
    }
    if "is_valid" in frame.columns:
        stats["invalid_rows"] = int((~frame["is_valid"]).sum())
    if "is_resolved" in frame.columns:
        stats["unresolved_shots"] = int((~frame["is_resolved"]).sum())
    return stats


# ---------------------------------------------------------------- state intervals

EVENT_COLUMNS = ["plant_id", "production_date", "machine_id", "ts", "state", "reason_code"]


def last_events(events: pl.DataFrame) -> pl.DataFrame:
    """Each machine's last event (the state it is in after ``events``)."""
    return (
        events.select(EVENT_COLUMNS)
        .sort("machine_id", "ts")
        .group_by("machine_id", maintain_order=True)
        .last()
        .select(EVENT_COLUMNS)
    )


def _activity(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select("machine_id", "production_date").unique()


def machine_state_intervals(
    engine: Engine,
    events: pl.DataFrame,
    history: pl.DataFrame,
    shots: pl.DataFrame,
    inspections: pl.DataFrame,
    plant: PlantDays,
) -> pl.DataFrame:
    """State intervals of one plant's dates.

    ``events``: the plant's silver events of D-1..D; ``history``: each machine's last
    event before that window (:func:`last_events`; states carry over "however many days
    back", contract 3.3); ``shots``/``inspections``: the plant's silver rows of the dates
    (a machine with a shot or inspection gets a day even without events).
    """
    all_events = pl.concat(
        [history.select(EVENT_COLUMNS), events.select(EVENT_COLUMNS)], how="vertical_relaxed"
    )
    active = pl.concat([_activity(shots), _activity(inspections)]).unique()
    result = machine_events.machine_state_intervals(
        engine.lazy(all_events),
        engine.lazy(active),
        plant.plant,
        plant.timezone,
        list(plant.dates),
    )
    frame = MACHINE_STATE_INTERVALS.conform(engine.collect(result))
    return frame.sort("plant_id", "production_date", "machine_id", "start_ts")


def interval_stats(frame: pl.DataFrame) -> dict[str, Any]:
    return {
        "machines": frame.select("plant_id", "machine_id").n_unique() if frame.height else 0,
        "carried_over_intervals": int(frame["carried_over"].sum()) if frame.height else 0,
    }
