"""Facts of the star schema (transforms/facts.py, stages/marts.py, assets/marts.py) and their referential
checks, on hand-made inputs: dimension versions as of each fact's production date."""

from datetime import UTC, date, datetime

import narwhals as nw
import polars as pl
import pytest
from dagster import (
    AssetCheckKey,
    AssetKey,
    AssetSpec,
    DagsterInstance,
    Definitions,
    MultiPartitionKey,
    materialize,
)
from polars.testing import assert_frame_equal

from manufacturing_assets.assets.marts import build_fact_asset, dimension_assets
from manufacturing_assets.catalogue import table
from manufacturing_assets.catalogue.gold import SENSOR_HOURLY
from manufacturing_assets.catalogue.marts import FACT_TABLES
from manufacturing_assets.checks.contracts import contract, validate
from manufacturing_assets.checks.dimensions import dimension_checks
from manufacturing_assets.checks.marts_logic import referential_violations
from manufacturing_assets.checks.plant_day import referential_check
from manufacturing_assets.contract import REFERENCE_ENTITIES, SHOT_MEASURES
from manufacturing_assets.io_managers.delta import (
    DeltaLakeIOManager,
    read_delta,
    write_delta_partitions,
)
from manufacturing_assets.partitions import plant_date_partitions
from manufacturing_assets.resources.engine import EngineResource
from manufacturing_assets.stages.marts import FACT_REFERENCES
from manufacturing_assets.stages.marts import FACTS as FACT_SOURCES
from manufacturing_assets.stages.marts import fact as compute_fact
from manufacturing_assets.transforms.dimensions import (
    DIMENSIONS,
    build_dim_mold,
    build_dimension,
    dim_date,
    surrogate_key,
)

D0, D1, D2 = date(2024, 3, 3), date(2024, 3, 4), date(2024, 3, 5)
FACTS = list(FACT_TABLES)
GOLD_SENSOR_HOURLY_SCHEMA = SENSOR_HOURLY.schema
POLARS = EngineResource(name="polars")

# ---------------------------------------------------------------- master data

MASTER: dict[str, dict[date, list[tuple]]] = {
    "plants": {
        D1: [("P01", "Plant 1", "EU", "DE", "Europe/Berlin")],
        D2: [("P01", "Plant 1", "EU", "DE", "Europe/Berlin")],
    },
    "lines": {
        D1: [("P01-L1", "P01", "Line 1"), ("P01-L2", "P01", "Line 2")],
        D2: [("P01-L1", "P01", "Line 1"), ("P01-L2", "P01", "Line 2")],
    },
    "machines": {
        D1: [("M1", "P01", "P01-L1", "hydraulic", "150"), ("M2", "P01", "P01-L1", "hybrid", "220")],
        # M1's tonnage changes on D2; M2 moves to line 2
        D2: [("M1", "P01", "P01-L1", "hydraulic", "220"), ("M2", "P01", "P01-L2", "hybrid", "220")],
    },
    "molds": {
        D1: [("MD-1", "4", "30", "CO-S01"), ("MD-2", "2", "20", "CO-S01")],
        D2: [("MD-1", "4", "30", "CO-S01"), ("MD-2", "2", "20", "CO-S01")],
    },
    "mold_parts": {
        D1: [("MD-1", "PT-1"), ("MD-2", "PT-2")],
        D2: [("MD-1", "PT-3"), ("MD-2", "PT-2")],  # MD-1 re-tooled to make PT-3
    },
    "parts": {
        D1: [
            ("PT-1", "Bezel", "0.50", "0.80", "CO-C01"),
            ("PT-2", "Louvre", "1.00", "1.50", "CO-C01"),
            ("PT-3", "Bezel v2", "0.60", "0.90", "CO-C01"),
        ]
    },
    "companies": {D1: [("CO-S01", "Formenbau", "supplier"), ("CO-C01", "Nordwagen", "customer")]},
}


