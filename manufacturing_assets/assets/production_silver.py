"""Silver production streams: shots, machine events, quality inspections (+ quarantine),
and the machine state intervals derived from the events. Partition = plant x production date.

Like `assets/silver.py`: silver for date D reads the bronze landing folders D-1..D+1 and
keeps the records whose production date is D; rejected records go to
`quarantine/<stream>` with a reason. Transformations live in `transforms/` (Narwhals).
"""

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import polars as pl
from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetOut,
    BackfillPolicy,
    DimensionPartitionMapping,
    IdentityPartitionMapping,
    MetadataValue,
    MultiPartitionMapping,
    Output,
    ResourceParam,
    TimeWindowPartitionMapping,
    asset,
    multi_asset,
)

from manufacturing_assets.assets.common import (
    OWNERS,
    PARTITION_EXPR,
    QUARANTINE_SCHEMA,
    model_table_schema,
)
from manufacturing_assets.assets.silver import quarantine_share_check, require_timezones
from manufacturing_assets.automation import plant_day_automation_condition
from manufacturing_assets.checks.production_models import (
    SilverMachineEvents,
    SilverMachineStateIntervals,
    SilverQualityInspections,
    SilverShots,
)
from manufacturing_assets.contract import REFERENCE_ENTITIES
from manufacturing_assets.ingest.readers import bronze_columns
from manufacturing_assets.io_managers.delta import DeltaLakeIOManager, read_delta
from manufacturing_assets.partitions import (
    DATE_DIMENSION,
    PLANT_DIMENSION,
    neighbouring_days,
    plant_date_partitions,
    plants_and_dates,
)
from manufacturing_assets.resources.engine import EngineResource
from manufacturing_assets.transforms.machine_events import (
    machine_state_intervals,
    silver_machine_events,
)
from manufacturing_assets.transforms.master_data import reference_for_dates
from manufacturing_assets.transforms.quality_inspections import silver_quality_inspections
from manufacturing_assets.transforms.shots import silver_shots

SILVER_SHOTS = AssetKey(["silver", "shots"])
SILVER_EVENTS = AssetKey(["silver", "machine_events"])
SILVER_INSPECTIONS = AssetKey(["silver", "quality_inspections"])
SILVER_INTERVALS = AssetKey(["silver", "machine_state_intervals"])

# The intervals of day D need the machine's last state before D: declared as a real
# dependency on the events of D-1 and D (so a late file for D marks D+1 stale too).
previous_and_same_day = MultiPartitionMapping(
    {
        DATE_DIMENSION: DimensionPartitionMapping(
            dimension_name=DATE_DIMENSION,
            partition_mapping=TimeWindowPartitionMapping(
                start_offset=-1, end_offset=0, allow_nonexistent_upstream_partitions=True
            ),
        ),
        PLANT_DIMENSION: DimensionPartitionMapping(
            dimension_name=PLANT_DIMENSION, partition_mapping=IdentityPartitionMapping()
        ),
    }
)


def reference_frame(frame: pl.DataFrame, entity: str) -> pl.DataFrame:
    """A ``reference/<entity>`` table as loaded; an absent table becomes an empty one."""
    if frame.width:
        return frame
    schema = {"snapshot_date": pl.Date(), **{c: pl.String() for c in REFERENCE_ENTITIES[entity]}}
    return pl.DataFrame(schema=schema)


def plant_rows(frame: pl.DataFrame, plant: str, empty_schema: dict[str, Any]) -> pl.DataFrame:
    rows = frame.filter(pl.col("plant_id") == plant) if frame.width else frame
    return rows if rows.width else pl.DataFrame(schema=empty_schema)


def _silver_outs(stream: str, model: type, description: str, quarantine_desc: str) -> dict:
    return {
        "silver": AssetOut(
            key=["silver", stream],
            group_name="silver",
            automation_condition=plant_day_automation_condition(),
            owners=OWNERS,
            tags={"layer": "silver", "stream": stream, "domain": "production"},
            kinds={"polars", "delta"},
            metadata={
                "partition_expr": PARTITION_EXPR,
                "dagster/column_schema": model_table_schema(model),
            },
            description=description,
        ),
        "quarantine": AssetOut(
            key=["quarantine", stream],
            group_name="quarantine",
            automation_condition=plant_day_automation_condition(),
            owners=OWNERS,
            tags={"layer": "quarantine", "stream": stream, "domain": "production"},
            kinds={"polars", "delta"},
            metadata={"partition_expr": PARTITION_EXPR, "dagster/column_schema": QUARANTINE_SCHEMA},
            description=quarantine_desc,
        ),
    }


