"""Shots, machine events, inspections: bronze -> silver + quarantine, state intervals and
master data as of a date, against hand-computed expectations (contract 3.2-3.4, 5, 7).

The scenario (also used end to end by ``test_oee.py``): plant P01 (Europe/Berlin), machine
P01-M001 on the spring-forward day 2024-03-31 (23 h = 82,800 s, from 2024-03-30T23:00Z to
2024-03-31T22:00Z):

    UTC    local   event                     mold mounted (snapshot 2024-03-31)
    19:00  20:00   (Mar 30) RUNNING          MD-A since 2024-03-25
    04:00  06:00   PLANNED_STOP (BREAK)      MD-A until 05:00Z (07:00 local)
    05:00  07:00   SETUP (mold change)       none 05:00Z-05:30Z
    06:00  08:00   RUNNING                   MD-B from 05:30Z (07:30 local), open
    10:00  12:00   DOWN (HEATER_FAULT)
    11:00  13:00   RUNNING
    18:00  20:00   IDLE (landed in the 2024-04-01 folder: midnight skew)

Shots: S1 explicit MD-A, S2 no mold_id -> MD-A, S3 in the mold gap -> unresolved, S4 blank
and S5 whitespace mold_id -> MD-B, S6 explicit MD-B (re-delivered in a second file), S7 a
local time without offset and explicit MD-A while MD-B is mounted (explicit wins).
P01-M002 never reports a state (IDLE all day) but has two shots: zero run time.
P01-M003 ran since 2024-03-28 and is silent afterwards: RUNNING all of 2024-03-31.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import narwhals as nw
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets.transforms.machine_events import (
    day_bounds,
    machine_state_intervals,
    silver_machine_events,
)
from manufacturing_assets.transforms.master_data import reference_as_of, reference_for_dates
from manufacturing_assets.transforms.quality_inspections import silver_quality_inspections
from manufacturing_assets.transforms.shots import silver_shots
from manufacturing_assets_tests.helpers import bronze_of, collect, jsonl, lazy

TZ = "Europe/Berlin"
DAY = date(2024, 3, 31)
PREV = date(2024, 3, 30)
M1, M2, M3 = "P01-M001", "P01-M002", "P01-M003"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def content(cycle: Any = 31.0, **extra: Any) -> str:
    body = {
        "cycle_time_s": cycle,
        "cushion_mm": 5.1,
        "injection_pressure_bar": 1450,
        "melt_temp_c": 232.0,
        "mold_temp_c": 55.0,
        "shot_weight_g": 120.4,
        **extra,
    }
    return json.dumps(body)


def shot(shot_id: str, ts: str, machine: str = M1, mold: Any = "absent", **extra: Any) -> dict:
    rec: dict[str, Any] = {
        "shot_id": shot_id,
        "plant_id": "P01",
        "machine_id": machine,
        "ts": ts,
        "content": content(),
    }
    if mold != "absent":
        rec["mold_id"] = mold
    rec.update(extra)
    return rec


def event(ts: str, state: str, reason: str | None = None, machine: str = M1, **extra: Any) -> dict:
    rec = {"machine_id": machine, "plant_id": "P01", "ts": ts, "state": state}
    rec["reason_code"] = reason
    rec.update(extra)
    return rec


S6 = shot("P01-M001-000006", "2024-03-31T14:00:00+02:00", mold="MD-B")
SHOTS_1 = jsonl(
    [
        shot("P01-M001-000001", "2024-03-31T00:30:00+01:00", mold="MD-A"),
        shot("P01-M001-000002", "2024-03-31T03:30:00+02:00"),
        shot("P01-M001-000003", "2024-03-31T07:15:00+02:00", mold=None),
        shot("P01-M001-000004", "2024-03-31T09:00:00+02:00", mold=""),
        shot(
            "P01-M001-000005",
            "2024-03-31T09:00:40+02:00",
            mold="  ",
            content=content(cycle="n/a", screw_rpm=120),
        ),
        S6,
        shot("P01-M001-000007", "2024-03-31T15:00:00", mold="MD-A"),
        shot(
            "P01-M002-000001", "2024-03-31T10:00:00+02:00", machine=M2, mold="MD-A", plant_id="P02"
        ),
        shot(
            "P01-M002-000002", "2024-03-31T11:00:00+02:00", machine=M2, mold="MD-A", content="oops"
        ),
        shot("", "2024-03-31T11:30:00+02:00", machine=M2, mold="MD-A"),  # missing_shot_id
        shot("P01-M002-000009", "2024-04-05T11:30:00+02:00", machine=M2),  # out_of_window
    ]
)
SHOTS_2 = jsonl([S6])  # the same shot re-delivered in another file

EVENTS_28 = jsonl([event("2024-03-28T10:00:00+01:00", "RUNNING", machine=M3)])
EVENTS_30 = jsonl(
    [
        event("2024-03-30T08:00:00+01:00", "IDLE", "NO_OPERATOR"),
        event("2024-03-30T20:00:00+01:00", "RUNNING"),
    ]
)
EVENTS_31 = jsonl(
    [
        event("2024-03-31T06:00:00+02:00", "PLANNED_STOP", "BREAK"),
        event("2024-03-31T07:00:00+02:00", "SETUP", "MOLD_CHANGE"),
        event("2024-03-31T08:00:00+02:00", "RUNNING"),
        event("2024-03-31T10:00:00Z", "DOWN", "HEATER_FAULT"),
        event("2024-03-31T13:00:00+02:00", "RUNNING"),
        event("2024-03-31T13:00:00+02:00", "RUNNING"),  # re-delivery (same instant)
        event("2024-03-31T14:00:00+02:00", "WARMUP"),  # invalid_state
        event("2024-03-31T14:30:00+02:00", "running"),  # invalid_state (exact spelling)
    ]
)
EVENTS_01 = jsonl([event("2024-03-31T20:00:00+02:00", "IDLE", "NO_ORDERS")])

INSPECTIONS_31 = (
    "machine_id,plant_id,hour_start,part_id,inspected_count,rejected_count,defect_code\n"
    f"{M1},P01,2024-03-31T09:00:00+02:00,PT-B,8,2,SHORT_SHOT\n"
    f"{M1},P01,2024-03-31T14:00:00+02:00,PT-B,4,0,\n"
    f"{M1},P01,2024-03-31T15:00:00+02:00,PT-A,2.0,1,FLASH\n"
    f"{M1},P01,2024-03-31T16:00:00+02:00,,4,0,\n"
    f"{M1},P01,2024-03-31T17:00:00+02:00,PT-B,2.5,0,\n"
    f"{M1},P01,2024-03-31T18:00:00+02:00,PT-B,3,-1,\n"
    f"{M1},P01,2024-03-31T07:00:00Z,PT-B,4,0,\n"  # re-delivery of the 09:00+02:00 row
).encode()

LANDING: dict[str, bytes] = {
    "raw/shots/plant=P01/date=2024-03-31/s1.jsonl": SHOTS_1,
    "raw/shots/plant=P01/date=2024-03-31/s2.jsonl": SHOTS_2,
    "raw/machine_events/plant=P01/date=2024-03-28/e.jsonl": EVENTS_28,
    "raw/machine_events/plant=P01/date=2024-03-30/e.jsonl": EVENTS_30,
    "raw/machine_events/plant=P01/date=2024-03-31/e.jsonl": EVENTS_31,
    "raw/machine_events/plant=P01/date=2024-04-01/e.jsonl": EVENTS_01,
    "raw/quality_inspections/plant=P01/date=2024-03-31/i.csv": INSPECTIONS_31,
}


def molds_csv(ideal_b: int) -> str:
    return (
        "mold_id,cavities,ideal_cycle_time_s,supplier_id\n"
        f"MD-A,2,30,CO-S01\nMD-B,4,{ideal_b},CO-S01\n"
    )


ASSIGNMENTS_30 = (
    "machine_id,mold_id,valid_from,valid_to\nP01-M001,MD-A,2024-03-25T00:00:00+01:00,\n"
)
ASSIGNMENTS_31 = (
    "machine_id,mold_id,valid_from,valid_to\n"
    "P01-M001,MD-A,2024-03-25T00:00:00+01:00,2024-03-31T07:00:00+02:00\n"
    "P01-M001,MD-B,2024-03-31T07:30:00,\n"  # local time without offset
)
PARTS_CSV = (
    "part_id,part_name,unit_cost,unit_price,customer_id\n"
    "PT-A,Cable clip,0.20,0.60,CO-C01\nPT-B,Lamp housing,0.50,1.25,CO-C01\n"
)
MOLD_PARTS_CSV = "mold_id,part_id\nMD-A,PT-A\nMD-B,PT-B\n"
PLANTS_CSV = "plant_id,plant_name,region,country,timezone\nP01,Berlin Works,EMEA,DE,Europe/Berlin\n"

# entity -> snapshot date -> CSV. The 2024-03-30 snapshot still has MD-A mounted (open) and
# MD-B at 45 s; the 2024-04-01 one has MD-B at 50 s: 2024-03-31 must use its own (40 s).
REFERENCE: dict[str, dict[str, str]] = {
    "plants": {"2024-03-01": PLANTS_CSV},
    "molds": {
        "2024-03-30": molds_csv(45),
        "2024-03-31": molds_csv(40),
        "2024-04-01": molds_csv(50),
    },
    "parts": {"2024-03-30": PARTS_CSV},
    "mold_parts": {"2024-03-30": MOLD_PARTS_CSV},
    "mold_assignments": {"2024-03-30": ASSIGNMENTS_30, "2024-03-31": ASSIGNMENTS_31},
}


def write_landing_zone(landing: LandingZone) -> None:
    """The whole scenario as landed files and master-data snapshots."""
    for key, data in LANDING.items():
        landing.write_bytes(key, data)
    for entity, snapshots in REFERENCE.items():
        for snapshot, text in snapshots.items():
            landing.write_bytes(
                f"reference/{entity}/snapshot_date={snapshot}/{entity}.csv", text.encode()
            )


def reference(entity: str) -> pl.DataFrame:
    """A ``reference/<entity>`` table (every snapshot, text columns) as the asset builds it."""
    frames = [
        pl.read_csv(text.encode(), infer_schema=False).select(
            pl.lit(date.fromisoformat(snapshot)).alias("snapshot_date"),
            pl.all().str.strip_chars().replace("", None),
        )
        for snapshot, text in REFERENCE[entity].items()
    ]
    return pl.concat(frames)


def bronze(stream: str) -> pl.DataFrame:
    files = [(k, v) for k, v in LANDING.items() if k.startswith(f"raw/{stream}/")]
    return bronze_of(files, stream)


def flags_of(frame: pl.DataFrame, key: str, value: str) -> str:
    return frame.filter(pl.col(key) == value)["flags"].item()


# ----------------------------------------------------------------------------- master data


def test_reference_as_of_picks_latest_snapshot_not_after_the_date() -> None:
    molds = reference("molds")
    ideal = {
        d: collect(reference_as_of(lazy(molds), d))
        .filter(pl.col("mold_id") == "MD-B")["ideal_cycle_time_s"]
        .item()
        for d in (date(2024, 3, 1), PREV, DAY, date(2024, 4, 1), date(2024, 5, 1))
    }
    # before the first snapshot: the earliest one
    assert ideal == {
        date(2024, 3, 1): 45.0,
        PREV: 45.0,
        DAY: 40.0,
        date(2024, 4, 1): 50.0,
        date(2024, 5, 1): 50.0,
    }
    typed = collect(reference_as_of(molds, DAY))  # a native Polars frame works too
    assert typed.schema["cavities"] == pl.Int64
    assert typed.schema["ideal_cycle_time_s"] == pl.Float64
    parts = collect(reference_as_of(lazy(reference("parts")), DAY))
    assert parts.schema["unit_cost"] == pl.Float64
    assert parts.filter(pl.col("part_id") == "PT-B")["unit_price"].item() == 1.25


def test_reference_as_of_parses_assignment_intervals() -> None:
    rows = collect(reference_as_of(lazy(reference("mold_assignments")), DAY, TZ)).sort("mold_id")
    assert rows.schema["valid_from"] == pl.Datetime("us", "UTC")
    assert rows["valid_from"].to_list() == [utc(2024, 3, 24, 23), utc(2024, 3, 31, 5, 30)]
    assert rows["valid_to"].to_list() == [utc(2024, 3, 31, 5), None]
    stacked = collect(reference_for_dates(lazy(reference("mold_assignments")), [PREV, DAY], TZ))
    assert stacked.group_by("production_date").len().sort("production_date")["len"].to_list() == [
        1,
        2,
    ]


# ----------------------------------------------------------------------------- shots


def silver_shots_result() -> Any:
    assignments = reference_for_dates(lazy(reference("mold_assignments")), [DAY], TZ)
    return silver_shots(lazy(bronze("shots")), TZ, [DAY], assignments)


def test_shots_mold_resolution_dedupe_and_flags() -> None:
    result = silver_shots_result()
    silver = collect(result.silver).sort("ts")
    assert silver["shot_id"].to_list() == [
        "P01-M001-000001",
        "P01-M001-000002",
        "P01-M001-000003",
        "P01-M001-000004",
        "P01-M001-000005",
        "P01-M002-000001",
        "P01-M002-000002",
        "P01-M001-000006",
        "P01-M001-000007",
    ]
    by_id = {r["shot_id"]: r for r in silver.iter_rows(named=True)}
    expected = {
        "P01-M001-000001": ("MD-A", "explicit"),
        "P01-M001-000002": ("MD-A", "assignment"),
        "P01-M001-000003": (None, None),
        "P01-M001-000004": ("MD-B", "assignment"),
        "P01-M001-000005": ("MD-B", "assignment"),
        "P01-M001-000006": ("MD-B", "explicit"),
        "P01-M001-000007": ("MD-A", "explicit"),
        "P01-M002-000001": ("MD-A", "explicit"),
        "P01-M002-000002": ("MD-A", "explicit"),
    }
    assert {k: (r["mold_id"], r["mold_source"]) for k, r in by_id.items()} == expected
    assert not by_id["P01-M001-000003"]["is_resolved"]
    assert by_id["P01-M001-000003"]["flags"] == "unresolved_mold"
    assert by_id["P01-M001-000005"]["flags"] == "unparseable:cycle_time_s"
    assert by_id["P01-M001-000005"]["cycle_time_s"] is None
    assert by_id["P01-M001-000005"]["screw_rpm"] == 120.0  # unknown key kept as a column
    assert result.extra_measures == ["screw_rpm"]
    assert by_id["P01-M002-000001"]["flags"] == "plant_mismatch"
    assert by_id["P01-M002-000002"]["flags"] == "unparseable_content"
    assert by_id["P01-M001-000001"]["cycle_time_s"] == 31.0
    assert by_id["P01-M001-000001"]["injection_pressure_bar"] == 1450.0
    # local time without offset (CEST after the spring-forward): 15:00 local = 13:00 UTC
    assert by_id["P01-M001-000007"]["ts"] == utc(2024, 3, 31, 13)
    # the re-delivered shot: one row, first copy in file-key order, two deliveries
    assert by_id["P01-M001-000006"]["deliveries"] == 2
    assert by_id["P01-M001-000006"]["source"].endswith("/s1.jsonl")
    assert silver.schema["ts"] == pl.Datetime("us", "UTC")
    assert silver.columns[:7] == [
        "plant_id",
        "production_date",
        "shot_id",
        "machine_id",
        "ts",
        "mold_id",
        "mold_source",
    ]


def test_shots_quarantine() -> None:
    quarantine = collect(silver_shots_result().quarantine).sort("line_number")
    assert quarantine.select("reason", "production_date").rows() == [
        ("missing_shot_id", DAY),
        ("out_of_window", DAY),  # landing folder's date
    ]


def test_shots_with_an_older_snapshot_resolve_differently() -> None:
    """Shot S3 (07:15 local, in the mold gap) is unresolved with the snapshot of its own
    date; the day before's snapshot still had MD-A open, which would resolve it."""
    stale = reference_as_of(lazy(reference("mold_assignments")), PREV, TZ).with_columns(
        nw.lit(DAY).alias("production_date")
    )
    silver = collect(silver_shots(lazy(bronze("shots")), TZ, [DAY], stale).silver)
    assert silver.filter(pl.col("shot_id") == "P01-M001-000003")["mold_id"].item() == "MD-A"