def reference(entity: str) -> pl.DataFrame:
    columns = REFERENCE_ENTITIES[entity]
    rows = [
        {
            "snapshot_date": day,
            **dict(zip(columns, values, strict=True)),
            "source": f"reference/{entity}/snapshot_date={day}/{entity}.csv",
            "file_hash": "h",
            "line_number": i + 2,
            "ingested_at": datetime(2024, 3, 10, tzinfo=UTC),
        }
        for day, items in MASTER[entity].items()
        for i, values in enumerate(items)
    ]
    schema = {
        "snapshot_date": pl.Date,
        **dict.fromkeys(columns, pl.String),
        "source": pl.String,
        "file_hash": pl.String,
        "line_number": pl.Int64,
        "ingested_at": pl.Datetime("us", "UTC"),
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def lazy(frame: pl.DataFrame) -> nw.LazyFrame:
    return nw.from_native(frame.lazy())


def build_dims() -> dict[str, pl.DataFrame]:
    dims = {
        name: build_dimension(lazy(reference(spec.entity)), spec)
        .collect(backend="polars")
        .to_native()
        for name, spec in DIMENSIONS.items()
        if name != "mold"
    }
    dims["mold"] = (
        build_dim_mold(lazy(reference("molds")), lazy(reference("mold_parts")))
        .collect(backend="polars")
        .to_native()
    )
    days = pl.DataFrame({"date": pl.date_range(date(2024, 1, 1), date(2024, 12, 31), eager=True)})
    dims["date"] = dim_date(lazy(days)).collect(backend="polars").to_native()
    return dims


def sk(natural: str, valid_from: date) -> int:
    return surrogate_key(natural, valid_from)


def ts(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


# ---------------------------------------------------------------- upstream frames


def sensor_hourly() -> pl.DataFrame:
    rows = [
        ("P01", D0, "M1", ts(D0, 8)),  # before the first master-data snapshot
        ("P01", D1, "M1", ts(D1, 8)),
        ("P01", D1, "M1", ts(D1, 9)),
        ("P01", D2, "M1", ts(D2, 8)),
        ("P01", D2, "M2", ts(D2, 8)),
    ]
    frame = pl.DataFrame(
        [
            {
                "plant_id": p,
                "production_date": d,
                "machine_id": mach,
                "hour_start_utc": h,
                "readings": 10,
                "valid_readings": 9,
                **{
                    c: 1.0
                    for c in GOLD_SENSOR_HOURLY_SCHEMA
                    if c.endswith(("_avg", "_min", "_max"))
                },
                "vibration_mm_s_p95": 1.0,
            }
            for p, d, mach, h in rows
        ]
    )
    return frame.cast(GOLD_SENSOR_HOURLY_SCHEMA).select(list(GOLD_SENSOR_HOURLY_SCHEMA))  # type: ignore[arg-type]


def shots() -> pl.DataFrame:
    rows = [
        ("S1", D1, "M1", ts(D1, 8), "MD-1", "explicit", True),
        ("S2", D2, "M1", ts(D2, 8), "MD-1", "assignment", True),
        ("S3", D2, "M2", ts(D2, 9), None, "unresolved", False),
    ]
    return pl.DataFrame(
        [
            {
                "plant_id": "P01",
                "production_date": d,
                "shot_id": sid,
                "machine_id": mach,
                "ts": t,
                "mold_id": mold,
                "mold_source": src,
                "cycle_time_s": 31.2,
                "cushion_mm": 5.1,
                "injection_pressure_bar": 1450,  # an integer upstream: cast to Float64
                "melt_temp_c": 232.0,
                "mold_temp_c": 55.0,
                "shot_weight_g": 120.4,
                "is_resolved": resolved,
                "flags": "" if resolved else "unresolved_mold",
                "deliveries": 1,
                "source": "raw/shots/x.jsonl",
            }
            for sid, d, mach, t, mold, src, resolved in rows
        ],
        schema_overrides={"ts": pl.Datetime("us", "UTC")},
    )


def intervals() -> pl.DataFrame:
    rows = [
        (D1, "M1", "RUNNING", None, ts(D1, 0), ts(D1, 12), True),
        (D1, "M1", "DOWN", "HEATER_FAULT", ts(D1, 12), ts(D2, 0), False),
        (D2, "M1", "DOWN", "HEATER_FAULT", ts(D2, 0), ts(D2, 1), True),
    ]
    return pl.DataFrame(
        [
            {
                "plant_id": "P01",
                "production_date": d,
                "machine_id": mach,
                "state": st,
                "reason_code": rc,
                "start_ts": a,
                "end_ts": b,
                "duration_s": int((b - a).total_seconds()),  # integer upstream
                "carried_over": co,
            }
            for d, mach, st, rc, a, b, co in rows
        ],
        schema_overrides={
            "reason_code": pl.String,
            "start_ts": pl.Datetime("us", "UTC"),
            "end_ts": pl.Datetime("us", "UTC"),
        },
    )


def oee() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "plant_id": ["P01", "P01"],
            "production_date": [D1, D2],
            "machine_id": ["M1", "M1"],
            "planned_time_s": [86400, 86400],  # integers upstream: Float64 in the fact
            "run_time_s": [43200.0, 0.0],
            "availability": [0.5, 0.0],
            "shots": [1, 1],
            "unresolved_shots": [0, 0],
            "total_parts": [4, 4],
            "ideal_time_s": [30.0, 30.0],
            "performance": [30.0 / 43200.0, None],
            "rejected_parts": [1, 0],
            "good_parts": [3, 4],
            "quality": [0.75, 1.0],
            "oee": [0.5 * 30.0 / 43200.0 * 0.75, None],
        }
    )


