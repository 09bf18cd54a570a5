"""SCD2 dimensions, the as-of join and the calendar (transforms/dimensions.py) and the
dimension checks (checks/marts_logic.py, checks/contracts.py), with hand-computed expectations."""

from datetime import UTC, date, datetime, timedelta

import narwhals as nw
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from manufacturing_assets.checks.contracts import contract, validate
from manufacturing_assets.checks.marts_logic import current_version_violations, overlapping_versions
from manufacturing_assets.contract import REFERENCE_ENTITIES
from manufacturing_assets.transforms.dimensions import (
    DIMENSIONS,
    as_of_join,
    build_dim_mold,
    build_dimension,
    dim_date,
    snapshot_issues,
    surrogate_key,
)

D0, D1, D2, D3, D4, D5 = (date(2024, 3, d) for d in range(1, 7))
MACHINE = DIMENSIONS["machine"]


def snapshots(entity: str, by_date: dict[date, list[tuple]]) -> pl.DataFrame:
    """A `reference/<entity>` frame: one snapshot per date, rows as text tuples."""
    columns = REFERENCE_ENTITIES[entity]
    rows = []
    for day, items in by_date.items():
        for i, values in enumerate(items):
            rows.append(
                {
                    "snapshot_date": day,
                    **dict(zip(columns, values, strict=True)),
                    "source": f"reference/{entity}/snapshot_date={day}/{entity}.csv",
                    "file_hash": "h",
                    "line_number": i + 2,
                    "ingested_at": datetime(2024, 3, 10, tzinfo=UTC),
                }
            )
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


def collect(frame: nw.LazyFrame) -> pl.DataFrame:
    return frame.collect(backend="polars").to_native()


def machines(*by_date: tuple[date, list[tuple]]) -> pl.DataFrame:
    return snapshots("machines", dict(by_date))


def m(machine_id: str, tonnage: str, line: str = "P01-L1") -> tuple:
    return (machine_id, "P01", line, "hydraulic", tonnage)


def versions(dim: pl.DataFrame, key: str, *cols: str) -> list[tuple]:
    return (
        dim.sort(key, "valid_from")
        .select(key, *cols, "valid_from", "valid_to", "is_current")
        .rows()
    )


def build_machines(reference: pl.DataFrame) -> pl.DataFrame:
    return collect(build_dimension(lazy(reference), MACHINE))


# ---------------------------------------------------------------- SCD2 semantics


def test_version_changes_only_when_an_attribute_changes():
    ref = machines(
        (D1, [m("M1", "150"), m("M2", "220")]),
        (D2, [m("M1", "150.0"), m("M2", "250")]),  # 150.0 == 150: no new version
        (D3, [m("M1", "150"), m("M2", "250")]),
    )
    dim = build_machines(ref)
    assert versions(dim, "machine_id", "tonnage") == [
        ("M1", 150.0, D1, None, True),
        ("M2", 220.0, D1, D2, False),
        ("M2", 250.0, D2, None, True),
    ]
    assert dim.schema["tonnage"] == pl.Float64
    assert dim.columns == [
        "machine_sk",
        "machine_id",
        "plant_id",
        "line_id",
        "machine_type",
        "tonnage",
        "valid_from",
        "valid_to",
        "is_current",
    ]
    assert dim["machine_sk"].to_list() == [
        surrogate_key("M1", D1),
        surrogate_key("M2", D1),
        surrogate_key("M2", D2),
    ]


def test_null_attribute_change_is_a_change_and_nulls_compare_equal():
    ref = machines(
        (D1, [("M1", "P01", "P01-L1", None, "150")]),
        (D2, [("M1", "P01", "P01-L1", None, "150")]),  # null == null: same version
        (D3, [("M1", "P01", "P01-L1", "hybrid", "150")]),  # null -> value: new version
    )
    assert versions(build_machines(ref), "machine_id", "machine_type") == [
        ("M1", None, D1, D3, False),
        ("M1", "hybrid", D3, None, True),
    ]


