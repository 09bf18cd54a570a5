"""Master data validated as a whole snapshot (issue 9, item 4).

A snapshot with a key listed twice, a required field missing, an unknown time zone, a plant
id with path characters, a number or timestamp that does not parse, or a value outside its
list is refused: every problem is named (file, line, field), ``reference/<entity>`` gets a
failed ``valid_snapshots`` check (ERROR), the refused rows never enter the table and the
previous snapshot stays in force for the silver time zones, the SCD2 dimensions and the
landing sensor's plant partitions alike. Nothing crashes.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from dagster import AssetCheckSeverity, AssetKey, instance_for_test, materialize

from manufacturing_assets.definitions import ASSETS
from manufacturing_assets.environment import Settings, build_resources
from manufacturing_assets.ingest.reference import (
    plant_timezones,
    read_reference,
    read_reference_snapshots,
)
from manufacturing_assets.io_managers.delta import read_delta
from manufacturing_assets.partitions import partition_key
from manufacturing_assets.pipeline import run_pipeline
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets_tests.helpers import jsonl, land, reading
from manufacturing_assets_tests.test_landing_sensor import Store, raw, tick

QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
PLANTS_HEADER = "plant_id,plant_name,region,country,timezone\n"
GOOD_PLANTS = (
    PLANTS_HEADER
    + "P01,Berlin Works,EMEA,DE,Europe/Berlin\nP02,Chicago Works,AMER,US,America/Chicago\n"
)
PATTERN = "^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"


def snapshot_key(entity: str, day: str = "2024-03-02") -> str:
    return f"reference/{entity}/snapshot_date={day}/{entity}.csv"


# ---------------------------------------------------------------- every rule, one snapshot each

CASES: dict[str, tuple[str, str, list[str]]] = {
    # name: (entity, CSV, problems as "line N, field: message")
    "plant listed twice": (
        "plants",
        PLANTS_HEADER + "P01,Berlin,EMEA,DE,Europe/Berlin\nP01,Berlin,EMEA,DE,America/Chicago\n",
        [
            "line 3, plant_id: plant_id='P01' is listed again (first on line 2): a snapshot "
            "names each plant once (it would get two time zones)"
        ],
    ),
    "blank plant id and missing time zone": (
        "plants",
        PLANTS_HEADER + "P01,Berlin,EMEA,DE,Europe/Berlin\n  ,Nowhere,EMEA,DE,UTC\nP02,x,y,z,\n",
        ["line 3, plant_id: missing (required)", "line 4, timezone: missing (required)"],
    ),
    "plant ids with path characters": (
        "plants",
        PLANTS_HEADER + "../x,a,b,c,UTC\n..%2F..,a,b,c,UTC\nP 1,a,b,c,UTC\n",
        [
            f"line 2, plant_id: plant id '../x' does not match {PATTERN}",
            f"line 3, plant_id: plant id '..%2F..' does not match {PATTERN}",
            f"line 4, plant_id: plant id 'P 1' does not match {PATTERN}",
        ],
    ),
    "unknown time zones": (
        "plants",
        PLANTS_HEADER + "P01,a,b,c,Europe/Berln\nP02,a,b,c,../../etc/passwd\nP03,a,b,c,CET+1\n",
        [
            "line 2, timezone: 'Europe/Berln' is not an IANA time zone",
            "line 3, timezone: '../../etc/passwd' is not an IANA time zone",
            "line 4, timezone: 'CET+1' is not an IANA time zone",
        ],
    ),
    "line of an unsafe plant": (
        "lines",
        "line_id,plant_id,line_name\nL1,P01,Line 1\nL2,P/01,Line 2\nL3,,Line 3\n",
        [f"line 3, plant_id: plant id 'P/01' does not match {PATTERN}"],
    ),
    "machine twice, tonnage not a number": (
        "machines",
        "machine_id,plant_id,line_id,machine_type,tonnage\n"
        "M1,P01,L1,hydraulic,150\nM2,P01,L1,hydraulic,n/a\nM1,P01,L1,hydraulic,220\n"
        "M3,P01,L1,hydraulic,\n",
        [
            "line 3, tonnage: 'n/a' is not a number",
            "line 4, machine_id: machine_id='M1' is listed again (first on line 2): a snapshot "
            "names each key once",
        ],
    ),
    "mold numbers": (
        "molds",
        "mold_id,cavities,ideal_cycle_time_s,supplier_id\n"
        "MD1,4,30.5,S1\nMD2,4.0,1e999,S1\nMD3,2.5,abc,S1\nMD4,,,\n",
        [
            "line 3, ideal_cycle_time_s: '1e999' is out of the range of a double",
            "line 4, cavities: '2.5' is not an integer",
            "line 4, ideal_cycle_time_s: 'abc' is not a number",
        ],
    ),
    "part prices": (
        "parts",
        'part_id,part_name,unit_cost,unit_price,customer_id\nPT1,a,1.50,2.50,C1\nPT2,b,"1,50",2,C1\n',
        ["line 3, unit_cost: '1,50' is not a number"],
    ),
    "mold making two parts, mold without part": (
        "mold_parts",
        "mold_id,part_id\nMD1,PT1\nMD1,PT2\nMD2,\n",
        [
            "line 3, mold_id: mold_id='MD1' is listed again (first on line 2): a snapshot "
            "names each key once",
            "line 4, part_id: missing (required)",
        ],
    ),
    "assignment timestamps": (
        "mold_assignments",
        "machine_id,mold_id,valid_from,valid_to\n"
        "M1,MD1,2024-03-01T06:00:00+01:00,\nM1,MD2,next monday,2024-13-01T00:00:00\n"
        "M2,,2024-03-01T06:00:00,\n",
        [
            "line 3, valid_from: 'next monday' is not an ISO-8601 timestamp",
            "line 3, valid_to: '2024-13-01T00:00:00' is not an ISO-8601 timestamp",
            "line 4, mold_id: missing (required)",
        ],
    ),
    "company type outside its list": (
        "companies",
        "company_id,company_name,company_type\nC1,a,supplier\nC2,b,vendor\nC3,c,\n",
        ["line 3, company_type: 'vendor' is not one of supplier, customer"],
    ),
    "a column missing": (
        "companies",
        "company_id,company_name\nC1,a\n",
        ["line 1: missing column(s) company_type"],
    ),
    "no rows": (
        "companies",
        "company_id,company_name,company_type\n",
        [": the snapshot has no rows"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_snapshot_with_a_bad_row_is_refused_naming_file_line_and_field(tmp_path, case) -> None:
    entity, text, problems = CASES[case]
    landing = LandingZone(root=str(tmp_path / "landing"))
    key = snapshot_key(entity)
    landing.write_bytes(key, text.encode())

    snapshots = read_reference_snapshots(landing, entity)

    assert snapshots.accepted == []
    assert [str(p) for p in snapshots.refused[key]] == [
        f"{key} {p}" if not p.startswith(":") else f"{key}{p}" for p in problems
    ]
    assert snapshots.frame.is_empty()
    frame, errors = read_reference(landing, entity)  # the plain reader agrees
    assert frame.is_empty() and list(errors) == [key]


def test_snapshots_of_the_generated_sample_are_all_accepted(tmp_path) -> None:
    from manufacturing_assets.contract import REFERENCE_ENTITIES
    from manufacturing_assets_tools.generator import GeneratorConfig, generate_landing_zone

    landing = LandingZone(root=str(tmp_path / "landing"))
    manifest = generate_landing_zone(landing, GeneratorConfig())
    for entity in REFERENCE_ENTITIES:
        snapshots = read_reference_snapshots(landing, entity)
        assert not snapshots.refused, entity
        expected = sum(s["rows"] for s in manifest["reference"][entity]["snapshots"].values())
        assert snapshots.frame.height == expected, entity


# ---------------------------------------------------------------- the previous snapshot in force


def run(selection: list[AssetKey], resources, instance, partition: str | None = None):
    return materialize(
        ASSETS,
        selection=selection,
        partition_key=partition,
        instance=instance,
        resources=resources,
        run_config=QUIET,
    )


def test_refused_plants_snapshot_leaves_the_previous_one_in_force(tmp_path, capsys) -> None:
    settings = Settings.from_env({"MA_DATA_DIR": str(tmp_path)})
    resources = build_resources(settings)
    landing = resources["landing"]
    good, bad = snapshot_key("plants", "2024-03-01"), snapshot_key("plants", "2024-03-02")
    landing.write_bytes(good, GOOD_PLANTS.encode())
    # P01 twice: the second row would move the plant to Chicago for its whole history
    landing.write_bytes(
        bad,
        (
            GOOD_PLANTS + "P01,Berlin Works,EMEA,DE,America/Chicago\n,Blank Works,EMEA,DE,UTC\n"
        ).encode(),
    )
    # one reading at 23:30 UTC on 03-04: 00:30 on 03-05 in Berlin, 17:30 on 03-04 in Chicago
    land(
        landing,
        "sensor_readings",
        "P01",
        "2024-03-04",
        "r.jsonl",
        jsonl([reading("P01-M001-T1", "2024-03-04T23:30:00+00:00")]),
    )
    plants, dim_plant = AssetKey(["reference", "plants"]), AssetKey(["marts", "dim_plant"])
    with instance_for_test() as instance:
        capsys.readouterr()
        result = run([plants, dim_plant], resources, instance)
        logged = capsys.readouterr().err
        assert result.success  # bad master data never fails the run

        # a failed ERROR check naming file, line and field
        (check,) = [e for e in result.get_asset_check_evaluations() if e.asset_key == plants]
        assert (check.check_name, check.passed, check.severity) == (
            "valid_snapshots",
            False,
            AssetCheckSeverity.ERROR,
        )
        metadata = {k: v.value for k, v in check.metadata.items()}
        assert metadata["accepted_snapshots"] == 1
        assert metadata["refused_snapshots"] == 1
        assert metadata["latest_accepted_snapshot"] == "2024-03-01"
        assert metadata["refused"] == {
            bad: f"{bad} line 4, plant_id: plant_id='P01' is listed again (first on line 2): "
            "a snapshot names each plant once (it would get two time zones); "
            f"{bad} line 5, plant_id: missing (required)"
        }
        assert f"{bad}: refused (2 problem(s)); previous snapshot stays in force" in logged

        # the refused rows are not in the table: 03-01 is in force for every date
        table = read_delta(f"{settings.lake_root}/reference/plants")
        assert table is not None
        assert table["snapshot_date"].unique().to_list() == [date(2024, 3, 1)]
        assert table["source"].unique().to_list() == [good]
        zones = plant_timezones(table)
        assert zones == {"P01": "Europe/Berlin", "P02": "America/Chicago"}

        # the SCD2 dimension reads the same snapshots: it agrees with the silver time zones
        dim = read_delta(f"{settings.lake_root}/marts/dim_plant")
        assert dim is not None
        current = {r["plant_id"]: r for r in dim.iter_rows(named=True)}
        assert dim.height == 2
        assert {p: r["timezone"] for p, r in current.items()} == zones
        assert all(
            r["valid_from"] == date(2024, 3, 1) and r["is_current"] for r in current.values()
        )

        # silver uses Berlin: the reading belongs to production date 03-05
        instance.add_dynamic_partitions("plant", sorted(zones))
        readings = AssetKey(["bronze", "sensor_readings"])
        assert run([readings], resources, instance, str(partition_key("P01", "2024-03-04"))).success
        silver = AssetKey(["silver", "sensor_readings"])
        quarantine = AssetKey(["quarantine", "sensor_readings"])
        for day in ("2024-03-04", "2024-03-05"):
            assert run(
                [silver, quarantine], resources, instance, str(partition_key("P01", day))
            ).success
        rows = read_delta(f"{settings.lake_root}/silver/sensor_readings")
        assert rows is not None
        assert rows.select("plant_id", "production_date").rows() == [("P01", date(2024, 3, 5))]

        # the snapshot corrected (landed again under its key): accepted, the check passes
        landing.write_bytes(bad, GOOD_PLANTS.replace("Chicago Works", "Chicago Plant").encode())
        again = run([plants, dim_plant], resources, instance)
        (check,) = [e for e in again.get_asset_check_evaluations() if e.asset_key == plants]
        assert check.passed
        table = read_delta(f"{settings.lake_root}/reference/plants")
        assert table is not None and table.height == 4
        dim = read_delta(f"{settings.lake_root}/marts/dim_plant")
        assert dim is not None
        assert dim.filter(pl.col("plant_id") == "P02")["plant_name"].sort().to_list() == [
            "Chicago Plant",
            "Chicago Works",
        ]


def test_a_blank_plant_id_never_crashes_the_run(tmp_path) -> None:
    """The whole pipeline over a plants snapshot with a blank plant id (and one naming a
    plant twice): both refused, the run completes on the previous snapshot."""
    settings = Settings.from_env({"MA_DATA_DIR": str(tmp_path)})
    landing = build_resources(settings)["landing"]
    landing.write_bytes(snapshot_key("plants", "2024-03-01"), GOOD_PLANTS.encode())
    landing.write_bytes(
        snapshot_key("plants", "2024-03-02"),
        (GOOD_PLANTS + ",Blank Works,EMEA,DE,Europe/Berlin\n").encode(),
    )
    land(
        landing,
        "sensor_readings",
        "P01",
        "2024-03-04",
        "r.jsonl",
        jsonl([reading("P01-M001-T1", "2024-03-04T10:00:00+01:00")]),
    )
    with instance_for_test() as instance:
        report = run_pipeline(settings, instance, log=lambda *_: None)
        assert sorted(instance.get_dynamic_partitions("plant")) == ["P01", "P02"]
    assert not report.failed_steps
    outcome = {
        (c["asset"], c["check"]): (c["passed"], c["severity"])
        for c in report.checks
        if c["asset"].startswith("reference/")
    }
    assert outcome[("reference/plants", "valid_snapshots")] == (False, "ERROR")
    assert all(v == (True, "ERROR") for k, v in outcome.items() if k[0] != "reference/plants")
    silver = read_delta(f"{settings.lake_root}/silver/sensor_readings")
    assert silver is not None and silver.height == 1


def test_the_landing_sensor_adds_plants_of_accepted_snapshots_only(tmp_path) -> None:
    settings = Settings.from_env({"MA_DATA_DIR": str(tmp_path)})
    store = Store(settings, build_resources(settings))
    landing = store.landing
    landing.write_bytes(snapshot_key("plants", "2024-03-01"), GOOD_PLANTS.encode())
    # refused: names P03 twice (two time zones)
    landing.write_bytes(
        snapshot_key("plants", "2024-03-02"),
        (GOOD_PLANTS + "P03,Pune,APAC,IN,Asia/Kolkata\nP03,Pune,APAC,IN,UTC\n").encode(),
    )
    p03_file = raw("shots", "P03", "2024-03-02", "s.jsonl")
    landing.write_bytes(p03_file, b'{"shot_id": "S1"}\n')
    with instance_for_test() as instance:
        first = tick(store, instance, None)
        assert sorted(instance.get_dynamic_partitions("plant")) == ["P01", "P02"]
        assert [list(r.partition_keys) for r in first.dynamic_partitions_requests] == [
            ["P01", "P02"]
        ]
        assert all(r.partition_key is None for r in first.run_requests)  # P03's file waits
        # master data corrected in a later snapshot: P03 becomes a partition, its file runs
        landing.write_bytes(
            snapshot_key("plants", "2024-03-03"),
            (GOOD_PLANTS + "P03,Pune,APAC,IN,Asia/Kolkata\n").encode(),
        )
        second = tick(store, instance, first.cursor)
        assert [list(r.partition_keys) for r in second.dynamic_partitions_requests] == [["P03"]]
        assert any(
            r.partition_key == partition_key("P03", "2024-03-02") for r in second.run_requests
        )


def test_plant_timezones_never_returns_an_unsafe_plant_id() -> None:
    """Defence in depth for a reference table written before snapshots were validated."""
    old = pl.DataFrame(
        {
            "snapshot_date": [date(2024, 3, 1)] * 3,
            "plant_id": ["P01", "../x", ""],
            "timezone": ["Europe/Berlin", "UTC", "UTC"],
        }
    )
    assert plant_timezones(old) == {"P01": "Europe/Berlin"}


def test_kafka_routing_and_cli_read_the_same_accepted_snapshots(tmp_path: Path) -> None:
    landing = LandingZone(root=str(tmp_path / "landing"))
    landing.write_bytes(snapshot_key("plants", "2024-03-01"), GOOD_PLANTS.encode())
    landing.write_bytes(
        snapshot_key("plants", "2024-03-02"),
        (PLANTS_HEADER + "P01,Berlin Works,EMEA,DE,America/Chicago\nP01,x,y,z,UTC\n").encode(),
    )
    frame, errors = read_reference(landing, "plants")
    assert plant_timezones(frame) == {"P01": "Europe/Berlin", "P02": "America/Chicago"}
    assert list(errors) == [snapshot_key("plants", "2024-03-02")]
