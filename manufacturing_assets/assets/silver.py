"""Silver assets: `silver/<stream>` and `quarantine/<stream>` (one multi-asset per stream),
and `silver/machine_state_intervals`. Partition = plant x production date.

Silver for date D reads the bronze landing folders D-1..D+1 (``neighbouring_days``) and
keeps the records whose production date is D. Each body is one call: the stage runs per
plant (``stages/silver.py``), checks run per plant-day (``checks/plant_day.py``).
"""

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import polars as pl
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetsDefinition,
    Output,
    ResourceParam,
    asset,
    multi_asset,
)

from manufacturing_assets.assets.policies import multi_asset_partitioning, table_asset, table_out
from manufacturing_assets.assets.runner import PlantDayRecords, day_stats, plants_of_run
from manufacturing_assets.catalogue.bronze import BRONZE
from manufacturing_assets.catalogue.quarantine import QUARANTINE
from manufacturing_assets.catalogue.silver import MACHINE_STATE_INTERVALS, SILVER
from manufacturing_assets.checks.plant_day import (
    QUARANTINE_SHARE,
    SILENT_DEVICES,
    PlantDayCheck,
    contract_check,
    quarantine_share_outcome,
)
from manufacturing_assets.io_managers.delta import (
    DeltaLakeIOManager,
    FrameChunks,
    read_delta,
    scan_delta,
)
from manufacturing_assets.ops.health import HISTORY_DAYS
from manufacturing_assets.partitions import neighbouring_days, previous_and_same_day
from manufacturing_assets.profiling import Stopwatch
from manufacturing_assets.resources.engine import EngineResource
from manufacturing_assets.resources.replay_ledger import ReplayLedger
from manufacturing_assets.stages import silver as stage
from manufacturing_assets.stages.plants import PlantDays, rows_of_plant, stack

PLANTS = AssetIn(key=["reference", "plants"])


def _bronze(stream: str) -> AssetIn:
    return AssetIn(key=BRONZE[stream].key_path, partition_mapping=neighbouring_days)


def _outs(stream: str) -> dict[str, Any]:
    return {"silver": table_out(SILVER[stream]), "quarantine": table_out(QUARANTINE[stream])}


def _checks(stream: str) -> list[PlantDayCheck]:
    health = [SILENT_DEVICES] if stream == "sensor_readings" else []
    return [contract_check(SILVER[stream], blocking=True), QUARANTINE_SHARE, *health]


def _specs(stream: str) -> list:
    key = AssetKey(SILVER[stream].key_path)
    return [c.spec(key) for c in _checks(stream)]


def _warn_extra(context: AssetExecutionContext, stream: str, extra: set[str]) -> None:
    if extra:
        context.log.warning(
            f"schema changed: unknown {stream} keys kept as columns: {sorted(extra)}"
        )


def replayed_origins(replay_ledger: ReplayLedger | None, stream: str) -> pl.DataFrame:
    """``origin`` (``source:line``) of the stream's quarantined records a replay re-landed."""
    origins = replay_ledger.replayed_origins(stream) if replay_ledger is not None else set()
    return pl.DataFrame({"origin": sorted(origins)}, schema={"origin": pl.String})


def run_silver(
    context: AssetExecutionContext,
    stream: str,
    plants: pl.DataFrame,
    compute: Callable[[PlantDays], stage.SilverOutput],
    replay_ledger: ReplayLedger | None = None,
) -> Iterator[Any]:
    """Per plant: ``compute(plant)`` -> (silver, quarantine); yields both outputs, per
    plant-day metadata and check evaluations."""
    records = PlantDayRecords(context, AssetKey(SILVER[stream].key_path), _checks(stream))
    replayed = replayed_origins(replay_ledger, stream)
    silvers, quarantines, extra = [], [], set()
    for plant in plants_of_run(context, plants):
        out = compute(plant)
        records.check(
            plant, {"table": out.silver, "quarantine": out.quarantine}, {"replayed": replayed}
        )
        records.add_metadata(plant, day_stats(out.silver, stage.silver_stats))
        silvers.append(out.silver)
        quarantines.append(out.quarantine)
        extra.update(out.extra_columns)
    _warn_extra(context, stream, extra)
    silver = stack(silvers, SILVER[stream].empty())
    metadata: dict[str, Any] = {f"run_total_{k}": v for k, v in stage.silver_stats(silver).items()}
    metadata["unknown_keys"] = sorted(extra)
    yield Output(silver, output_name="silver", metadata=metadata)
    yield Output(stack(quarantines, QUARANTINE[stream].empty()), output_name="quarantine")
    yield from records.results()


# ---------------------------------------------------------------- sensor readings


def _counted(frame: pl.DataFrame) -> dict[str, int]:
    return {**stage.silver_stats(frame), "rows": frame.height}