def _share_spec(key: AssetKey) -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec(
            "quarantine_share",
            asset=key,
            description="WARN when more than 5% of a partition's records are quarantined.",
        )
    ]


def _run_silver(
    context: AssetExecutionContext,
    engine: EngineResource,
    stream: str,
    asset_key: AssetKey,
    bronze: pl.DataFrame,
    plants: pl.DataFrame,
    transform: Callable[..., Any],
):
    """Per plant: bronze D-1..D+1 -> (silver, quarantine) for the run's dates; yields both
    outputs and the quarantine-share check. ``transform(rows, tz, dates, plant)``."""
    targets = plants_and_dates(context.partition_keys)
    tzs = require_timezones(plants, list(targets))
    silvers, quarantines, duplicates, extra = [], [], 0, set()
    for plant, dates in targets.items():
        rows = plant_rows(bronze, plant, bronze_columns(stream))
        if rows.is_empty():
            context.log.warning(f"no bronze {stream} for plant {plant} around {dates}")
        result = transform(engine.lazy(rows), tzs[plant], dates, plant)
        silver = engine.collect(result.silver)
        silvers.append(silver)
        quarantines.append(engine.collect(result.quarantine))
        extra.update(getattr(result, "extra_measures", []))
        duplicates += int(silver["deliveries"].sum() - silver.height) if silver.height else 0
    silver = pl.concat(silvers, how="diagonal_relaxed") if silvers else pl.DataFrame()
    quarantine = pl.concat(quarantines, how="diagonal_relaxed") if quarantines else pl.DataFrame()
    if extra:
        context.log.warning(
            f"schema changed: unknown {stream} keys kept as columns: {sorted(extra)}"
        )
    metadata: dict[str, Any] = {
        "flagged_rows": int((silver["flags"] != "").sum()) if silver.height else 0,
        "duplicates_removed": duplicates,
    }
    if stream == "shots":
        metadata["unknown_content_keys"] = MetadataValue.json(sorted(extra))
        metadata["unresolved_shots"] = int((~silver["is_resolved"]).sum()) if silver.height else 0
    yield Output(silver, output_name="silver", metadata=metadata)
    yield Output(quarantine, output_name="quarantine")
    yield quarantine_share_check(asset_key, silver.height, quarantine)


# --------------------------------------------------------------------------- shots


@multi_asset(
    outs=_silver_outs(
        "shots",
        SilverShots,
        "Validated injection-moulding shots, one row per shot_id and production date: the six "
        "content measures as numbers (unknown content keys kept as extra columns), the mold "
        "resolved (explicit mold_id, else the mold_assignments interval mounted at ts, from the "
        "snapshot valid for the production date; `unresolved_mold` when neither), `flags`, "
        "`deliveries` and lineage. Contract 3.2, 5, 7.",
        "Shot records rejected by silver, with the reason (first rule of contract section 7 that "
        "applies), a detail naming the field, the source and the raw payload.",
    ),
    ins={
        "bronze": AssetIn(key=["bronze", "shots"], partition_mapping=neighbouring_days),
        "plants": AssetIn(key=["reference", "plants"]),
        "mold_assignments": AssetIn(key=["reference", "mold_assignments"]),
    },
    partitions_def=plant_date_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    check_specs=_share_spec(SILVER_SHOTS),
    name="silver_shots",
)
def silver_shots_asset(
    context: AssetExecutionContext,
    engine: EngineResource,
    bronze: pl.DataFrame,
    plants: pl.DataFrame,
    mold_assignments: pl.DataFrame,
):
    assignments = engine.lazy(reference_frame(mold_assignments, "mold_assignments"))

    def transform(rows, tz: str, dates: list[date], plant: str):
        return silver_shots(rows, tz, dates, reference_for_dates(assignments, dates, tz))

    yield from _run_silver(context, engine, "shots", SILVER_SHOTS, bronze, plants, transform)


