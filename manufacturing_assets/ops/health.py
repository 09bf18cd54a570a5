"""Health of the data per plant (and plant-day): the rules a manufacturing data team alerts on.

Pure functions of frames and a clock (no Dagster, no IO): the ``plant_health`` sensor
(``sensors/health.py``) reads the lake and the landing ledger and reports what they return as
check evaluations, so each one reaches the alerts and the data-quality history.

- :func:`silent_devices`: devices the plant had in the previous 7 days that sent nothing in
  the plant-day; WARN above 10 % (``MA_SILENT_DEVICE_SHARE``);
- :func:`landing_backlog`: files landed more than an hour ago (``MA_BACKLOG_MINUTES``) and not
  yet in bronze (no bronze row has them as ``source``);
- :func:`stalled_plants`: no file landed for a plant for 15 minutes (``MA_STALL_MINUTES``)
  while its machines are scheduled to run (the last known state of at least one of its
  machines is not ``PLANNED_STOP``);
- :func:`incomplete_plant_days`: a plant-day whose silver is not materialized
  ``MA_COMPLETE_AFTER_HOURS`` after the plant's local day ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

HISTORY_DAYS = 7
LISTED = 50  # names listed in metadata (all are counted)


@dataclass(frozen=True)
class Verdict:
    """One health evaluation: passed, the measured numbers, what it means."""

    passed: bool
    metadata: dict[str, Any] = field(default_factory=dict)
    description: str = ""


def silent_devices(
    readings: pl.DataFrame, plant: str, day: date, max_share: float = 0.10
) -> Verdict:
    """``readings``: (plant_id, production_date, device_id) of silver sensor readings of the
    plant for ``day`` and the ``HISTORY_DAYS`` days before (other rows are ignored)."""
    rows = readings.filter(pl.col("plant_id") == plant)
    start = day - timedelta(days=HISTORY_DAYS)
    before = set(
        rows.filter(pl.col("production_date").is_between(start, day - timedelta(days=1)))[
            "device_id"
        ].drop_nulls()
    )
    today = set(rows.filter(pl.col("production_date") == day)["device_id"].drop_nulls())
    silent = sorted(before - today)
    share = len(silent) / len(before) if before else 0.0
    return Verdict(
        passed=share <= max_share,
        metadata={
            "plant_id": plant,
            "production_date": day.isoformat(),
            "expected_devices": len(before),
            "reporting_devices": len(today & before),
            "silent_devices": len(silent),
            "silent_share": round(share, 6),
            "threshold": max_share,
            "silent": ", ".join(silent[:LISTED]) + (" ..." if len(silent) > LISTED else ""),
        },
        description=(
            f"{len(silent)} of {len(before)} devices seen in the previous {HISTORY_DAYS} days "
            f"sent nothing on {day} ({share:.1%}; warn above {max_share:.0%})"
        ),
    )


def landing_backlog(
    landed: pl.DataFrame, in_bronze: Iterable[str], now: datetime, max_age: timedelta
) -> dict[str, Verdict]:
    """Per plant: raw files (``landed``: key, plant_id, stream, landing_date, first_seen)
    landed before ``now - max_age`` whose key no bronze row has as ``source``."""
    ingested = set(in_bronze)
    cutoff = now - max_age
    out = {}
    for plant in sorted(set(landed["plant_id"].drop_nulls())):
        files = landed.filter(pl.col("plant_id") == plant)
        waiting = files.filter(
            (pl.col("first_seen") <= cutoff) & ~pl.col("key").is_in(sorted(ingested))
        ).sort("first_seen")
        oldest = waiting["first_seen"].min() if waiting.height else None
        age_min = (now - oldest).total_seconds() / 60 if oldest is not None else 0.0  # type: ignore[operator]
        keys = waiting["key"].to_list()
        out[plant] = Verdict(
            passed=waiting.is_empty(),
            metadata={
                "plant_id": plant,
                "backlog_files": waiting.height,
                "oldest_minutes": round(age_min, 1),
                "threshold_minutes": max_age.total_seconds() / 60,
                "files": ", ".join(keys[:LISTED]) + (" ..." if len(keys) > LISTED else ""),
            },
            description=(
                f"{waiting.height} file(s) of plant {plant} landed more than "
                f"{max_age.total_seconds() / 60:.0f} min ago are not in bronze (oldest "
                f"{age_min:.0f} min)"
                if waiting.height
                else f"every file of plant {plant} older than the threshold is in bronze"
            ),
        )
    return out


def running_plants(events: pl.DataFrame) -> set[str]:
    """Plants with a machine whose last known state (silver machine events: plant_id,
    machine_id, ts, state) is not ``PLANNED_STOP``."""
    if events.is_empty():
        return set()
    last = events.sort("ts").group_by("plant_id", "machine_id").agg(pl.col("state").last())
    return set(last.filter(pl.col("state") != "PLANNED_STOP")["plant_id"])


def stalled_plants(
    landed: pl.DataFrame, plants: Iterable[str], now: datetime, max_quiet: timedelta
) -> dict[str, Verdict]:
    """Per plant of ``plants`` (those scheduled to run): stalled when its newest raw file
    (``landed``: plant_id, first_seen) is older than ``max_quiet``, or it never sent one."""
    out = {}
    for plant in sorted(plants):
        seen = landed.filter(pl.col("plant_id") == plant)["first_seen"]
        newest = seen.max() if seen.len() else None
        quiet = (now - newest).total_seconds() / 60 if newest is not None else None  # type: ignore[operator]
        stalled = quiet is None or quiet > max_quiet.total_seconds() / 60
        out[plant] = Verdict(
            passed=not stalled,
            metadata={
                "plant_id": plant,
                "minutes_since_last_file": round(quiet, 1) if quiet is not None else -1,
                "threshold_minutes": max_quiet.total_seconds() / 60,
                "last_file_at": newest.isoformat() if newest is not None else "never",  # type: ignore[union-attr]
            },
            description=(
                f"ingestion stalled: no file from plant {plant} for "
                + (f"{quiet:.0f} min" if quiet is not None else "ever")
                + " while its machines are scheduled to run"
                if stalled
                else f"plant {plant} is sending files"
            ),
        )
    return out


def day_end(day: date, zone: str) -> datetime:
    """The instant the plant-local day ends (midnight of the next day, DST-aware)."""
    return datetime.combine(day + timedelta(days=1), time(0), ZoneInfo(zone))


def incomplete_plant_days(
    expected: Iterable[tuple[str, date]],
    materialized: set[tuple[str, date]],
    zones: Mapping[str, str],
    now: datetime,
    grace: timedelta,
) -> dict[tuple[str, date], Verdict]:
    """Plant-days whose silver is due (local day end + ``grace`` before ``now``): passed
    when materialized."""
    out = {}
    for plant, day in sorted(expected):
        zone = zones.get(plant)
        if zone is None:
            continue
        due = day_end(day, zone).astimezone(UTC) + grace  # in UTC: never wall-clock time
        if due > now:
            continue
        done = (plant, day) in materialized
        late_h = (now - due).total_seconds() / 3600
        out[(plant, day)] = Verdict(
            passed=done,
            metadata={
                "plant_id": plant,
                "production_date": day.isoformat(),
                "due_at": due.isoformat(),
                "hours_late": round(late_h, 2) if not done else 0.0,
            },
            description=(
                f"silver of plant {plant}, {day} is not materialized {grace} after the plant's "
                f"local day ended ({late_h:.1f} h late)"
                if not done
                else f"silver of plant {plant}, {day} is materialized"
            ),
        )
    return out