UPSTREAM = {
    "fact_shot": shots,
    "fact_machine_state": intervals,
    "fact_sensor_hourly": sensor_hourly,
    "fact_oee_daily": oee,
}


def fact(name: str, upstream: pl.DataFrame | None = None, dims=None) -> pl.DataFrame:
    dims = dims or build_dims()
    needed = {d for d, _ in FACT_REFERENCES[name].values()} - {"date"}
    frame = UPSTREAM[name]() if upstream is None else upstream
    return compute_fact(POLARS, name, frame, {d: dims[d] for d in needed})


# ---------------------------------------------------------------- as-of keys


def test_tonnage_change_joins_version_1_on_day_1_and_version_2_on_day_2():
    dims = build_dims()
    out = fact("fact_sensor_hourly", dims=dims)
    tonnage = dict(dims["machine"].select("machine_sk", "tonnage").iter_rows())
    got = out.filter(pl.col("machine_id") == "M1").select(
        "production_date", "hour_start_utc", "machine_sk", "date_sk"
    )
    assert got.rows() == [
        (D0, ts(D0, 8), sk("M1", D1), 20240303),  # before any snapshot: earliest version
        (D1, ts(D1, 8), sk("M1", D1), 20240304),
        (D1, ts(D1, 9), sk("M1", D1), 20240304),
        (D2, ts(D2, 8), sk("M1", D2), 20240305),
    ]
    assert [tonnage[k] for k in got["machine_sk"]] == [150.0, 150.0, 150.0, 220.0]
    # plant and line unchanged: one version each
    assert set(out["plant_sk"]) == {sk("P01", D1)}
    m2 = out.filter(pl.col("machine_id") == "M2").row(0, named=True)
    assert (m2["line_id"], m2["line_sk"]) == ("P01-L2", sk("P01-L2", D1))  # M2 moved on D2
    assert validate(contract("marts/fact_sensor_hourly"), out)[0]


