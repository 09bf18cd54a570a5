"""Marts: the star schema (contract 6.4).

Dimensions (`marts/dim_*`, unpartitioned) are SCD type 2 histories rebuilt from every
snapshot in `reference/<entity>` on each run (idempotent, late snapshots land in place);
`marts/dim_date` is the calendar of the whole date-partition range. Facts (`marts/fact_*`,
plant x production date) are silver/gold rows with the surrogate keys of the dimension
versions valid on their production date. Transformations: `transforms/dimensions.py`,
`transforms/facts.py`; quality: `checks/mart_models.py`.
"""

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import polars as pl
from dagster import (
    AssetChecksDefinition,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    MetadataValue,
    asset,
)

from manufacturing_assets.assets.common import OWNERS, PARTITION_EXPR, model_table_schema
from manufacturing_assets.assets.gold import GOLD_SENSOR_HOURLY_SCHEMA
from manufacturing_assets.automation import (
    calendar_automation_condition,
    dimension_automation_condition,
    plant_day_automation_condition,
)
from manufacturing_assets.checks.mart_models import (
    DIMENSION_MODELS,
    FACT_MODELS,
    FACT_REFERENCES,
    DimDate,
    mart_checks,
)
from manufacturing_assets.contract import REFERENCE_ENTITIES, SHOT_MEASURES
from manufacturing_assets.partitions import START_DATE, date_partitions, plant_date_partitions
from manufacturing_assets.resources.engine import EngineResource
from manufacturing_assets.transforms import facts as fact_transforms
from manufacturing_assets.transforms.dimensions import (
    DIMENSIONS,
    FLOAT,
    INT,
    DimensionSpec,
    build_dim_mold,
    build_dimension,
    dim_date,
    snapshot_issues,
)
from manufacturing_assets.transforms.facts import OEE_FLOATS, OEE_INTS, Dimensions

MARTS = "marts"
TAGS = {"layer": "marts"}
_POLARS = {FLOAT: pl.Float64(), INT: pl.Int64()}
UTC = pl.Datetime("us", "UTC")


# ---------------------------------------------------------------- empty-input schemas


def reference_schema(entity: str) -> dict[str, pl.DataType]:
    return {
        "snapshot_date": pl.Date(),
        **{c: pl.String() for c in REFERENCE_ENTITIES[entity]},
        "line_number": pl.Int64(),
    }


def dimension_schema(spec: DimensionSpec) -> dict[str, pl.DataType]:
    return {
        spec.sk: pl.Int64(),
        spec.key: pl.String(),
        **{a: _POLARS.get(k, pl.String()) for a, k in spec.attributes.items()},
        "valid_from": pl.Date(),
        "valid_to": pl.Date(),
        "is_current": pl.Boolean(),
    }


def or_empty(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """A table that does not exist yet loads with no columns: use the typed empty frame."""
    return frame if frame.width else pl.DataFrame(schema=schema)


# Agreed upstream schemas (only the columns the facts read).
UPSTREAM_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "fact_shot": {
        "plant_id": pl.String(),
        "production_date": pl.Date(),
        "shot_id": pl.String(),
        "machine_id": pl.String(),
        "ts": UTC,
        "mold_id": pl.String(),
        "mold_source": pl.String(),
        "is_resolved": pl.Boolean(),
        **{m: pl.Float64() for m in SHOT_MEASURES},
        "flags": pl.String(),
    },
    "fact_machine_state": {
        "plant_id": pl.String(),
        "production_date": pl.Date(),
        "machine_id": pl.String(),
        "state": pl.String(),
        "reason_code": pl.String(),
        "start_ts": UTC,
        "end_ts": UTC,
        "duration_s": pl.Float64(),
        "carried_over": pl.Boolean(),
    },
    "fact_sensor_hourly": dict(GOLD_SENSOR_HOURLY_SCHEMA),
    "fact_oee_daily": {
        "plant_id": pl.String(),
        "production_date": pl.Date(),
        "machine_id": pl.String(),
        **{c: pl.Float64() for c in OEE_FLOATS},
        **{c: pl.Int64() for c in OEE_INTS},
    },
}


# ---------------------------------------------------------------- dimensions


def _dimension_metadata(
    context: AssetExecutionContext, dim: pl.DataFrame, spec: DimensionSpec, issues: pl.DataFrame
) -> None:
    if issues.height:
        context.log.warning(
            f"{spec.entity}: {issues.height} snapshot row(s) not usable as sent "
            f"(missing/duplicate key, unparseable number); first: {issues.head(5).to_dicts()}"
        )
    context.add_output_metadata(
        {
            "versions": dim.height,
            "keys": dim[spec.key].n_unique() if dim.height else 0,
            "current_rows": int(dim["is_current"].sum()) if dim.height else 0,
            "closed_keys": (
                dim.group_by(spec.key)
                .agg(pl.col("is_current").any())
                .filter(~pl.col("is_current"))
                .height
                if dim.height
                else 0
            ),
            "snapshot_issues": issues.height,
            "snapshot_issue_examples": MetadataValue.json(
                [{k: str(v) for k, v in r.items()} for r in issues.head(20).to_dicts()]
            ),
        }
    )