@multi_asset(
    name="silver_sensor_readings",
    outs=_outs("sensor_readings"),
    ins={"bronze": _bronze("sensor_readings"), "plants": PLANTS},
    check_specs=_specs("sensor_readings"),
    **multi_asset_partitioning(SILVER["sensor_readings"]),
)
def silver_sensor_readings(
    context: AssetExecutionContext,
    engine: EngineResource,
    io_manager: ResourceParam[Any],
    replay_ledger: ReplayLedger,
    bronze: pl.LazyFrame,
    plants: pl.DataFrame,
):
    yield from run_silver_sensor_readings(
        context, engine, bronze, plants, io_manager, replay_ledger
    )


DEVICE_COLUMNS = ["plant_id", "production_date", "device_id"]


def devices_before(io_manager: Any, plant: PlantDays, log: Any) -> pl.DataFrame:
    """(plant_id, production_date, device_id) of the silver readings of the ``HISTORY_DAYS``
    days before each of the plant's dates that the run does not compute itself, read from
    the silver table (partition-pruned, three columns, distinct)."""
    empty = pl.DataFrame(
        schema={"plant_id": pl.String, "production_date": pl.Date, "device_id": pl.String}
    )
    days = {d - timedelta(days=n) for d in plant.dates for n in range(1, HISTORY_DAYS + 1)} - set(
        plant.dates
    )
    if not days:
        return empty
    if not isinstance(io_manager, DeltaLakeIOManager):
        log.warning(
            "io_manager is not the Delta IO manager: silent_devices knows only the devices "
            "of the plant-days of this run"
        )
        return empty
    parts = [{"plant_id": plant.plant, "production_date": d} for d in sorted(days)]
    lazy = scan_delta(
        io_manager.table_uri(SILVER["sensor_readings"].key_path), io_manager.storage_options, parts
    )
    if lazy is None:
        return empty
    return lazy.select(DEVICE_COLUMNS).unique().collect().cast(empty.schema)  # type: ignore[arg-type]


def run_silver_sensor_readings(
    context: AssetExecutionContext,
    engine: EngineResource,
    bronze: pl.LazyFrame,
    plants: pl.DataFrame,
    io_manager: Any = None,
    replay_ledger: ReplayLedger | None = None,
) -> Iterator[Any]:
    """Like :func:`run_silver`, but silver is written chunk by chunk (device buckets of a
    big partition), checked chunk by chunk, never held whole."""
    stream = "sensor_readings"
    records = PlantDayRecords(context, AssetKey(SILVER[stream].key_path), _checks(stream))
    contract = records.checks[0].name if records.checks else None
    quarantines: list[pl.DataFrame] = []
    devices: dict[str, list[pl.DataFrame]] = {}  # plant -> distinct devices per day
    silver_rows: dict[tuple[str, date], int] = {}
    totals: dict[str, int] = {}
    extra: set[str] = set()
    targets = plants_of_run(context, plants)
    watch = Stopwatch()  # the Polars plan (parse, validate, de-duplicate) and the checks

    def chunks() -> Iterator[pl.DataFrame]:
        for plant in targets:
            per_day: dict[date, dict[str, int]] = {}
            outputs = stage.silver_sensor_readings(engine, bronze, plant)
            for out in watch.each("transform", outputs):
                if contract:
                    with watch.phase("checks"):
                        records.check(plant, {"table": out.silver}, only=[contract])
                for day, stats in day_stats(out.silver, _counted).items():
                    acc = per_day.setdefault(day, {})
                    for k, v in stats.items():
                        acc[k] = acc.get(k, 0) + v
                quarantines.append(out.quarantine)
                devices.setdefault(plant.plant, []).append(
                    out.silver.select(DEVICE_COLUMNS).unique()
                )
                extra.update(out.extra_columns)
                yield out.silver
            for day in plant.dates:
                silver_rows[(plant.plant, day)] = per_day.get(day, {}).pop("rows", 0)
            records.add_metadata(plant, per_day)
            for acc in per_day.values():
                for k, v in acc.items():
                    totals[k] = totals.get(k, 0) + v

    def metadata() -> dict[str, Any]:
        _warn_extra(context, stream, extra)
        return {
            **{f"run_total_{k}": v for k, v in totals.items()},
            "unknown_keys": sorted(extra),
            **watch.metadata(),  # seconds_transform, seconds_checks
        }

    # the IO manager writes (and so computes) the chunks when this output is yielded
    yield Output(FrameChunks(chunks(), SILVER[stream].schema, metadata), output_name="silver")
    quarantine = stack(quarantines, QUARANTINE[stream].empty())
    yield Output(quarantine, output_name="quarantine")
    if QUARANTINE_SHARE in records.checks:
        by_day = {
            (p, d): quarantine.filter((pl.col("plant_id") == p) & (pl.col("production_date") == d))
            for p, d in silver_rows
        }
        replayed = replayed_origins(replay_ledger, stream)["origin"].to_list()
        for (p, d), n in silver_rows.items():
            outcome = quarantine_share_outcome(n, by_day[(p, d)], replayed)
            records.record(QUARANTINE_SHARE.name, p, d, outcome)
    if SILENT_DEVICES in records.checks:
        for plant in targets:
            seen = [devices_before(io_manager, plant, context.log), *devices.get(plant.plant, [])]
            records.check(
                plant,
                {},
                {"devices": pl.concat(seen, how="vertical_relaxed")},
                only=[SILENT_DEVICES.name],
            )
    yield from records.results()