def test_fact_shot_takes_mold_and_part_as_of_the_shot_date():
    dims = build_dims()
    out = fact("fact_shot", dims=dims).sort("shot_id")
    assert_frame_equal(out, fact("fact_shot", dims=build_dims()).sort("shot_id"))  # re-run
    assert out.select(
        "shot_id", "mold_sk", "part_id", "part_sk", "parts", "ideal_cycle_time_s"
    ).rows() == [
        ("S1", sk("MD-1", D1), "PT-1", sk("PT-1", D1), 4, 30.0),
        ("S2", sk("MD-1", D2), "PT-3", sk("PT-3", D1), 4, 30.0),  # re-tooled mold: new version
        ("S3", None, None, None, None, None),  # unresolved mold: no mold, part or parts
    ]
    assert out.select("shot_id", "machine_sk", "line_sk").rows() == [
        ("S1", sk("M1", D1), sk("P01-L1", D1)),
        ("S2", sk("M1", D2), sk("P01-L1", D1)),
        ("S3", sk("M2", D2), sk("P01-L2", D1)),
    ]
    assert out.schema["injection_pressure_bar"] == pl.Float64
    assert "deliveries" not in out.columns and "source" not in out.columns
    assert set(SHOT_MEASURES) <= set(out.columns)
    passed, meta = validate(contract("marts/fact_shot"), out)
    assert passed, meta


def test_fact_machine_state_and_oee_daily_keys_and_types():
    dims = build_dims()
    states = fact("fact_machine_state", dims=dims)
    assert states.select("production_date", "state", "machine_sk", "duration_s").rows() == [
        (D1, "RUNNING", sk("M1", D1), 43200.0),
        (D1, "DOWN", sk("M1", D1), 43200.0),
        (D2, "DOWN", sk("M1", D2), 3600.0),
    ]
    assert validate(contract("marts/fact_machine_state"), states)[0]
    daily = fact("fact_oee_daily", dims=dims)
    assert daily.select(
        "production_date", "machine_sk", "planned_time_s", "total_parts"
    ).rows() == [
        (D1, sk("M1", D1), 86400.0, 4),
        (D2, sk("M1", D2), 86400.0, 4),
    ]
    assert daily.schema["planned_time_s"] == pl.Float64 and daily.schema["shots"] == pl.Int64
    assert validate(contract("marts/fact_oee_daily"), daily)[0]


@pytest.mark.parametrize("name", FACTS)
def test_empty_upstream_gives_an_empty_typed_fact(name):
    out = fact(name, upstream=pl.DataFrame())  # table not created yet
    assert out.height == 0
    assert validate(contract(f"marts/{name}"), out)[0]
    assert list(out.columns) == FACT_TABLES[name].column_names
    assert fact(name, upstream=table(FACT_SOURCES[name][0]).empty()).height == 0


# ---------------------------------------------------------------- referential checks


def test_referential_check_passes_on_good_facts_and_fails_on_bad_keys():
    dims = build_dims()
    for name in FACTS:
        counts = referential_violations(fact(name, dims=dims), dims, FACT_REFERENCES[name])
        assert all(v == 0 for c in counts.values() for v in c.values()), (name, counts)

    good = fact("fact_sensor_hourly", dims=dims)
    refs = FACT_REFERENCES["fact_sensor_hourly"]
    on_d2 = (pl.col("production_date") == D2) & (pl.col("machine_id") == "M1")
    dangling = good.with_columns(
        pl.when(on_d2)
        .then(pl.lit(12345, pl.Int64))
        .otherwise(pl.col("machine_sk"))
        .alias("machine_sk")
    )
    assert referential_violations(dangling, dims, refs)["machine_sk"] == {
        "dangling": 1,
        "missing": 0,
        "not_valid_on_date": 0,
    }
    # version 1 of M1 on day 2: exists, but is not the version valid that day
    stale = good.with_columns(
        pl.when(on_d2)
        .then(pl.lit(sk("M1", D1)))
        .otherwise(pl.col("machine_sk"))
        .alias("machine_sk")
    )
    assert referential_violations(stale, dims, refs)["machine_sk"]["not_valid_on_date"] == 1
    # a machine master data does not know: no key
    unknown = fact(
        "fact_sensor_hourly",
        upstream=sensor_hourly().with_columns(pl.lit("M9").alias("machine_id")).head(1),
        dims=dims,
    )
    counts = referential_violations(unknown, dims, refs)
    assert counts["machine_sk"]["missing"] == 1 and counts["line_sk"]["missing"] == 0
    # a date outside dim_date
    no_date = good.with_columns(pl.lit(20991231, pl.Int64).alias("date_sk"))
    assert referential_violations(no_date, dims, refs)["date_sk"]["dangling"] == good.height