# --------------------------------------------------------------------------- machine events


@multi_asset(
    outs=_silver_outs(
        "machine_events",
        SilverMachineEvents,
        "Validated machine state changes, one row per (machine_id, ts instant): state in "
        "RUNNING/IDLE/DOWN/SETUP/PLANNED_STOP, reason_code, `flags`, `deliveries` and lineage. "
        "Contract 3.3, 5, 7.",
        "Machine-event records rejected by silver (including `invalid_state`), with the reason, "
        "a detail naming the field, the source and the raw payload.",
    ),
    ins={
        "bronze": AssetIn(key=["bronze", "machine_events"], partition_mapping=neighbouring_days),
        "plants": AssetIn(key=["reference", "plants"]),
    },
    partitions_def=plant_date_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    check_specs=_share_spec(SILVER_EVENTS),
    name="silver_machine_events",
)
def silver_machine_events_asset(
    context: AssetExecutionContext,
    engine: EngineResource,
    bronze: pl.DataFrame,
    plants: pl.DataFrame,
):
    def transform(rows, tz: str, dates: list[date], plant: str):
        return silver_machine_events(rows, tz, dates)

    yield from _run_silver(
        context, engine, "machine_events", SILVER_EVENTS, bronze, plants, transform
    )


# --------------------------------------------------------------------------- inspections


@multi_asset(
    outs=_silver_outs(
        "quality_inspections",
        SilverQualityInspections,
        "Validated quality inspections, one row per (machine_id, hour_start instant, part_id): "
        "hour_start in UTC, its plant-local date as production date, integer counts, "
        "`flags` and lineage. Contract 3.4, 5, 7.",
        "Inspection records rejected by silver (including `missing_part_id` and "
        "`invalid_count`), with the reason, a detail naming the field, the source and the raw "
        "payload.",
    ),
    ins={
        "bronze": AssetIn(
            key=["bronze", "quality_inspections"], partition_mapping=neighbouring_days
        ),
        "plants": AssetIn(key=["reference", "plants"]),
    },
    partitions_def=plant_date_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    check_specs=_share_spec(SILVER_INSPECTIONS),
    name="silver_quality_inspections",
)
def silver_quality_inspections_asset(
    context: AssetExecutionContext,
    engine: EngineResource,
    bronze: pl.DataFrame,
    plants: pl.DataFrame,
):
    def transform(rows, tz: str, dates: list[date], plant: str):
        return silver_quality_inspections(rows, tz, dates)

    yield from _run_silver(
        context, engine, "quality_inspections", SILVER_INSPECTIONS, bronze, plants, transform
    )


# --------------------------------------------------------------------------- intervals

INTERVAL_SCHEMA: dict[str, pl.DataType] = {
    "plant_id": pl.String(),
    "production_date": pl.Date(),
    "machine_id": pl.String(),
    "state": pl.String(),
    "reason_code": pl.String(),
    "start_ts": pl.Datetime("us", "UTC"),
    "end_ts": pl.Datetime("us", "UTC"),
    "duration_s": pl.Float64(),
    "carried_over": pl.Boolean(),
}
EVENT_COLUMNS = ["plant_id", "production_date", "machine_id", "ts", "state", "reason_code"]
EVENT_SCHEMA: dict[str, pl.DataType] = {
    "plant_id": pl.String(),
    "production_date": pl.Date(),
    "machine_id": pl.String(),
    "ts": pl.Datetime("us", "UTC"),
    "state": pl.String(),
    "reason_code": pl.String(),
}


