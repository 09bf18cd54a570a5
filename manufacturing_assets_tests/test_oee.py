"""Gold oee_daily / run_rate_hourly / loss_daily end to end: landed files -> bronze -> silver
-> gold through ``dagster.materialize`` with the real Delta IO manager, against numbers
computed by hand for the scenario of ``test_production_transforms`` (docstring there).

P01-M001 on 2024-03-31 (Europe/Berlin, 82,800 s):
    planned   = 82,800 - 3,600 (PLANNED_STOP)                     = 79,200 s
    run       = 18,000 (carried over midnight) + 14,400 + 25,200  = 57,600 s
    shots     = 7 (S1..S7), unresolved 1 (S3)
    parts     = MD-A x3 shots (S1, S2, S7) x 2 + MD-B x3 (S4, S5, S6) x 4   = 18
    ideal     = 3 x 30 + 3 x 40 (MD-B is 40 s in the 2024-03-31 snapshot) = 210 s
    rejected  = 2 + 0 + 1 = 3; good = 15
    mounted most of the day: MD-B 16.5 h (05:30Z-22:00Z) vs MD-A 6 h -> PT-B
    scrap     = 2 x 0.50 (PT-B) + 1 x 0.20 (PT-A)                  = 1.20
    downtime  = (79,200 - 57,600) / 40 x 4 x (1.25 - 0.50)          = 1,620.00
P01-M002: no state ever reported (IDLE all day), two explicit MD-A shots: run time 0 ->
performance and OEE null, quality 4/4.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance, materialize
from polars.testing import assert_frame_equal

from manufacturing_assets.assets.bronze import bronze_assets
from manufacturing_assets.assets.gold import loss_daily, oee_daily, run_rate_hourly
from manufacturing_assets.assets.reference import reference_assets
from manufacturing_assets.assets.silver import (
    SILVER_EVENTS,
    machine_state_intervals,
    silver_machine_events,
    silver_quality_inspections,
    silver_shots,
)
from manufacturing_assets.contract import REFERENCE_ENTITIES
from manufacturing_assets.io_managers.delta import DeltaLakeIOManager, read_delta
from manufacturing_assets.partitions import PLANT_DIMENSION, partition_key, plant_date_partitions
from manufacturing_assets.pipeline import QUIET
from manufacturing_assets.resources.engine import EngineResource
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets.resources.replay_ledger import ReplayLedger
from manufacturing_assets_tests.test_production_transforms import (
    DAY,
    M1,
    M2,
    M3,
    PREV,
    write_landing_zone,
)

PRODUCTION_SILVER = [silver_shots, silver_machine_events, silver_quality_inspections]
DEFS = [*reference_assets, *bronze_assets, *PRODUCTION_SILVER, machine_state_intervals]
DEFS += [oee_daily, run_rate_hourly, loss_daily]
BRONZE = [AssetKey(["bronze", s]) for s in ("shots", "machine_events", "quality_inspections")]
EVENTS = [AssetKey(["silver", "machine_events"]), AssetKey(["quarantine", "machine_events"])]
# silver shots .. gold loss_daily (events of D-1 and D are materialized before)
PRODUCTION = [
    key for a in DEFS[len(reference_assets) + len(bronze_assets) :] for key in a.keys
    if key not in EVENTS
]  # fmt: skip
TABLES = [
    ("silver", "shots"),
    ("silver", "machine_events"),
    ("silver", "quality_inspections"),
    ("silver", "machine_state_intervals"),
    ("quarantine", "shots"),
    ("quarantine", "machine_events"),
    ("quarantine", "quality_inspections"),
    ("gold", "oee_daily"),
    ("gold", "run_rate_hourly"),
    ("gold", "loss_daily"),
]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class Lake:
    """A landing zone and a Delta lake on tmp_path, and one Dagster instance."""

    def __init__(self, root: Path) -> None:
        self.lake = str(root / "lake")
        self.resources = {
            "landing": LandingZone(root=str(root / "landing")),
            "io_manager": DeltaLakeIOManager(root_uri=self.lake),
            "engine": EngineResource(),
            "replay_ledger": ReplayLedger(lake_root=self.lake),
        }
        self.instance = DagsterInstance.ephemeral()
        self.instance.add_dynamic_partitions(PLANT_DIMENSION, ["P01"])
        self.checks: list[Any] = []

    def run(self, selection: list[AssetKey], day: date | None = None) -> None:
        result = materialize(
            DEFS,
            selection=selection,
            partition_key=str(partition_key("P01", day)) if day else None,
            instance=self.instance,
            resources=self.resources,
            run_config=QUIET,
        )
        assert result.success
        self.checks += result.get_asset_check_evaluations()

    def table(self, layer: str, name: str) -> pl.DataFrame:
        frame = read_delta(f"{self.lake}/{layer}/{name}")
        assert frame is not None, f"{layer}/{name} was not written"
        return frame


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    root = tmp_path_factory.mktemp("production")
    out = Lake(root)
    write_landing_zone(out.resources["landing"])
    out.run([AssetKey(["reference", e]) for e in REFERENCE_ENTITIES])
    for day in (date(2024, 3, 28), PREV, DAY, date(2024, 4, 1)):
        out.run(BRONZE, day)
    for day in (date(2024, 3, 28), PREV, DAY):
        out.run(EVENTS, day)
    for day in (PREV, DAY):
        out.run(PRODUCTION, day)
    return out


def row(frame: pl.DataFrame, machine: str, day: date = DAY) -> dict[str, Any]:
    rows = frame.filter((pl.col("machine_id") == machine) & (pl.col("production_date") == day))
    assert rows.height == 1, rows
    return rows.row(0, named=True)


def test_oee_daily_hand_computed(lake: Lake) -> None:
    oee = lake.table("gold", "oee_daily")
    m1 = row(oee, M1)
    assert m1["planned_time_s"] == 79_200.0
    assert m1["run_time_s"] == 57_600.0
    assert m1["availability"] == pytest.approx(57_600 / 79_200)
    assert (m1["shots"], m1["unresolved_shots"], m1["total_parts"]) == (7, 1, 18)
    assert m1["ideal_time_s"] == 210.0
    assert m1["performance"] == pytest.approx(210 / 57_600)
    assert (m1["rejected_parts"], m1["good_parts"]) == (3, 15)
    assert m1["quality"] == pytest.approx(15 / 18)
    assert m1["oee"] == pytest.approx(57_600 / 79_200 * 210 / 57_600 * 15 / 18)

    m2 = row(oee, M2)  # zero run time: performance and OEE null
    assert (m2["planned_time_s"], m2["run_time_s"], m2["availability"]) == (82_800.0, 0.0, 0.0)
    assert (m2["shots"], m2["total_parts"], m2["ideal_time_s"]) == (2, 4, 60.0)
    assert m2["performance"] is None and m2["oee"] is None
    assert m2["quality"] == 1.0

    # M003 runs all day on its state from 2024-03-28 but has no event, shot or inspection
    # on 2024-03-31: no OEE row. 2024-03-30: only M001 had events.
    assert sorted(oee.filter(pl.col("production_date") == DAY)["machine_id"]) == [M1, M2]
    prev = row(oee, M1, PREV)
    assert (prev["planned_time_s"], prev["run_time_s"], prev["shots"]) == (86_400.0, 14_400.0, 0)
    assert prev["performance"] == 0.0 and prev["quality"] is None and prev["oee"] is None


def test_intervals_in_the_lake(lake: Lake) -> None:
    intervals = lake.table("silver", "machine_state_intervals")
    day = intervals.filter(pl.col("production_date") == DAY)
    totals = dict(day.group_by("machine_id").agg(pl.col("duration_s").sum()).iter_rows())
    assert totals == {M1: 82_800.0, M2: 82_800.0, M3: 82_800.0}
    first = day.filter(pl.col("machine_id") == M1).sort("start_ts").row(0, named=True)
    assert (first["state"], first["carried_over"], first["start_ts"]) == (
        "RUNNING",
        True,
        utc(2024, 3, 30, 23),
    )
    m3 = day.filter(pl.col("machine_id") == M3)  # state older than D-1: read from the lake
    assert m3.select("state", "carried_over").rows() == [("RUNNING", True)]


def test_run_rate_hourly_hand_computed(lake: Lake) -> None:
    rate = lake.table("gold", "run_rate_hourly").filter(pl.col("production_date") == DAY)
    m1 = rate.filter(pl.col("machine_id") == M1).sort("hour_start_utc")
    assert m1.height == 17  # 16 RUNNING hours + the SETUP hour with the unresolved shot
    by_hour = {r["hour_start_utc"]: r for r in m1.iter_rows(named=True)}
    h23 = by_hour[utc(2024, 3, 30, 23)]  # S1, MD-A, RUNNING carried over midnight
    assert (h23["shots"], h23["running_s"], h23["run_rate_per_h"]) == (1, 3600.0, 1.0)
    assert (h23["mold_id"], h23["ideal_rate_per_h"]) == ("MD-A", 120.0)
    h05 = by_hour[utc(2024, 3, 31, 5)]  # SETUP, unresolved shot; MD-B mounted from 05:30
    assert (h05["shots"], h05["running_s"], h05["run_rate_per_h"]) == (1, 0.0, None)
    assert (h05["mold_id"], h05["ideal_rate_per_h"]) == ("MD-B", 90.0)
    h07 = by_hour[utc(2024, 3, 31, 7)]  # S4 + S5 on MD-B
    assert (h07["shots"], h07["run_rate_per_h"], h07["ideal_rate_per_h"]) == (2, 2.0, 90.0)
    h08 = by_hour[utc(2024, 3, 31, 8)]  # running, no shot: mounted MD-B
    assert (h08["shots"], h08["run_rate_per_h"], h08["mold_id"]) == (0, 0.0, "MD-B")
    h13 = by_hour[utc(2024, 3, 31, 13)]  # S7: explicit MD-A beats the mounted MD-B
    assert (h13["mold_id"], h13["ideal_rate_per_h"]) == ("MD-A", 120.0)
    assert utc(2024, 3, 31, 10) not in by_hour  # DOWN, no shot
    assert m1["running_s"].sum() == 57_600.0
    assert m1["shots"].sum() == 7
    # M003 runs all day on a carried-over state but has no event, shot or inspection that
    # day: like oee_daily, no rows
    assert sorted(set(rate["machine_id"])) == [M1, M2]
    m2 = rate.filter(pl.col("machine_id") == M2).sort("hour_start_utc")
    assert m2.select("shots", "running_s", "run_rate_per_h", "ideal_rate_per_h").rows() == [
        (1, 0.0, None, 120.0),
        (1, 0.0, None, 120.0),
    ]


def test_loss_daily_hand_computed(lake: Lake) -> None:
    loss = lake.table("gold", "loss_daily")
    m1 = row(loss, M1)
    assert (m1["mold_id"], m1["part_id"], m1["cavities"]) == ("MD-B", "PT-B", 4)
    assert (m1["ideal_cycle_time_s"], m1["unit_cost"], m1["unit_price"]) == (40.0, 0.5, 1.25)
    assert (m1["planned_time_s"], m1["run_time_s"], m1["rejected_parts"]) == (79_200.0, 57_600.0, 3)
    assert m1["scrap_cost"] == pytest.approx(1.2)
    assert m1["downtime_margin_loss"] == pytest.approx(1_620.0)
    m2 = row(loss, M2)  # no mold mounted
    assert m2["mold_id"] is None and m2["downtime_margin_loss"] is None
    assert m2["scrap_cost"] == 0.0
    # 2024-03-30: MD-A mounted all day (30 s, 2 cavities, PT-A margin 0.40)
    prev = row(loss, M1, PREV)
    assert prev["mold_id"] == "MD-A"
    assert prev["downtime_margin_loss"] == pytest.approx((86_400 - 14_400) / 30 * 2 * 0.4)


def test_silver_and_quarantine_rows(lake: Lake) -> None:
    shots = lake.table("silver", "shots").filter(pl.col("production_date") == DAY)
    assert shots.height == 9
    assert shots.filter(~pl.col("is_resolved"))["shot_id"].to_list() == ["P01-M001-000003"]
    q = {
        name: sorted(lake.table("quarantine", name)["reason"].to_list())
        for name in ("shots", "machine_events", "quality_inspections")
    }
    assert q == {
        "shots": ["missing_shot_id", "out_of_window"],
        "machine_events": ["invalid_state", "invalid_state"],
        "quality_inspections": ["invalid_count", "invalid_count", "missing_part_id"],
    }


def test_checks_pass(lake: Lake) -> None:
    failed = [(c.asset_key.to_user_string(), c.check_name) for c in lake.checks if not c.passed]
    names = {c.check_name for c in lake.checks}
    assert "pandera_GoldOeeDaily" in names and "pandera_SilverShots" in names
    # 2 of 9 shots / 2 of 8 events / 3 of 7 inspections quarantined: only the share warns
    assert {name for _, name in failed} <= {"quarantine_share"}


def test_rerunning_a_partition_is_idempotent(lake: Lake) -> None:
    before = {t: lake.table(*t) for t in TABLES}
    lake.run(EVENTS, DAY)
    lake.run(PRODUCTION, DAY)
    for t in TABLES:
        after = lake.table(*t)
        keys = [
            c
            for c in ("production_date", "machine_id", "source", "line_number")
            if c in after.columns
        ]
        keys += [c for c in ("start_ts", "hour_start_utc") if c in after.columns]
        assert after.height == before[t].height, t
        assert_frame_equal(before[t].sort(keys), after.sort(keys), check_row_order=False)


def test_a_late_event_file_marks_the_next_days_intervals_stale() -> None:
    """Contract 7: a late file for D changes D+1 through states carried over midnight. The
    intervals declare silver machine events D-1..D, so D's events reach D's and D+1's
    intervals (and through them D+1's oee_daily) in the asset graph."""
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(PLANT_DIMENSION, ["P01"])
    mapping = machine_state_intervals.get_partition_mapping(AssetKey(SILVER_EVENTS.key_path))
    late = plant_date_partitions.empty_subset().with_partition_keys(
        [str(partition_key("P01", PREV))]
    )
    downstream = mapping.get_downstream_partitions_for_partitions(
        late, plant_date_partitions, plant_date_partitions, dynamic_partitions_store=instance
    )
    assert sorted(downstream.get_partition_keys()) == [
        str(partition_key("P01", PREV)),
        str(partition_key("P01", DAY)),
    ]