def test_disappeared_key_is_closed_not_deleted_and_reappears_as_new_version():
    ref = machines(
        (D1, [m("M1", "150"), m("M2", "220"), m("M3", "350")]),
        (D2, [m("M1", "150"), m("M2", "220"), m("M3", "350")]),
        (D3, [m("M1", "150")]),  # M2 and M3 missing
        (D4, [m("M1", "150"), m("M2", "220")]),  # M2 back, unchanged attributes
    )
    dim = build_machines(ref)
    assert versions(dim, "machine_id", "tonnage") == [
        ("M1", 150.0, D1, None, True),
        ("M2", 220.0, D1, D3, False),  # closed on the first snapshot without it
        ("M2", 220.0, D4, None, True),  # same attributes, but a new version
        ("M3", 350.0, D1, D3, False),  # gone for good: closed, no current row
    ]
    # the dimension checks agree: one current row per key of the latest snapshot
    assert current_version_violations(dim, ref, MACHINE).height == 0
    assert overlapping_versions(dim, "machine_id").height == 0


def test_out_of_order_snapshot_is_placed_by_its_date():
    d1 = (D1, [m("M1", "150")])
    d2 = (D2, [m("M1", "220")])  # the change really happened on D2 ...
    d3 = (D3, [m("M1", "220")])
    before = build_machines(machines(d1, d3))  # ... but D2's file lands after D3's
    assert versions(before, "machine_id", "tonnage") == [
        ("M1", 150.0, D1, D3, False),
        ("M1", 220.0, D3, None, True),
    ]
    late = pl.concat([machines(d1, d3), machines(d2)])  # D2 rows appended last
    after = build_machines(late)
    assert versions(after, "machine_id", "tonnage") == [
        ("M1", 150.0, D1, D2, False),
        ("M1", 220.0, D2, None, True),
    ]
    assert_frame_equal(after, build_machines(machines(d1, d2, d3)))
    # a late snapshot that changes nothing leaves the history (and keys) untouched
    same = build_machines(pl.concat([machines(d1, d3), machines((D2, [m("M1", "150")]))]))
    assert versions(same, "machine_id", "tonnage") == [
        ("M1", 150.0, D1, D3, False),
        ("M1", 220.0, D3, None, True),
    ]
    assert same["machine_sk"].to_list() == before["machine_sk"].to_list()


def test_rebuild_is_idempotent_and_row_order_independent():
    ref = machines(
        (D1, [m("M1", "150"), m("M2", "220")]),
        (D2, [m("M1", "180"), m("M2", "220")]),
        (D3, [m("M2", "220")]),
    )
    first = build_machines(ref)
    second = build_machines(ref)
    shuffled = build_machines(ref.sample(fraction=1.0, shuffle=True, seed=7))
    assert_frame_equal(first, second)
    assert_frame_equal(first, shuffled)


def test_unusable_snapshot_rows_are_reported_and_first_duplicate_wins():
    ref = machines(
        (D1, [m("M1", "150"), m("M1", "999"), m(None, "150"), m("M2", "heavy")]),
    )
    dim = build_machines(ref)
    assert versions(dim, "machine_id", "tonnage") == [
        ("M1", 150.0, D1, None, True),  # first row of the file wins
        ("M2", None, D1, None, True),  # unparseable number -> null
    ]
    issues = collect(snapshot_issues(lazy(ref), MACHINE)).sort("issue")
    assert issues.select("key", "issue").rows() == [
        ("M1", "duplicate_key"),
        (None, "missing_key"),
        ("M2", "unparseable:tonnage=heavy"),
    ]


def test_typed_attributes_of_every_dimension():
    plants = snapshots("plants", {D1: [("P01", "Plant 1", "EU", "DE", "Europe/Berlin")]})
    parts = snapshots("parts", {D1: [("PT-1", "Bezel", "0.50", "0.80", "CO-C01")]})
    companies = snapshots("companies", {D1: [("CO-S01", "Formenbau", "supplier")]})
    lines = snapshots("lines", {D1: [("P01-L1", "P01", "Line 1")]})
    built = {
        "plant": collect(build_dimension(lazy(plants), DIMENSIONS["plant"])),
        "part": collect(build_dimension(lazy(parts), DIMENSIONS["part"])),
        "company": collect(build_dimension(lazy(companies), DIMENSIONS["company"])),
        "line": collect(build_dimension(lazy(lines), DIMENSIONS["line"])),
    }
    assert built["part"].select("unit_cost", "unit_price").row(0) == (0.5, 0.8)
    for name, dim in built.items():
        passed, meta = validate(contract(f"marts/dim_{name}"), dim)
        assert passed, meta


# ---------------------------------------------------------------- dim_mold