def last_events_before(io_manager: Any, plant: str, before: date, log: Any = None) -> pl.DataFrame:
    """Each machine's last silver event with production date < ``before`` (all history).

    The partition mapping only brings D-1; a machine silent for longer still has a known
    state ("however many days back", contract 3.3), so the older history is read straight
    from the silver Delta table (a partition-pruned scan of one plant, only the last event
    per machine is kept). Needs the Delta IO manager that stores silver.
    """
    if not isinstance(io_manager, DeltaLakeIOManager):
        if log:
            log.warning(
                "io_manager is not the Delta IO manager: states carried from before D-1 are "
                "unknown (machines silent since then start the day IDLE)"
            )
        return pl.DataFrame(schema=EVENT_SCHEMA)
    quoted = "'" + plant.replace("'", "''") + "'"
    predicate = f"plant_id = {quoted} AND production_date < '{before.isoformat()}'"
    frame = read_delta(
        io_manager.table_uri(SILVER_EVENTS.path), io_manager.storage_options, predicate
    )
    if frame is None or frame.is_empty():
        return pl.DataFrame(schema=EVENT_SCHEMA)
    return (
        frame.select(EVENT_COLUMNS)
        .sort("machine_id", "ts")
        .group_by("machine_id", maintain_order=True)
        .last()
        .select(EVENT_COLUMNS)
    )


def _activity(frame: pl.DataFrame, plant: str) -> pl.DataFrame:
    schema = {"machine_id": pl.String(), "production_date": pl.Date()}
    if not frame.width or frame.is_empty():
        return pl.DataFrame(schema=schema)
    return frame.filter(pl.col("plant_id") == plant).select(list(schema)).unique()


@asset(
    key=SILVER_INTERVALS.path,
    group_name="silver",
    automation_condition=plant_day_automation_condition(),
    ins={
        "events": AssetIn(key=SILVER_EVENTS.path, partition_mapping=previous_and_same_day),
        "shots": AssetIn(key=SILVER_SHOTS.path),
        "inspections": AssetIn(key=SILVER_INSPECTIONS.path),
        "plants": AssetIn(key=["reference", "plants"]),
    },
    partitions_def=plant_date_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    owners=OWNERS,
    tags={"layer": "silver", "stream": "machine_events", "domain": "production"},
    kinds={"polars", "delta"},
    metadata={
        "partition_expr": PARTITION_EXPR,
        "dagster/column_schema": model_table_schema(SilverMachineStateIntervals),
    },
    description=(
        "Machine state intervals per plant-local day: each event's state lasts until the "
        "machine's next event, clipped at local midnight (day length 82,800 / 90,000 s on DST "
        "days); the day starts in the machine's last state before it, however many days back "
        "(`carried_over`; IDLE if it never reported). Machines: any event, shot or inspection "
        "that day, or any earlier event. Reads silver events of D-1..D (declared) and older "
        "events straight from the silver Delta table. Contract 3.3, 7."
    ),
)
def machine_state_intervals_asset(
    context: AssetExecutionContext,
    engine: EngineResource,
    io_manager: ResourceParam[Any],
    events: pl.DataFrame,
    shots: pl.DataFrame,
    inspections: pl.DataFrame,
    plants: pl.DataFrame,
) -> pl.DataFrame:
    targets = plants_and_dates(context.partition_keys)
    tzs = require_timezones(plants, list(targets))
    out = []
    for plant, dates in targets.items():
        window = plant_rows(events, plant, EVENT_SCHEMA)
        window = (
            window.select(EVENT_COLUMNS) if window.height else pl.DataFrame(schema=EVENT_SCHEMA)
        )
        history = last_events_before(io_manager, plant, min(dates) - timedelta(days=1), context.log)
        all_events = pl.concat([history, window], how="vertical_relaxed")
        active = pl.concat([_activity(shots, plant), _activity(inspections, plant)]).unique()
        result = machine_state_intervals(
            engine.lazy(all_events), engine.lazy(active), plant, tzs[plant], dates
        )
        out.append(engine.collect(result))
    frame = pl.concat(out, how="vertical_relaxed") if out else pl.DataFrame(schema=INTERVAL_SCHEMA)
    context.add_output_metadata(
        {
            "machines": frame.select("plant_id", "machine_id").n_unique() if frame.height else 0,
            "carried_over_intervals": int(frame["carried_over"].sum()) if frame.height else 0,
        }
    )
    return frame.sort("plant_id", "production_date", "machine_id", "start_ts")


production_silver_assets = [
    silver_shots_asset,
    silver_machine_events_asset,
    silver_quality_inspections_asset,
    machine_state_intervals_asset,
]
