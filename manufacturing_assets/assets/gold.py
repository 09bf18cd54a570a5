"""Gold assets: `gold/sensor_hourly`, `gold/oee_daily`, `gold/run_rate_hourly`,
`gold/loss_daily` (contract 6). Partition = plant x production date.

Each body is one call to :func:`run_gold`: the stage (``stages/gold.py``) runs per plant,
the pandera contract (WARN) per plant-day.
"""

from collections.abc import Callable, Iterator
from typing import Any

import polars as pl
from dagster import AssetExecutionContext, AssetIn, AssetKey, AssetsDefinition, Output, asset

from manufacturing_assets.assets.policies import table_asset
from manufacturing_assets.assets.runner import PlantDayRecords, plants_of_run
from manufacturing_assets.catalogue import Table
from manufacturing_assets.catalogue.gold import GOLD
from manufacturing_assets.catalogue.silver import SILVER
from manufacturing_assets.checks.plant_day import contract_check
from manufacturing_assets.resources.engine import EngineResource
from manufacturing_assets.stages import gold as stage
from manufacturing_assets.stages.plants import PlantDays, rows_of_plant, stack


def _ref(entity: str) -> AssetIn:
    return AssetIn(key=["reference", entity])


def _silver(name: str) -> AssetIn:
    return AssetIn(key=SILVER[name].key_path)


def _gold(name: str, **ins: AssetIn) -> dict[str, Any]:
    table = GOLD[name]
    check = contract_check(table, blocking=False)
    return {
        **table_asset(table),
        "ins": {**ins, "plants": _ref("plants")},
        "check_specs": [check.spec(AssetKey(table.key_path))],
    }


def run_gold(
    context: AssetExecutionContext,
    table: Table,
    plants: pl.DataFrame,
    compute: Callable[[PlantDays], pl.DataFrame],
) -> Iterator[Any]:
    """``compute(plant)`` for every plant of the run; one output, checks per plant-day."""
    records = PlantDayRecords(
        context, AssetKey(table.key_path), [contract_check(table, blocking=False)]
    )
    frames = []
    for plant in plants_of_run(context, plants):
        frame = compute(plant)
        records.check(plant, {"table": frame})
        frames.append(frame)
    yield Output(stack(frames, table.empty()))
    yield from records.results()


PRODUCTION_SILVER = {
    "intervals": _silver("machine_state_intervals"),
    "events": _silver("machine_events"),
    "shots": _silver("shots"),
    "inspections": _silver("quality_inspections"),
}


def _production(plant: str, **frames: pl.DataFrame) -> stage.ProductionSilver:
    return stage.ProductionSilver(**{k: rows_of_plant(f, plant) for k, f in frames.items()})


@asset(**_gold("sensor_hourly", silver=_silver("sensor_readings")))
def sensor_hourly(
    context: AssetExecutionContext,
    engine: EngineResource,
    silver: pl.LazyFrame,
    plants: pl.DataFrame,
):
    yield from run_gold(
        context,
        GOLD["sensor_hourly"],
        plants,
        lambda p: stage.sensor_hourly(engine, silver.filter(pl.col("plant_id") == p.plant)),
    )


def build_production_gold(
    name: str, compute: Callable[..., pl.DataFrame], master: tuple[str, ...]
) -> AssetsDefinition:
    """A gold table computed from the plant's silver production tables and ``master``
    data: ``compute(engine, silver, plant, **master frames)``."""

    @asset(**_gold(name, **PRODUCTION_SILVER, **{e: _ref(e) for e in master}))
    def _production_gold(
        context: AssetExecutionContext,
        engine: EngineResource,
        plants: pl.DataFrame,
        **inputs: pl.DataFrame,
    ):
        silver = {k: inputs.pop(k) for k in PRODUCTION_SILVER}
        yield from run_gold(
            context,
            GOLD[name],
            plants,
            lambda p: compute(engine, _production(p.plant, **silver), p, **inputs),
        )

    return _production_gold


oee_daily = build_production_gold("oee_daily", stage.oee_daily, ("molds",))
run_rate_hourly = build_production_gold(
    "run_rate_hourly", stage.run_rate_hourly, ("molds", "mold_assignments")
)


@asset(
    **_gold(
        "loss_daily",
        oee=AssetIn(key=GOLD["oee_daily"].key_path),
        inspections=_silver("quality_inspections"),
        molds=_ref("molds"),
        parts=_ref("parts"),
        mold_parts=_ref("mold_parts"),
        mold_assignments=_ref("mold_assignments"),
    )
)
def loss_daily(
    context: AssetExecutionContext,
    engine: EngineResource,
    oee: pl.DataFrame,
    inspections: pl.DataFrame,
    molds: pl.DataFrame,
    parts: pl.DataFrame,
    mold_parts: pl.DataFrame,
    mold_assignments: pl.DataFrame,
    plants: pl.DataFrame,
):
    master = {
        "molds": molds,
        "parts": parts,
        "mold_parts": mold_parts,
        "mold_assignments": mold_assignments,
    }
    yield from run_gold(
        context,
        GOLD["loss_daily"],
        plants,
        lambda p: stage.loss_daily(
            engine, rows_of_plant(oee, p.plant), rows_of_plant(inspections, p.plant), master, p
        ),
    )


gold_assets = [sensor_hourly, oee_daily, run_rate_hourly, loss_daily]
