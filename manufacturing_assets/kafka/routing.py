"""Routing of a Kafka message: the plant and the production date it lands under.

The plant is the one master data ``machines`` gives the message key's machine (the record's
``machine_id`` when there is no key), else the record's ``plant_id``; the production date is
the plant-local date of ``ts`` (plant time zone from master data ``plants``; a ``ts`` without
offset is plant-local: earlier offset in a DST fold, shifted forward in a gap). A message
that cannot be routed (no plant with a time zone) raises :class:`DeadLetter`: it goes to its
chunk's dead-letter file and never blocks its partition. A message without a usable ``ts``
has no production date: ``records.LineEncoder`` lands it under its Kafka timestamp's date.

Master data is pinned per chunk (:class:`ReferencePin`: the snapshot dates the chunk was
routed with), so a chunk redone after a crash routes exactly as the first attempt did.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from manufacturing_assets.ingest.reference import plant_timezones, read_reference
from manufacturing_assets.resources.landing_zone import LandingZone

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class DeadLetter(Exception):
    """A message that cannot be landed; the text says why."""


def production_date(ts: str, tz: ZoneInfo) -> date:
    """Plant-local date of an ISO-8601 date-time (data contract sections 1 and 7).

    With an offset (``+01:00``, ``Z``) it is that instant; without, it is plant-local
    time: ``fold=0`` takes the earlier offset in a DST fold and, in a DST gap, the offset
    in force before the gap (the wall time is shifted forward by the gap). A date
    without a time is not a timestamp, nor is a leap second (``23:59:60``, as in silver).
    Raises ``ValueError``, or ``OverflowError`` when the instant falls outside the range of
    a datetime once converted (``9999-12-31T23:00:00-05:00``).
    """
    text = ts.strip()
    if len(text) < 16 or text[10] not in "Tt ":
        raise ValueError("not an ISO-8601 date-time")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:  # via UTC: normalises a wall time in a gap
        return moment.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).date()
    return moment.astimezone(tz).date()


@dataclass(frozen=True)
class ReferencePin:
    """The master-data snapshots a chunk was routed with (ISO dates, None = no snapshot)."""

    machines: str | None
    plants: str | None


class Router:
    """Message -> (plant, time zone), from one pinned version of master data."""

    def __init__(self, machine_plants: dict[str, str], zones: dict[str, ZoneInfo]):
        self.machine_plants = machine_plants
        self.zones = zones

    def plant(self, key: str | None, record: dict[str, Any]) -> tuple[str, ZoneInfo]:
        machine = key.strip() if isinstance(key, str) and key.strip() else None
        if machine is None:
            rec_machine = record.get("machine_id")
            machine = rec_machine.strip() if isinstance(rec_machine, str) else None
        plant = self.machine_plants.get(machine) if machine else None
        if plant is None:
            rec_plant = record.get("plant_id")
            plant = rec_plant.strip() if isinstance(rec_plant, str) and rec_plant.strip() else None
        if plant is None:
            raise DeadLetter(
                f"no plant: machine {machine!r} is not in master data `machines` "
                "and the record has no plant_id"
            )
        zone = self.zones.get(plant)
        if zone is None:
            raise DeadLetter(f"plant {plant!r} has no time zone in master data `plants`")
        return plant, zone


class ReferenceData:
    """Master data ``machines`` and ``plants`` (every snapshot), read once per pass."""

    def __init__(self, landing: LandingZone):
        self.machines, _ = read_reference(landing, "machines")
        self.plants, _ = read_reference(landing, "plants")
        self._routers: dict[ReferencePin, Router] = {}

    @staticmethod
    def _latest(frame: pl.DataFrame) -> str | None:
        return None if frame.is_empty() else frame["snapshot_date"].max().isoformat()  # type: ignore[union-attr]

    def latest_pin(self) -> ReferencePin:
        return ReferencePin(self._latest(self.machines), self._latest(self.plants))

    def router(self, pin: ReferencePin) -> Router:
        if pin not in self._routers:
            self._routers[pin] = self._build(pin)
        return self._routers[pin]

    @staticmethod
    def _upto(frame: pl.DataFrame, day: str | None) -> pl.DataFrame:
        if day is None:
            return frame.clear()
        return frame.filter(pl.col("snapshot_date") <= date.fromisoformat(day))

    def _build(self, pin: ReferencePin) -> Router:
        machines = self._upto(self.machines, pin.machines)
        machine_plants: dict[str, str] = {}
        if not machines.is_empty():
            latest = (
                machines.filter(
                    pl.col("machine_id").is_not_null() & pl.col("plant_id").is_not_null()
                )
                .sort("snapshot_date", "line_number")
                .group_by("machine_id")
                .agg(pl.col("plant_id").last())
            )
            machine_plants = dict(latest.iter_rows())
        zones: dict[str, ZoneInfo] = {}
        for plant, tz in plant_timezones(self._upto(self.plants, pin.plants)).items():
            if not _SAFE_ID.match(plant):
                continue
            try:
                zones[plant] = ZoneInfo(tz)
            except (ValueError, KeyError):  # unknown or malformed zone name
                continue
        return Router(machine_plants, zones)