# ---------------------------------------------------------------- Dagster, Delta end to end


def _write_inputs(lake: str) -> None:
    for entity in MASTER:
        write_delta_partitions(f"{lake}/reference/{entity}", reference(entity), None)
    for name, (source, _) in FACT_SOURCES.items():
        frame = UPSTREAM[name]()
        parts = [
            {"plant_id": p, "production_date": d}
            for p, d in frame.select("plant_id", "production_date").unique().iter_rows()
        ]
        write_delta_partitions(f"{lake}/{source}", frame, parts)


def test_marts_materialize_on_delta_with_checks(tmp_path):
    lake = str(tmp_path / "lake")
    _write_inputs(lake)
    specs = [AssetSpec(["reference", e]) for e in MASTER] + [
        AssetSpec(key, partitions_def=plant_date_partitions)
        for key in (
            ["silver", "shots"],
            ["silver", "machine_state_intervals"],
            ["gold", "sensor_hourly"],
            ["gold", "oee_daily"],
        )
    ]
    facts = [build_fact_asset(f) for f in FACTS]
    defs = [*specs, *dimension_assets, *facts, *dimension_checks()]
    resources = {"io_manager": DeltaLakeIOManager(root_uri=lake), "engine": POLARS}
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("plant", ["P01"])
        evaluations = []
        for day in (D2, D1):  # day 2 first: order of partitions does not matter
            key = str(MultiPartitionKey({"date": str(day), "plant": "P01"}))
            selection = [a.key for a in facts] + (
                [a.key for a in dimension_assets] if day == D2 else []
            )
            result = materialize(
                defs, selection=selection, partition_key=key, instance=instance, resources=resources
            )
            assert result.success
            evaluations += result.get_asset_check_evaluations()
    failed = [
        (e.asset_key.to_user_string(), e.check_name, e.metadata)
        for e in evaluations
        if not e.passed
    ]
    assert not failed
    names = {(e.asset_key.path[-1], e.check_name) for e in evaluations}
    assert ("dim_machine", "one_current_version") in names
    assert ("fact_shot", "referential_integrity") in names
    assert len(evaluations) == 1 + 3 * 6 + 2 * 2 * len(FACTS)

    hourly = read_delta(f"{lake}/marts/fact_sensor_hourly")
    assert hourly is not None
    m1 = hourly.filter(pl.col("machine_id") == "M1").sort("hour_start_utc")
    assert m1.select("production_date", "machine_sk").rows() == [
        (D1, sk("M1", D1)),
        (D1, sk("M1", D1)),
        (D2, sk("M1", D2)),
    ]  # D0 was never materialized
    dim = read_delta(f"{lake}/marts/dim_machine")
    assert dim is not None
    assert sorted(dim.select("machine_id", "valid_from", "valid_to").rows()) == [
        ("M1", D1, D2),
        ("M1", D2, None),  # tonnage 150 -> 220
        ("M2", D1, D2),
        ("M2", D2, None),  # moved to line 2
    ]

    # An older machines snapshot (D0) lands late: M1's first version now starts on D0, so
    # its key changes and the D1 facts built earlier point at a version that is gone. The
    # referential check of that partition fails until the fact is rematerialized.
    MASTER["machines"][D0] = MASTER["machines"][D1]
    try:
        write_delta_partitions(f"{lake}/reference/machines", reference("machines"), None)
    finally:
        del MASTER["machines"][D0]
    d1 = str(MultiPartitionKey({"date": str(D1), "plant": "P01"}))
    check = AssetCheckKey(AssetKey(["marts", "fact_sensor_hourly"]), "referential_integrity")
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("plant", ["P01"])
        assert materialize(
            defs,
            selection=[AssetKey(["marts", "dim_machine"])],
            instance=instance,
            resources=resources,
        ).success
        # the fact's plant-day check, on the tables as they are in the lake
        tables = {
            f"dim_{d}": read_delta(f"{lake}/marts/dim_{d}")
            for d in ("date", "line", "machine", "plant")
        }
        partition = read_delta(
            f"{lake}/marts/fact_sensor_hourly", predicate=f"production_date = '{D1}'"
        )
        check_def = referential_check(FACT_REFERENCES["fact_sensor_hourly"])
        outcome = check_def.evaluate({"table": partition, **tables})
        assert check_def.name == check.name
        assert not outcome.passed
        assert outcome.metadata["failing_keys"] == "machine_sk"
        assert outcome.metadata["violations"].value["machine_sk"]["dangling"] == 2
        fixed = materialize(
            defs,
            selection=[AssetKey(["marts", "fact_sensor_hourly"])],
            partition_key=d1,
            instance=instance,
            resources=resources,
        )
        evaluations = fixed.get_asset_check_evaluations()
        assert len(evaluations) == 2 and all(e.passed for e in evaluations)
    rebuilt = read_delta(f"{lake}/marts/fact_sensor_hourly")
    assert rebuilt is not None
    assert set(rebuilt.filter(pl.col("production_date") == D1)["machine_sk"]) == {sk("M1", D0)}