# ----------------------------------------------------------------------------- events


def silver_events(dates: list[date]) -> Any:
    return silver_machine_events(lazy(bronze("machine_events")), TZ, dates)


def test_machine_events_silver_and_quarantine() -> None:
    result = silver_events([DAY])
    silver = collect(result.silver).sort("ts")
    assert silver.select("ts", "state", "reason_code").rows() == [
        (utc(2024, 3, 31, 4), "PLANNED_STOP", "BREAK"),
        (utc(2024, 3, 31, 5), "SETUP", "MOLD_CHANGE"),
        (utc(2024, 3, 31, 6), "RUNNING", None),
        (utc(2024, 3, 31, 10), "DOWN", "HEATER_FAULT"),
        (utc(2024, 3, 31, 11), "RUNNING", None),
        (utc(2024, 3, 31, 18), "IDLE", "NO_ORDERS"),  # from the 2024-04-01 folder
    ]
    assert silver.filter(pl.col("ts") == utc(2024, 3, 31, 11))["deliveries"].item() == 2
    quarantine = collect(result.quarantine)
    assert quarantine["reason"].to_list() == ["invalid_state", "invalid_state"]
    assert "WARMUP" in quarantine["detail"][0]


# ----------------------------------------------------------------------------- intervals


def all_events() -> pl.DataFrame:
    return collect(silver_events([date(2024, 3, 28), PREV, DAY]).silver)