def test_dim_mold_takes_part_from_mold_parts_as_of_each_snapshot():
    molds = snapshots(
        "molds",
        {
            D1: [("MD-1", "4", "30.0", "CO-S01"), ("MD-2", "2", "20", "CO-S02")],
            D2: [("MD-1", "4", "30.0", "CO-S01"), ("MD-2", "2", "20", "CO-S02")],
            D3: [("MD-1", "4.0", "30", "CO-S01"), ("MD-2", "2", "20", "CO-S02")],
            D4: [("MD-1", "8", "30", "CO-S01"), ("MD-2", "2", "20", "CO-S02")],
        },
    )
    # mold_parts snapshotted on other days: D2 (first), D3 (MD-2 re-tooled to PT-3) and
    # D5, a day without a molds snapshot (MD-2 re-tooled again, to PT-4)
    mold_parts = snapshots(
        "mold_parts",
        {
            D2: [("MD-1", "PT-1"), ("MD-2", "PT-2")],
            D3: [("MD-1", "PT-1"), ("MD-2", "PT-3")],
            D5: [("MD-1", "PT-1"), ("MD-2", "PT-4")],
        },
    )
    dim = collect(build_dim_mold(lazy(molds), lazy(mold_parts)))
    assert versions(dim, "mold_id", "cavities", "part_id") == [
        ("MD-1", 4, "PT-1", D1, D4, False),  # D1 precedes mold_parts: earliest mapping
        ("MD-1", 8, "PT-1", D4, None, True),
        ("MD-2", 2, "PT-2", D1, D3, False),
        ("MD-2", 2, "PT-3", D3, D5, False),  # a change of part is a new version ...
        ("MD-2", 2, "PT-4", D5, None, True),  # ... also on a day without a molds snapshot
    ]
    assert dim.schema["cavities"] == pl.Int64
    assert validate(contract("marts/dim_mold"), dim)[0]


# ---------------------------------------------------------------- as-of join


def test_as_of_join_picks_the_version_valid_on_each_date():
    dim = build_machines(
        machines(
            (D1, [m("M1", "150"), m("M2", "220")]),
            (D2, [m("M1", "180"), m("M2", "220"), m("M3", "350")]),  # M3 is new
            (D3, [m("M1", "180"), m("M3", "350")]),  # M2 closed on D3 ...
            (D5, [m("M1", "180"), m("M2", "220"), m("M3", "350")]),  # ... back on D5
        )
    )
    sk = {(r["machine_id"], r["valid_from"]): r["machine_sk"] for r in dim.iter_rows(named=True)}
    early = D0 - timedelta(days=5)
    facts = pl.DataFrame(
        {
            "row": list(range(13)),
            "machine_id": ["M1", "M1", "M1", "M1", "M2", "M2", None, "M9", "M3", "M3", "M3"]
            + ["M2", "M2"],
            "production_date": [early, D1, D2, D5, D2, D3, D2, D2, early, D1, D2, D4, D5],
        }
    )
    out = collect(
        as_of_join(
            lazy(facts),
            lazy(dim),
            "machine_id",
            "production_date",
            {"machine_sk": "machine_sk", "tonnage": "tonnage"},
        )
    ).sort("row")
    assert out.height == facts.height
    assert out.select("machine_sk", "tonnage").rows() == [
        (sk[("M1", D1)], 150.0),  # before the first snapshot: earliest version
        (sk[("M1", D1)], 150.0),
        (sk[("M1", D2)], 180.0),  # the change date takes the new version
        (sk[("M1", D2)], 180.0),  # after the last snapshot: current version
        (sk[("M2", D1)], 220.0),
        (None, None),  # M2 was closed on D3
        (None, None),  # null key
        (None, None),  # unknown key
        (None, None),  # M3 is not in the first snapshot, which a date before it reads
        (None, None),  # nor in D1's snapshot: it first appears on D2
        (sk[("M3", D2)], 350.0),
        (None, None),  # M2 still absent on D4 (the D3 snapshot is the latest)
        (sk[("M2", D5)], 220.0),  # reappeared: its new version
    ]


# ---------------------------------------------------------------- dim_date