def _dimension_description(spec: DimensionSpec) -> str:
    attrs = ", ".join(f"`{a}`" for a in spec.attributes)
    return (
        f"SCD type 2 history of master data `{spec.entity}`, rebuilt from every snapshot in "
        f"`reference/{spec.entity}`: `{spec.sk}` (stable hash of `{spec.key}` + `valid_from`), "
        f"`{spec.key}`, {attrs}, `valid_from` (first snapshot of the version), `valid_to` "
        "(exclusive: the snapshot of the next change or of the key's disappearance; null "
        "while current), `is_current`. A version changes only when an attribute changes; a key "
        "missing from a snapshot is closed there and gets a new version if it reappears."
    )


def build_dimension_asset(spec: DimensionSpec) -> AssetsDefinition:
    @asset(
        key=[MARTS, spec.table],
        group_name=MARTS,
        ins={"reference": AssetIn(key=["reference", spec.entity])},
        automation_condition=dimension_automation_condition(),
        owners=OWNERS,
        tags={**TAGS, "domain": "master_data"},
        kinds={"polars", "delta"},
        metadata={"dagster/column_schema": model_table_schema(DIMENSION_MODELS[spec.name])},
        description=_dimension_description(spec),
    )
    def _dimension(
        context: AssetExecutionContext, engine: EngineResource, reference: pl.DataFrame
    ) -> pl.DataFrame:
        reference = or_empty(reference, reference_schema(spec.entity))
        issues = engine.collect(snapshot_issues(engine.lazy(reference), spec))
        dim = engine.collect(build_dimension(engine.lazy(reference), spec))
        _dimension_metadata(context, dim, spec, issues)
        return dim

    return _dimension


MOLD = DIMENSIONS["mold"]


@asset(
    key=[MARTS, MOLD.table],
    group_name=MARTS,
    ins={
        "molds": AssetIn(key=["reference", "molds"]),
        "mold_parts": AssetIn(key=["reference", "mold_parts"]),
    },
    automation_condition=dimension_automation_condition(),
    owners=OWNERS,
    tags={**TAGS, "domain": "master_data"},
    kinds={"polars", "delta"},
    metadata={"dagster/column_schema": model_table_schema(DIMENSION_MODELS["mold"])},
    description=_dimension_description(MOLD)
    + " `part_id` is the mold's part from `reference/mold_parts` as of each molds snapshot "
    "(the latest mold_parts snapshot on or before it); a change of part is a new version.",
)
def dim_mold(
    context: AssetExecutionContext,
    engine: EngineResource,
    molds: pl.DataFrame,
    mold_parts: pl.DataFrame,
) -> pl.DataFrame:
    molds = or_empty(molds, reference_schema("molds"))
    mold_parts = or_empty(mold_parts, reference_schema("mold_parts"))
    issues = engine.collect(snapshot_issues(engine.lazy(molds), MOLD))
    dim = engine.collect(build_dim_mold(engine.lazy(molds), engine.lazy(mold_parts)))
    _dimension_metadata(context, dim, MOLD, issues)
    return dim


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


@asset(
    key=[MARTS, "dim_date"],
    group_name=MARTS,
    automation_condition=calendar_automation_condition(),
    owners=OWNERS,
    tags={**TAGS, "domain": "calendar"},
    kinds={"polars", "delta"},
    metadata={"dagster/column_schema": model_table_schema(DimDate)},
    description=(
        "The calendar: one row per day from the first `date` partition (MA_START_DATE) to 31 "
        "December of the year after the last one, so every fact's `date_sk` (yyyymmdd of its "
        "production date) exists. Year, quarter, month, day, ISO year/week, ISO weekday "
        "(1 = Monday), is_weekend."
    ),
)
def dim_date_asset(context: AssetExecutionContext, engine: EngineResource) -> pl.DataFrame:
    start, end = calendar_range()
    days = pl.DataFrame({"date": pl.date_range(start, end, "1d", eager=True)})
    context.add_output_metadata({"first_date": str(start), "last_date": str(end)})
    return engine.collect(dim_date(engine.lazy(days)))


dimension_assets = [
    *(build_dimension_asset(s) for n, s in DIMENSIONS.items() if n != "mold"),
    dim_mold,
    dim_date_asset,
]


# ---------------------------------------------------------------- facts

FACT_SOURCES: dict[str, tuple[list[str], str]] = {
    "fact_shot": (["silver", "shots"], "One row per shot (`silver/shots`)"),
    "fact_machine_state": (
        ["silver", "machine_state_intervals"],
        "One row per machine-state interval (`silver/machine_state_intervals`)",
    ),
    "fact_sensor_hourly": (
        ["gold", "sensor_hourly"],
        "One row per plant, machine and UTC hour (`gold/sensor_hourly`)",
    ),
    "fact_oee_daily": (
        ["gold", "oee_daily"],
        "One row per plant, machine and production date (`gold/oee_daily`)",
    ),
}
FACT_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "fact_shot": fact_transforms.fact_shot,
    "fact_machine_state": fact_transforms.fact_machine_state,
    "fact_sensor_hourly": fact_transforms.fact_sensor_hourly,
    "fact_oee_daily": fact_transforms.fact_oee_daily,
}