def intervals_for(events: pl.DataFrame, active: pl.DataFrame, dates: list[date]) -> pl.DataFrame:
    out = machine_state_intervals(lazy(events), lazy(active), "P01", TZ, dates)
    return collect(out).sort("machine_id", "start_ts")


NO_ACTIVITY = pl.DataFrame(schema={"machine_id": pl.String, "production_date": pl.Date})
M2_ACTIVE = pl.DataFrame({"machine_id": [M2], "production_date": [DAY]})


def test_intervals_dst_day_midnight_carry_and_silent_machines() -> None:
    start, end = day_bounds(DAY, TZ)
    assert (start, end) == (utc(2024, 3, 30, 23), utc(2024, 3, 31, 22))
    got = intervals_for(all_events(), M2_ACTIVE, [DAY])
    m1 = got.filter(pl.col("machine_id") == M1)
    assert m1.select(
        "state", "reason_code", "start_ts", "end_ts", "duration_s", "carried_over"
    ).rows() == [
        ("RUNNING", None, utc(2024, 3, 30, 23), utc(2024, 3, 31, 4), 18_000.0, True),
        ("PLANNED_STOP", "BREAK", utc(2024, 3, 31, 4), utc(2024, 3, 31, 5), 3_600.0, False),
        ("SETUP", "MOLD_CHANGE", utc(2024, 3, 31, 5), utc(2024, 3, 31, 6), 3_600.0, False),
        ("RUNNING", None, utc(2024, 3, 31, 6), utc(2024, 3, 31, 10), 14_400.0, False),
        ("DOWN", "HEATER_FAULT", utc(2024, 3, 31, 10), utc(2024, 3, 31, 11), 3_600.0, False),
        ("RUNNING", None, utc(2024, 3, 31, 11), utc(2024, 3, 31, 18), 25_200.0, False),
        ("IDLE", "NO_ORDERS", utc(2024, 3, 31, 18), utc(2024, 3, 31, 22), 14_400.0, False),
    ]
    assert m1["duration_s"].sum() == 82_800.0
    # never reported, active through shots: IDLE all day
    assert got.filter(pl.col("machine_id") == M2).select(
        "state", "duration_s", "carried_over"
    ).rows() == [("IDLE", 82_800.0, True)]
    # silent since it started RUNNING three days before: runs all day
    assert got.filter(pl.col("machine_id") == M3).select("state", "duration_s").rows() == [
        ("RUNNING", 82_800.0)
    ]