def test_dim_date_calendar_attributes_match_python():
    days = pl.DataFrame({"date": pl.date_range(date(2019, 12, 20), date(2027, 1, 10), eager=True)})
    cal = collect(dim_date(lazy(days)))
    assert cal.height == days.height
    for row in cal.iter_rows(named=True):
        d = row["date"]
        iso = d.isocalendar()
        assert row["date_sk"] == int(d.strftime("%Y%m%d"))
        assert (row["iso_year"], row["iso_week"], row["weekday"]) == (iso[0], iso[1], iso[2])
        assert (row["year"], row["month"], row["day"]) == (d.year, d.month, d.day)
        assert row["quarter"] == (d.month - 1) // 3 + 1
        assert row["is_weekend"] == (iso[2] >= 6)
    assert validate(contract("marts/dim_date"), cal)[0]


# ---------------------------------------------------------------- dimension checks


def test_dimension_checks_catch_broken_histories():
    ref = machines((D1, [m("M1", "150"), m("M2", "220")]), (D2, [m("M1", "180")]))
    dim = build_machines(ref)
    assert current_version_violations(dim, ref, MACHINE).height == 0
    assert overlapping_versions(dim, "machine_id").height == 0
    assert validate(contract("marts/dim_machine"), dim)[0]

    # two current rows for M1 (the old version reopened): overlap + two current
    reopened = dim.with_columns(
        pl.when(pl.col("machine_id") == "M1")
        .then(None)
        .otherwise(pl.col("valid_to"))
        .alias("valid_to"),
        pl.when(pl.col("machine_id") == "M1")
        .then(True)
        .otherwise(pl.col("is_current"))
        .alias("is_current"),
    )
    bad = current_version_violations(reopened, ref, MACHINE)
    assert bad.select("machine_id", "current_rows", "in_latest_snapshot").rows() == [
        ("M1", 2, True)
    ]
    assert overlapping_versions(reopened, "machine_id").select(
        "machine_id", "valid_from"
    ).rows() == [("M1", D2)]
    # M2 left master data on D2: a current row for it is wrong
    revived = dim.with_columns(
        pl.when(pl.col("machine_id") == "M2")
        .then(None)
        .otherwise(pl.col("valid_to"))
        .alias("valid_to"),
        pl.when(pl.col("machine_id") == "M2")
        .then(True)
        .otherwise(pl.col("is_current"))
        .alias("is_current"),
    )
    assert current_version_violations(revived, ref, MACHINE)["machine_id"].to_list() == ["M2"]
    # is_current inconsistent with valid_to: the pandera model fails
    inconsistent = dim.with_columns(pl.lit(True).alias("is_current"))
    assert not validate(contract("marts/dim_machine"), inconsistent)[0]


# ---------------------------------------------------------------- Spark parity


@pytest.mark.integration
def test_dimensions_same_on_spark(spark):  # conftest: one session per test run
    from manufacturing_assets.resources.engine import EngineResource

    spark, local = EngineResource(name="spark"), EngineResource(name="polars")
    ref = machines(
        (D1, [m("M1", "150"), m("M2", "220"), m("M3", "x")]),
        (D2, [m("M1", "180"), m("M2", "220")]),
        (D4, [m("M1", "180"), m("M3", "350")]),
    )
    molds = snapshots(
        "molds", {D1: [("MD-1", "4", "30", "CO-S01")], D3: [("MD-1", "8", "30", "CO-S01")]}
    )
    mold_parts = snapshots("mold_parts", {D2: [("MD-1", "PT-1")]})
    days = pl.DataFrame({"date": pl.date_range(date(2020, 12, 20), date(2021, 1, 10), eager=True)})
    for engine in (local, spark):
        dim = engine.collect(build_dimension(engine.lazy(ref), MACHINE))
        facts = pl.DataFrame({"machine_id": ["M1", "M2", "M3"], "production_date": [D1, D3, D3]})
        results = (
            dim,
            engine.collect(build_dim_mold(engine.lazy(molds), engine.lazy(mold_parts))),
            engine.collect(dim_date(engine.lazy(days))),
            engine.collect(
                as_of_join(
                    engine.lazy(facts),
                    engine.lazy(dim),
                    "machine_id",
                    "production_date",
                    {"machine_sk": "machine_sk"},
                )
            ).sort("machine_id"),
            engine.collect(snapshot_issues(engine.lazy(ref), MACHINE)),
        )
        if engine is local:
            expected = results
        else:
            for got, want in zip(results, expected, strict=True):
                assert_frame_equal(got, want, check_row_order=False)