def test_definitions_load_with_marts():
    from manufacturing_assets.definitions import defs

    Definitions.validate_loadable(defs)
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    dims = {f"marts/dim_{d}" for d in (*DIMENSIONS, "date")}
    assert dims | {f"marts/{f}" for f in FACTS} <= keys  # silver/gold inputs all defined
    checks = {
        (k.asset_key.to_user_string(), k.name) for k in defs.resolve_asset_graph().asset_check_keys
    }
    assert ("marts/fact_shot", "referential_integrity") in checks
    assert ("marts/dim_mold", "one_current_version") in checks


@pytest.mark.integration
def test_facts_same_on_spark(spark):  # conftest: one session per test run
    # fact_shot is the superset: machine, line and plant keys, then mold and part
    dims = build_dims()
    needed = {d: dims[d] for d in ("plant", "line", "machine", "mold", "part")}
    local = compute_fact(POLARS, "fact_shot", shots(), needed)
    remote = compute_fact(EngineResource(name="spark"), "fact_shot", shots(), needed)
    assert_frame_equal(remote, local, check_row_order=False)


def test_automation_recomputes_facts_on_gold_updates_not_on_dimension_rebuilds():
    from dagster import AssetMaterialization, evaluate_automation_conditions

    specs = [AssetSpec(["reference", e]) for e in MASTER] + [
        AssetSpec(["gold", "sensor_hourly"], partitions_def=plant_date_partitions)
    ]
    fact_def = build_fact_asset("fact_sensor_hourly")
    defs = Definitions(assets=[*specs, *dimension_assets, fact_def], resources={"engine": POLARS})
    fact_key, dim_key = fact_def.key, AssetKey(["marts", "dim_machine"])
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("plant", ["P01"])
        result = evaluate_automation_conditions(defs, instance)
        assert result.total_requested == 0
        # master data re-read -> its dimension is rebuilt, facts are not touched
        instance.report_runless_asset_event(AssetMaterialization(["reference", "machines"]))
        result = evaluate_automation_conditions(defs, instance, cursor=result.cursor)
        assert result.get_num_requested(dim_key) == 1
        assert result.get_num_requested(fact_key) == 0
        # dimensions rebuilt and one gold partition updated -> exactly that fact partition
        for dim in dimension_assets:
            instance.report_runless_asset_event(AssetMaterialization(dim.key))
        d2 = str(MultiPartitionKey({"date": str(D2), "plant": "P01"}))
        instance.report_runless_asset_event(
            AssetMaterialization(["gold", "sensor_hourly"], partition=d2)
        )
        result = evaluate_automation_conditions(defs, instance, cursor=result.cursor)
        assert set(result.get_requested_partitions(fact_key)) == {d2}
        assert result.get_num_requested(dim_key) == 0
        # a dimension rebuild alone does not recompute every date ever processed
        instance.report_runless_asset_event(AssetMaterialization(dim_key))
        result = evaluate_automation_conditions(defs, instance, cursor=result.cursor)
        assert result.get_num_requested(fact_key) == 0