def test_intervals_previous_day_starts_idle_and_reason_carries() -> None:
    got = intervals_for(all_events(), NO_ACTIVITY, [PREV, DAY])
    m1 = got.filter((pl.col("machine_id") == M1) & (pl.col("production_date") == PREV))
    assert m1.select("state", "reason_code", "duration_s", "carried_over").rows() == [
        ("IDLE", None, 28_800.0, True),  # never reported before: IDLE
        ("IDLE", "NO_OPERATOR", 43_200.0, False),
        ("RUNNING", None, 14_400.0, False),
    ]
    assert got.filter(pl.col("production_date") == DAY)["duration_s"].sum() == 2 * 82_800.0
    # a carried-over state keeps the reason of the event that set it
    events = pl.DataFrame(
        {
            "machine_id": [M1],
            "production_date": [PREV],
            "ts": [utc(2024, 3, 30, 20)],
            "state": ["DOWN"],
            "reason_code": ["MOLD_STUCK"],
        }
    )
    carried = intervals_for(events, NO_ACTIVITY, [DAY])
    assert carried.select("state", "reason_code", "carried_over").rows() == [
        ("DOWN", "MOLD_STUCK", True)
    ]


def test_intervals_fall_back_day_and_event_at_midnight() -> None:
    day = date(2024, 10, 27)  # Europe/Berlin falls back: 25 h
    events = pl.DataFrame(
        {
            "machine_id": [M1, M1],
            "production_date": [day, day],
            "ts": [utc(2024, 10, 26, 22), utc(2024, 10, 27, 12)],  # local midnight, 13:00
            "state": ["RUNNING", "PLANNED_STOP"],
            "reason_code": [None, "PREVENTIVE_MAINTENANCE"],
        },
        schema_overrides={"ts": pl.Datetime("us", "UTC"), "reason_code": pl.String},
    )
    got = intervals_for(events, NO_ACTIVITY, [day])
    # the event exactly at midnight replaces the carried-over interval (zero length: dropped)
    assert got.select("state", "duration_s", "carried_over").rows() == [
        ("RUNNING", 14 * 3600.0, False),
        ("PLANNED_STOP", 11 * 3600.0, False),
    ]
    assert got["duration_s"].sum() == 90_000.0