def compute_fact(
    fact: str, engine: EngineResource, upstream: pl.DataFrame, dims: dict[str, pl.DataFrame]
) -> pl.DataFrame:
    """Run the fact transformation on the engine (empty inputs get their typed schema)."""
    upstream = or_empty(upstream, UPSTREAM_SCHEMAS[fact])
    lazy = {
        name: engine.lazy(or_empty(frame, dimension_schema(DIMENSIONS[name])))
        for name, frame in dims.items()
    }
    return engine.collect(FACT_FUNCTIONS[fact](engine.lazy(upstream), Dimensions(**lazy)))


def _fact_metadata(context: AssetExecutionContext, fact: str, frame: pl.DataFrame) -> None:
    missing = {
        sk: frame.filter(pl.col(natural).is_not_null() & pl.col(sk).is_null()).height
        for sk, (_, natural) in FACT_REFERENCES[fact].items()
        if frame.height
    }
    if any(missing.values()):
        context.log.warning(f"{fact}: rows without a dimension version: {missing}")
    context.add_output_metadata({"rows_without_version": MetadataValue.json(missing)})


def build_fact_asset(fact: str) -> AssetsDefinition:
    upstream_key, what = FACT_SOURCES[fact]
    dims = sorted({d for d, _ in FACT_REFERENCES[fact].values()} - {"date"})
    common: dict[str, Any] = {
        "key": [MARTS, fact],
        "group_name": MARTS,
        "ins": {
            "upstream": AssetIn(key=upstream_key),
            **{f"dim_{d}": AssetIn(key=[MARTS, f"dim_{d}"]) for d in dims},
        },
        "partitions_def": plant_date_partitions,
        "backfill_policy": BackfillPolicy.single_run(),
        "automation_condition": plant_day_automation_condition(),
        "owners": OWNERS,
        "tags": {**TAGS, "domain": "production"},
        "kinds": {"polars", "delta"},
        "metadata": {
            "partition_expr": PARTITION_EXPR,
            "dagster/column_schema": model_table_schema(FACT_MODELS[fact]),
        },
        "description": (
            f"{what} with the surrogate keys of the dimension versions valid on its production "
            f"date (contract 6.4, 7): {', '.join(FACT_REFERENCES[fact])}. Natural keys are kept."
        ),
    }
    if "mold" in dims:

        @asset(**common)
        def _shot_fact(
            context: AssetExecutionContext,
            engine: EngineResource,
            upstream: pl.DataFrame,
            dim_line: pl.DataFrame,
            dim_machine: pl.DataFrame,
            dim_mold: pl.DataFrame,
            dim_part: pl.DataFrame,
            dim_plant: pl.DataFrame,
        ) -> pl.DataFrame:
            loaded = {
                "plant": dim_plant,
                "line": dim_line,
                "machine": dim_machine,
                "mold": dim_mold,
                "part": dim_part,
            }
            frame = compute_fact(fact, engine, upstream, loaded)
            _fact_metadata(context, fact, frame)
            return frame

        return _shot_fact

    @asset(**common)
    def _machine_fact(
        context: AssetExecutionContext,
        engine: EngineResource,
        upstream: pl.DataFrame,
        dim_line: pl.DataFrame,
        dim_machine: pl.DataFrame,
        dim_plant: pl.DataFrame,
    ) -> pl.DataFrame:
        loaded = {"plant": dim_plant, "line": dim_line, "machine": dim_machine}
        frame = compute_fact(fact, engine, upstream, loaded)
        _fact_metadata(context, fact, frame)
        return frame

    return _machine_fact


fact_assets = [build_fact_asset(f) for f in FACT_SOURCES]
mart_assets = [*dimension_assets, *fact_assets]


def wired_marts(
    defined: Sequence[AssetsDefinition],
) -> tuple[list[AssetsDefinition], list[AssetChecksDefinition]]:
    """The mart assets (and their checks) a code location holding ``defined`` can load:
    every dimension, and each fact whose silver/gold input is among ``defined``.

    Facts read `silver/shots`, `silver/machine_state_intervals`, `gold/sensor_hourly` and
    `gold/oee_daily`; `Definitions` refuses an asset whose input no asset produces, so a
    fact joins the code location together with its input.
    """
    keys = {key for a in defined for key in a.keys}
    assets = [*dimension_assets] + [
        a
        for name, a in zip(FACT_SOURCES, fact_assets, strict=True)
        if AssetKey(FACT_SOURCES[name][0]) in keys
    ]
    wired = {key for a in assets for key in a.keys}
    checks = [c for c in mart_checks if all(k.asset_key in wired for k in c.check_keys)]
    return assets, checks
