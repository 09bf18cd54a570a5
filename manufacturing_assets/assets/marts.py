"""Mart assets: the star schema (contract 6.4).

Dimensions (`marts/dim_*`, unpartitioned) are SCD type 2 histories rebuilt from every
snapshot in `reference/<entity>` on each run (idempotent; late snapshots land in place);
`marts/dim_date` is the calendar of the date-partition range. Facts (`marts/fact_*`,
plant x production date) are silver/gold rows with the surrogate keys of the dimension
versions valid on their production date. Stages: ``stages/marts.py``; checks:
``checks/dimensions.py`` and, per plant-day, ``checks/plant_day.py``.
"""

from collections.abc import Iterator
from datetime import date
from typing import Any

import polars as pl
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetsDefinition,
    MetadataValue,
    Output,
    asset,
)

from manufacturing_assets.assets.policies import table_asset
from manufacturing_assets.assets.runner import PlantDayRecords, plants_of_run
from manufacturing_assets.catalogue import table
from manufacturing_assets.catalogue.marts import DIM_DATE, DIMENSION_TABLES, FACT_TABLES
from manufacturing_assets.checks.plant_day import contract_check, referential_check
from manufacturing_assets.partitions import START_DATE, date_partitions
from manufacturing_assets.resources.engine import EngineResource
from manufacturing_assets.stages import marts as stage
from manufacturing_assets.stages.plants import rows_of_plant, stack
from manufacturing_assets.transforms.dimensions import DIMENSIONS

# ---------------------------------------------------------------- dimensions


def _dimension_output(
    context: AssetExecutionContext, name: str, dim: pl.DataFrame, issues: pl.DataFrame
) -> pl.DataFrame:
    if issues.height:
        context.log.warning(
            f"{DIMENSIONS[name].entity}: {issues.height} snapshot row(s) not usable as sent "
            f"(missing/duplicate key, unparseable number); first: {issues.head(5).to_dicts()}"
        )
    examples = [{k: str(v) for k, v in r.items()} for r in issues.head(20).to_dicts()]
    context.add_output_metadata(
        {
            **stage.dimension_stats(name, dim, issues),
            "snapshot_issue_examples": MetadataValue.json(examples),
        }
    )
    return dim


def build_dimension_asset(name: str) -> AssetsDefinition:
    entity = DIMENSIONS[name].entity

    @asset(**table_asset(DIMENSION_TABLES[name]), ins={"reference": AssetIn(["reference", entity])})
    def _dimension(
        context: AssetExecutionContext, engine: EngineResource, reference: pl.DataFrame
    ) -> pl.DataFrame:
        return _dimension_output(context, name, *stage.dimension(engine, name, reference))

    return _dimension


@asset(
    **table_asset(DIMENSION_TABLES["mold"]),
    ins={
        "molds": AssetIn(key=["reference", "molds"]),
        "mold_parts": AssetIn(key=["reference", "mold_parts"]),
    },
)
def dim_mold(
    context: AssetExecutionContext,
    engine: EngineResource,
    molds: pl.DataFrame,
    mold_parts: pl.DataFrame,
) -> pl.DataFrame:
    return _dimension_output(context, "mold", *stage.dim_mold(engine, molds, mold_parts))


def calendar_range() -> tuple[date, date]:
    """From the first `date` partition to 31 December of the year after the last one.

    Facts only exist on partition dates, so every fact's `date_sk` has its row, and the
    margin keeps it so for a year even if `dim_date` is not rebuilt daily. Deriving the range
    from the facts instead would make `dim_date` depend on them while their referential
    checks depend on `dim_date`.
    """
    last = date_partitions.get_last_partition_key()
    end = date.fromisoformat(last) if last else date.today()
    return date.fromisoformat(START_DATE), date(end.year + 1, 12, 31)


@asset(**table_asset(DIM_DATE))
def dim_date(context: AssetExecutionContext, engine: EngineResource) -> pl.DataFrame:
    first, last = calendar_range()
    context.add_output_metadata({"first_date": str(first), "last_date": str(last)})
    return stage.dim_date(engine, first, last)


dimension_assets = [
    *(build_dimension_asset(n) for n in DIMENSION_TABLES if n != "mold"),
    dim_mold,
    dim_date,
]


# ---------------------------------------------------------------- facts


def run_fact(
    context: AssetExecutionContext,
    engine: EngineResource,
    name: str,
    source: pl.DataFrame,
    plants: pl.DataFrame,
    dims: dict[str, pl.DataFrame],
) -> Iterator[Any]:
    """The fact per plant of the run; contract and referential checks per plant-day."""
    fact_table = FACT_TABLES[name]
    references = stage.FACT_REFERENCES[name]
    checks = [contract_check(fact_table, blocking=False), referential_check(references)]
    records = PlantDayRecords(context, AssetKey(fact_table.key_path), checks)
    context_frames = {f"dim_{d}": frame for d, frame in dims.items()}
    frames = []
    for plant in plants_of_run(context, plants):
        frame = stage.fact(engine, name, rows_of_plant(source, plant.plant), dims)
        records.check(plant, {"table": frame}, context_frames)
        frames.append(frame)
    frame = stack(frames, fact_table.empty())
    missing = stage.rows_without_version(name, frame)
    if any(missing.values()):
        context.log.warning(f"{name}: rows without a dimension version: {missing}")
    yield Output(frame, metadata={"rows_without_version": MetadataValue.json(missing)})
    yield from records.results()


def build_fact_asset(name: str) -> AssetsDefinition:
    fact_table = FACT_TABLES[name]
    source_path, _ = stage.FACTS[name]
    dims = sorted({d for d, _ in stage.FACT_REFERENCES[name].values()})
    checks = [
        contract_check(fact_table, blocking=False),
        referential_check(stage.FACT_REFERENCES[name]),
    ]

    @asset(
        **table_asset(fact_table),
        ins={
            "source": AssetIn(key=table(source_path).key_path),
            "plants": AssetIn(key=["reference", "plants"]),
            **{f"dim_{d}": AssetIn(key=["marts", f"dim_{d}"]) for d in dims},
        },
        check_specs=[c.spec(AssetKey(fact_table.key_path)) for c in checks],
    )
    def _fact(
        context: AssetExecutionContext,
        engine: EngineResource,
        source: pl.DataFrame,
        plants: pl.DataFrame,
        **dimensions: pl.DataFrame,
    ):
        loaded = {k.removeprefix("dim_"): v for k, v in dimensions.items()}
        yield from run_fact(context, engine, name, source, plants, loaded)

    return _fact


fact_assets = [build_fact_asset(name) for name in FACT_TABLES]
mart_assets = [*dimension_assets, *fact_assets]