# ----------------------------------------------------------------------------- inspections


def test_quality_inspections_silver_and_quarantine() -> None:
    result = silver_quality_inspections(lazy(bronze("quality_inspections")), TZ, [DAY])
    silver = collect(result.silver).sort("hour_start")
    assert silver.select("hour_start", "part_id", "inspected_count", "rejected_count").rows() == [
        (utc(2024, 3, 31, 7), "PT-B", 8, 2),
        (utc(2024, 3, 31, 12), "PT-B", 4, 0),
        (utc(2024, 3, 31, 13), "PT-A", 2, 1),  # "2.0" is an integer
    ]
    assert silver.schema["rejected_count"] == pl.Int64
    assert silver["deliveries"].to_list() == [2, 1, 1]
    assert silver["production_date"].to_list() == [DAY] * 3
    quarantine = collect(result.quarantine).sort("line_number")
    assert quarantine.select("reason", "line_number").rows() == [
        ("missing_part_id", 5),
        ("invalid_count", 6),
        ("invalid_count", 7),
    ]
    assert quarantine["detail"].to_list()[1:] == [
        "field 'inspected_count' is not an integer: 2.5",
        "field 'rejected_count' is negative: -1",
    ]


def test_missing_count_is_invalid_and_excess_rejects_are_flagged() -> None:
    data = (
        "machine_id,plant_id,hour_start,part_id,inspected_count,rejected_count,defect_code\n"
        f"{M1},P01,2024-03-31T09:00:00+02:00,PT-B,,0,\n"
        f"{M1},P01,2024-03-31T10:00:00+02:00,PT-B,2,3,FLASH\n"
    ).encode()
    frame = bronze_of(
        [("raw/quality_inspections/plant=P01/date=2024-03-31/x.csv", data)],
        "quality_inspections",
    )
    result = silver_quality_inspections(lazy(frame), TZ, [DAY])
    assert collect(result.quarantine)["detail"].to_list() == ["field 'inspected_count' is missing"]
    assert collect(result.silver)["flags"].to_list() == ["rejected_exceeds_inspected"]