# ---------------------------------------------------------------- production streams


# stream -> (its stage, the master data it reads besides `reference/plants`)
SILVER_STAGES: dict[str, tuple[Callable[..., stage.SilverOutput], tuple[str, ...]]] = {
    "shots": (stage.silver_shots, ("mold_assignments",)),
    "machine_events": (stage.silver_machine_events, ()),
    "quality_inspections": (stage.silver_quality_inspections, ()),
}


def build_silver_asset(stream: str) -> AssetsDefinition:
    compute, master = SILVER_STAGES[stream]

    @multi_asset(
        name=f"silver_{stream}",
        outs=_outs(stream),
        ins={
            "bronze": _bronze(stream),
            "plants": PLANTS,
            **{entity: AssetIn(key=["reference", entity]) for entity in master},
        },
        check_specs=_specs(stream),
        **multi_asset_partitioning(SILVER[stream]),
    )
    def _silver(
        context: AssetExecutionContext,
        engine: EngineResource,
        replay_ledger: ReplayLedger,
        bronze: pl.DataFrame,
        plants: pl.DataFrame,
        **reference: pl.DataFrame,
    ):
        yield from run_silver(
            context,
            stream,
            plants,
            lambda p: compute(engine, rows_of_plant(bronze, p.plant), p, **reference),
            replay_ledger,
        )

    return _silver


silver_shots = build_silver_asset("shots")
silver_machine_events = build_silver_asset("machine_events")
silver_quality_inspections = build_silver_asset("quality_inspections")


# ---------------------------------------------------------------- state intervals

INTERVAL_CHECKS = [contract_check(MACHINE_STATE_INTERVALS, blocking=True)]
SILVER_EVENTS = SILVER["machine_events"]


def history_before(io_manager: Any, plant: str, before: date, log: Any) -> pl.DataFrame:
    """Each machine's last silver event with production date < ``before`` (all history).

    The partition mapping only brings D-1; a machine silent for longer still has a known
    state ("however many days back", contract 3.3), so the older history is read straight
    from the silver Delta table (a partition-pruned scan of one plant).
    """
    empty = SILVER_EVENTS.empty().select(stage.EVENT_COLUMNS)
    if not isinstance(io_manager, DeltaLakeIOManager):
        log.warning(
            "io_manager is not the Delta IO manager: states carried from before D-1 are "
            "unknown (machines silent since then start the day IDLE)"
        )
        return empty
    quoted = "'" + plant.replace("'", "''") + "'"
    predicate = f"plant_id = {quoted} AND production_date < '{before.isoformat()}'"
    frame = read_delta(
        io_manager.table_uri(SILVER_EVENTS.key_path), io_manager.storage_options, predicate
    )
    if frame is None or frame.is_empty():
        return empty
    return stage.last_events(frame)


@asset(
    **table_asset(MACHINE_STATE_INTERVALS),
    ins={
        "events": AssetIn(key=SILVER_EVENTS.key_path, partition_mapping=previous_and_same_day),
        "shots": AssetIn(key=SILVER["shots"].key_path),
        "inspections": AssetIn(key=SILVER["quality_inspections"].key_path),
        "plants": PLANTS,
    },
    check_specs=[c.spec(AssetKey(MACHINE_STATE_INTERVALS.key_path)) for c in INTERVAL_CHECKS],
)
def machine_state_intervals(
    context: AssetExecutionContext,
    engine: EngineResource,
    io_manager: ResourceParam[Any],
    events: pl.DataFrame,
    shots: pl.DataFrame,
    inspections: pl.DataFrame,
    plants: pl.DataFrame,
):
    records = PlantDayRecords(context, AssetKey(MACHINE_STATE_INTERVALS.key_path), INTERVAL_CHECKS)
    out = []
    for plant in plants_of_run(context, plants):
        history = history_before(
            io_manager, plant.plant, min(plant.dates) - timedelta(days=1), context.log
        )
        frame = stage.machine_state_intervals(
            engine,
            rows_of_plant(events, plant.plant),
            history,
            rows_of_plant(shots, plant.plant),
            rows_of_plant(inspections, plant.plant),
            plant,
        )
        records.check(plant, {"table": frame})
        records.add_metadata(plant, day_stats(frame, stage.interval_stats))
        out.append(frame)
    frame = stack(out, MACHINE_STATE_INTERVALS.empty())
    yield Output(
        frame,
        metadata={f"run_total_{k}": v for k, v in stage.interval_stats(frame).items()},
    )
    yield from records.results()


silver_assets = [
    silver_sensor_readings,
    silver_shots,
    silver_machine_events,
    silver_quality_inspections,
    machine_state_intervals,
]