# ----------------------------------------------------------------------------- Spark parity


@pytest.mark.integration
def test_production_transforms_spark_parity(spark: Any) -> None:
    """Every production transformation gives the same rows on PySpark as on Polars."""
    from manufacturing_assets.resources.engine import collect_polars, to_spark
    from manufacturing_assets.transforms.oee import (
        gold_loss_daily,
        gold_oee_daily,
        gold_run_rate_hourly,
        machine_days,
    )

    def sp(frame: pl.DataFrame) -> Any:
        return nw.from_native(to_spark(spark, frame))

    def same(left: pl.DataFrame, right: pl.DataFrame) -> None:
        assert left.columns == right.columns
        keys = [
            c for c, t in left.schema.items() if t in (pl.String, pl.Date, pl.Datetime("us", "UTC"))
        ]
        assert_frame_equal(left.sort(keys), right.sort(keys), check_dtypes=False, abs_tol=1e-9)

    days = [PREV, DAY]
    outputs: dict[str, dict[str, pl.DataFrame]] = {}
    for engine, make, coll in (("polars", lazy, collect), ("spark", sp, collect_polars)):
        ref = {e: make(reference(e)) for e in REFERENCE}
        assign = reference_for_dates(ref["mold_assignments"], days, TZ)
        shots_r = silver_shots(make(bronze("shots")), TZ, days, assign)
        events_r = silver_machine_events(
            make(bronze("machine_events")), TZ, [date(2024, 3, 28), *days]
        )
        insp_r = silver_quality_inspections(make(bronze("quality_inspections")), TZ, days)
        out = {
            "shots": coll(shots_r.silver),
            "shots_q": coll(shots_r.quarantine),
            "events": coll(events_r.silver),
            "events_q": coll(events_r.quarantine),
            "insp": coll(insp_r.silver),
            "insp_q": coll(insp_r.quarantine),
        }
        active = pl.concat(
            [out[k].select("machine_id", "production_date") for k in ("shots", "insp")]
        ).unique()
        out["intervals"] = coll(
            machine_state_intervals(make(out["events"]), make(active), "P01", TZ, days)
        )
        day_events = out["events"].filter(pl.col("production_date").is_in(days))
        molds = reference_for_dates(ref["molds"], days, TZ)
        out["oee"] = coll(
            gold_oee_daily(
                make(out["intervals"]),
                make(day_events),
                make(out["shots"]),
                make(out["insp"]),
                molds,
                TZ,
                days,
            )
        )
        machines = machine_days(make(day_events), make(out["shots"]), make(out["insp"]))
        out["run_rate"] = coll(
            gold_run_rate_hourly(
                make(out["intervals"]), make(out["shots"]), molds, assign, TZ, days, machines
            )
        )
        out["loss"] = coll(
            gold_loss_daily(
                make(out["oee"]),
                make(out["insp"]),
                molds,
                reference_for_dates(ref["parts"], days, TZ),
                reference_for_dates(ref["mold_parts"], days, TZ),
                assign,
                TZ,
                days,
            )
        )
        outputs[engine] = out
    for name, frame in outputs["polars"].items():
        assert frame.height, name
        same(frame, outputs["spark"][name])
