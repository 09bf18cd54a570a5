"""The simulated factory: master data, its history, machine state timelines.

Everything here is the *truth* the event streams are generated from. All instants are
timezone-aware UTC datetimes; they are only rendered to plant-local ISO strings when
records are written.
"""

from __future__ import annotations

import bisect
import functools
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .config import ENTITY_COLUMNS, GeneratorConfig, PlantSpec


def local_midnight(d: date, zone: ZoneInfo) -> datetime:
    """The UTC instant of plant-local midnight starting ``d``."""
    return datetime.combine(d, time(0), tzinfo=zone).astimezone(UTC)


def local_instant(d: date, hour: int, minute: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(d, time(hour, minute), tzinfo=zone).astimezone(UTC)


@functools.lru_cache(maxsize=4096)
def day_bounds(d: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return local_midnight(d, zone), local_midnight(d + timedelta(days=1), zone)


def fmt_ts(instant: datetime, zone: ZoneInfo, timespec: str = "milliseconds") -> str:
    """ISO-8601 with the plant's offset, e.g. ``2024-03-04T08:15:02.123+01:00``."""
    return instant.astimezone(zone).isoformat(timespec=timespec)


def fmt_local_naive(instant: datetime, zone: ZoneInfo, timespec: str = "milliseconds") -> str:
    """ISO-8601 plant-local wall time without offset."""
    return instant.astimezone(zone).replace(tzinfo=None).isoformat(timespec=timespec)


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


@dataclass
class Company:
    company_id: str
    company_name: str
    company_type: str


@dataclass
class Part:
    part_id: str
    part_name: str
    unit_cost: float
    unit_price: float
    customer_id: str


@dataclass
class Mold:
    mold_id: str
    cavities: int
    ideal_cycle_time_s: float
    supplier_id: str
    part_id: str
    # process fingerprint used for shot content (not master data)
    shot_weight_g: float
    injection_pressure_bar: float
    melt_temp_c: float
    mold_temp_c: float


@dataclass
class Assignment:
    machine_id: str
    mold_id: str
    valid_from: datetime
    valid_to: datetime | None


@dataclass
class Machine:
    machine_id: str
    plant_id: str
    line_id: str
    machine_type: str
    tonnage: int
    device_id: str
    firmware: str
    zone: ZoneInfo
    events: list[tuple[datetime, str, str | None]] = field(default_factory=list)
    assignments: list[Assignment] = field(default_factory=list)
    _times: list[datetime] = field(default_factory=list, repr=False)

    def finalize(self) -> None:
        self.events.sort(key=lambda e: e[0])
        self._times = [e[0] for e in self.events]
        self.assignments.sort(key=lambda a: a.valid_from)

    def state_at(self, instant: datetime) -> str:
        i = bisect.bisect_right(self._times, instant) - 1
        return self.events[i][1] if i >= 0 else "IDLE"

    def mold_at(self, instant: datetime) -> str | None:
        found = None
        for a in self.assignments:
            if a.valid_from <= instant and (a.valid_to is None or instant < a.valid_to):
                found = a.mold_id  # latest valid_from wins (sorted ascending)
        return found

    def running_intervals(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        out = []
        bounds = self._times[1:] + [datetime.max.replace(tzinfo=UTC)]
        for (t, state, _), nxt in zip(self.events, bounds, strict=True):
            if state != "RUNNING":
                continue
            a, b = max(t, start), min(nxt, end)
            if a < b:
                out.append((a, b))
        return out


@dataclass
class Plant:
    spec: PlantSpec
    zone: ZoneInfo
    lines: list[tuple[str, str, str]]  # line_id, plant_id, line_name
    machines: list[Machine]

    @property
    def plant_id(self) -> str:
        return self.spec.plant_id


@dataclass
class World:
    config: GeneratorConfig
    plants: list[Plant]
    molds: dict[str, Mold]
    parts: dict[str, Part]
    companies: list[Company]
    tonnage_change: dict | None = None
    company_rename: dict | None = None
    mold_changes: list[dict] = field(default_factory=list)

    @property
    def dates(self) -> list[date]:
        return self.config.dates

    def plant(self, plant_id: str) -> Plant:
        return next(p for p in self.plants if p.plant_id == plant_id)

    def machine(self, machine_id: str) -> Machine:
        for p in self.plants:
            for m in p.machines:
                if m.machine_id == machine_id:
                    return m
        raise KeyError(machine_id)

    # ---- reference snapshots -----------------------------------------------------
    def snapshot(self, entity: str, d: date) -> list[dict]:
        """Rows of ``entity`` as known at the end of day ``d`` (columns: ENTITY_COLUMNS)."""
        rows: list[dict] = []
        if entity == "plants":
            for p in self.plants:
                s = p.spec
                rows.append(
                    {
                        "plant_id": s.plant_id,
                        "plant_name": s.plant_name,
                        "region": s.region,
                        "country": s.country,
                        "timezone": s.timezone,
                    }
                )
        elif entity == "lines":
            for p in self.plants:
                for line_id, plant_id, name in p.lines:
                    rows.append({"line_id": line_id, "plant_id": plant_id, "line_name": name})
        elif entity == "machines":
            tc = self.tonnage_change
            for p in self.plants:
                for m in p.machines:
                    tonnage = m.tonnage
                    if tc and tc["machine_id"] == m.machine_id:
                        changed = d >= date.fromisoformat(tc["snapshot_date"])
                        tonnage = tc["new_tonnage"] if changed else tc["old_tonnage"]
                    rows.append(
                        {
                            "machine_id": m.machine_id,
                            "plant_id": m.plant_id,
                            "line_id": m.line_id,
                            "machine_type": m.machine_type,
                            "tonnage": tonnage,
                        }
                    )
        elif entity == "molds":
            for mold in self.molds.values():
                rows.append(
                    {
                        "mold_id": mold.mold_id,
                        "cavities": mold.cavities,
                        "ideal_cycle_time_s": mold.ideal_cycle_time_s,
                        "supplier_id": mold.supplier_id,
                    }
                )
        elif entity == "parts":
            for part in self.parts.values():
                rows.append(
                    {
                        "part_id": part.part_id,
                        "part_name": part.part_name,
                        "unit_cost": f"{part.unit_cost:.2f}",
                        "unit_price": f"{part.unit_price:.2f}",
                        "customer_id": part.customer_id,
                    }
                )
        elif entity == "mold_parts":
            for mold in self.molds.values():
                rows.append({"mold_id": mold.mold_id, "part_id": mold.part_id})
        elif entity == "mold_assignments":
            for p in self.plants:
                for m in p.machines:
                    for a in m.assignments:
                        if local_date(a.valid_from, m.zone) > d:
                            continue  # not yet known on day d
                        closed = a.valid_to is not None and local_date(a.valid_to, m.zone) <= d
                        rows.append(
                            {
                                "machine_id": m.machine_id,
                                "mold_id": a.mold_id,
                                "valid_from": fmt_ts(a.valid_from, m.zone, "seconds"),
                                "valid_to": fmt_ts(a.valid_to, m.zone, "seconds")
                                if closed and a.valid_to is not None
                                else None,
                            }
                        )
        elif entity == "companies":
            cr = self.company_rename
            for c in self.companies:
                name = c.company_name
                if cr and cr["company_id"] == c.company_id:
                    renamed = d >= date.fromisoformat(cr["snapshot_date"])
                    name = cr["new_name"] if renamed else cr["old_name"]
                rows.append(
                    {
                        "company_id": c.company_id,
                        "company_name": name,
                        "company_type": c.company_type,
                    }
                )
        else:
            raise KeyError(entity)
        cols = ENTITY_COLUMNS[entity]
        return [{c: r[c] for c in cols} for r in rows]


# ---- construction --------------------------------------------------------------------
_SUPPLIERS = [
    ("CO-S01", "Formenbau Müller GmbH"),
    ("CO-S02", "Precision Molds Inc."),
    ("CO-S03", "Stamptec Tooling Ltd"),
]
_CUSTOMERS = [
    ("CO-C01", "Nordwagen AG"),
    ("CO-C02", "Great Lakes Appliances Inc."),
    ("CO-C03", "Medisafe Devices LLC"),
]
_RENAME = ("CO-S02", "PMI Tooling Group")
_PART_NAMES = [
    "Door handle bezel",
    "Air vent louvre",
    "Connector housing 12-pin",
    "Lamp housing",
    "Cup holder insert",
    "Syringe barrel 5 ml",
    "Fan shroud",
    "Battery cover",
    "Cable clip",
    "Knob cap",
    "Filter frame",
    "Mirror base",
    "Pump impeller",
    "Switch rocker",
]
_MACHINE_TYPES = ["hydraulic", "all-electric", "hybrid"]
_TONNAGES = [150, 220, 280, 350, 450, 500]
_FIRMWARE = ["2.4.0", "2.4.1", "2.5.0"]

_DURATIONS = {  # seconds, (min, max)
    "RUNNING": (45 * 60, 4 * 3600),
    "IDLE": (5 * 60, 40 * 60),
    "DOWN": (10 * 60, 90 * 60),
    "SETUP": (20 * 60, 60 * 60),
    "PLANNED_STOP": (30 * 60, 75 * 60),
}
_REASONS: dict[str, list[str | None]] = {
    "RUNNING": [None],
    "IDLE": [None, "NO_OPERATOR", "WAITING_MATERIAL"],
    "DOWN": ["HEATER_FAULT", "HYDRAULIC_LEAK", "MOLD_STUCK", "EJECTOR_JAM", "ROBOT_FAULT"],
    "SETUP": ["COLOR_CHANGE", "MATERIAL_CHANGE", "PARAMETER_TUNING"],
    "PLANNED_STOP": ["BREAK", "SHIFT_HANDOVER", "PREVENTIVE_MAINTENANCE"],
}


def _next_state(rng: random.Random, state: str) -> str:
    if state == "RUNNING":
        return rng.choices(["IDLE", "DOWN", "PLANNED_STOP", "SETUP"], [40, 25, 20, 15])[0]
    if state == "IDLE":
        return rng.choices(["RUNNING", "DOWN"], [90, 10])[0]
    return rng.choices(["RUNNING", "IDLE"], [85, 15])[0]


def _timeline(
    rng: random.Random,
    start: datetime,
    end: datetime,
    forced: list[tuple[datetime, datetime, str, str | None]],
) -> list[tuple[datetime, str, str | None]]:
    """State changes from ``start`` to ``end``; ``forced`` segments are spliced in."""
    events: list[tuple[datetime, str, str | None, bool]] = []
    t = start + timedelta(seconds=rng.randint(0, 4 * 3600))
    state = rng.choice(["RUNNING", "RUNNING", "SETUP", "IDLE"])
    while t < end:
        events.append((t, state, rng.choice(_REASONS[state]), False))
        lo, hi = _DURATIONS[state]
        t += timedelta(seconds=rng.randint(lo, hi))
        state = _next_state(rng, state)
    for fs, fe, st, reason in forced:
        margin = timedelta(minutes=1)
        events = [e for e in events if not (fs - margin <= e[0] <= fe + margin)]
        events.append((fs, st, reason, True))
        events.append((fe, "RUNNING", None, True))
    events.sort(key=lambda e: e[0])
    out: list[tuple[datetime, str, str | None]] = []
    for t, state, reason, is_forced in events:
        if out and out[-1][1] == state and not is_forced:
            continue
        out.append((t, state, reason))
    return [e for e in out if e[0] < end]


def build_world(config: GeneratorConfig) -> World:
    seed = config.seed
    rng = random.Random(f"{seed}/master")
    dates = config.dates
    n_days = len(dates)

    companies = [Company(cid, name, "supplier") for cid, name in _SUPPLIERS] + [
        Company(cid, name, "customer") for cid, name in _CUSTOMERS
    ]
    suppliers = [c.company_id for c in companies if c.company_type == "supplier"]
    customers = [c.company_id for c in companies if c.company_type == "customer"]

    molds: dict[str, Mold] = {}
    parts: dict[str, Part] = {}

    def new_mold() -> Mold:
        n = len(molds) + 1
        part_id = f"PT-{n:03d}"
        name = _PART_NAMES[(n - 1) % len(_PART_NAMES)]
        if n > len(_PART_NAMES):
            name = f"{name} v{(n - 1) // len(_PART_NAMES) + 1}"
        cost = round(rng.uniform(0.15, 3.5), 2)
        parts[part_id] = Part(
            part_id, name, cost, round(cost * rng.uniform(1.25, 1.7), 2), rng.choice(customers)
        )
        mold = Mold(
            mold_id=f"MD-{n:02d}",
            cavities=rng.choice([1, 2, 2, 4, 4, 8]),
            ideal_cycle_time_s=round(rng.uniform(18, 55) * 2) / 2,
            supplier_id=rng.choice(suppliers),
            part_id=part_id,
            shot_weight_g=round(rng.uniform(20, 400), 1),
            injection_pressure_bar=float(rng.randint(900, 1600)),
            melt_temp_c=float(rng.choice([215, 225, 232, 240, 255])),
            mold_temp_c=float(rng.choice([40, 50, 55, 60, 80])),
        )
        molds[mold.mold_id] = mold
        return mold

    plants: list[Plant] = []
    for spec in config.plants:
        zone = ZoneInfo(spec.timezone)
        pid = spec.plant_id
        n_lines = 2 if config.machines_per_plant >= 2 else 1
        lines = [(f"{pid}-L{i + 1}", pid, f"Line {i + 1}") for i in range(n_lines)]
        machines = []
        for i in range(config.machines_per_plant):
            mid = f"{pid}-M{i + 1:03d}"
            line_id = lines[0][0] if i < (config.machines_per_plant + 1) // 2 else lines[-1][0]
            machines.append(
                Machine(
                    machine_id=mid,
                    plant_id=pid,
                    line_id=line_id,
                    machine_type=rng.choice(_MACHINE_TYPES),
                    tonnage=rng.choice(_TONNAGES),
                    device_id=f"{mid}-T1",
                    firmware=rng.choice(_FIRMWARE),
                    zone=zone,
                )
            )
        plants.append(Plant(spec, zone, lines, machines))
    # a firmware 3.x device that still sends temperature_c (3.x *may* send Fahrenheit)
    plants[-1].machines[-1].firmware = "3.0.2"

    # initial mold assignments (before the window), some with an older closed interval
    first = dates[0]
    for p in plants:
        for i, m in enumerate(p.machines):
            mounted_day = first - timedelta(days=rng.randint(5, 40))
            mounted = local_instant(mounted_day, 6, 0, p.zone)
            if i == 0:
                older = new_mold()
                since_day = mounted_day - timedelta(days=rng.randint(20, 60))
                since = local_instant(since_day, 6, 0, p.zone)
                m.assignments.append(Assignment(m.machine_id, older.mold_id, since, mounted))
            m.assignments.append(Assignment(m.machine_id, new_mold().mold_id, mounted, None))
    # spare molds that are never mounted in the window
    for _ in range(2):
        new_mold()

    world = World(config, plants, molds, parts, companies)

    # mold changes: plant 1 with an unmounted gap, plant 2 an instant swap
    forced: dict[str, list] = {}
    p0 = plants[0]
    m_a = p0.machines[min(1, len(p0.machines) - 1)]
    day_a = dates[min(1, n_days - 1)]
    t1 = local_instant(day_a, 10, rng.randint(0, 30), p0.zone)
    t2 = t1 + timedelta(minutes=35)
    mold_a = new_mold()
    m_a.assignments[-1].valid_to = t1
    m_a.assignments.append(Assignment(m_a.machine_id, mold_a.mold_id, t2, None))
    forced.setdefault(m_a.machine_id, []).append(
        (t1, t1 + timedelta(minutes=50), "SETUP", "MOLD_CHANGE")
    )
    world.mold_changes.append(
        {
            "machine_id": m_a.machine_id,
            "old_mold_id": m_a.assignments[-2].mold_id,
            "new_mold_id": mold_a.mold_id,
            "unmounted_at": fmt_ts(t1, p0.zone, "seconds"),
            "mounted_at": fmt_ts(t2, p0.zone, "seconds"),
            "gap": True,
        }
    )
    if len(plants) > 1:
        p1 = plants[1]
        m_b = p1.machines[min(2, len(p1.machines) - 1)]
        day_b = dates[-1]
        s1 = local_instant(day_b, 14, rng.randint(0, 30), p1.zone)
        swap = s1 + timedelta(minutes=20)
        mold_b = new_mold()
        m_b.assignments[-1].valid_to = swap
        m_b.assignments.append(Assignment(m_b.machine_id, mold_b.mold_id, swap, None))
        forced.setdefault(m_b.machine_id, []).append(
            (s1, s1 + timedelta(minutes=40), "SETUP", "MOLD_CHANGE")
        )
        world.mold_changes.append(
            {
                "machine_id": m_b.machine_id,
                "old_mold_id": m_b.assignments[-2].mold_id,
                "new_mold_id": mold_b.mold_id,
                "unmounted_at": fmt_ts(swap, p1.zone, "seconds"),
                "mounted_at": fmt_ts(swap, p1.zone, "seconds"),
                "gap": False,
            }
        )

    # history in the master data
    if n_days >= 2:
        m_t = p0.machines[min(2, len(p0.machines) - 1)]
        new_t = next(t for t in _TONNAGES if t > m_t.tonnage) if m_t.tonnage < 500 else 450
        world.tonnage_change = {
            "machine_id": m_t.machine_id,
            "old_tonnage": m_t.tonnage,
            "new_tonnage": new_t,
            "snapshot_date": dates[1].isoformat(),
        }
    if n_days >= 3:
        old = next(c.company_name for c in companies if c.company_id == _RENAME[0])
        world.company_rename = {
            "company_id": _RENAME[0],
            "old_name": old,
            "new_name": _RENAME[1],
            "snapshot_date": dates[2].isoformat(),
        }

    # state timelines
    for p in plants:
        start = local_midnight(dates[0], p.zone)
        end = local_midnight(dates[-1] + timedelta(days=1), p.zone)
        for m in p.machines:
            trng = random.Random(f"{seed}/timeline/{m.machine_id}")
            m.events = _timeline(trng, start, end, forced.get(m.machine_id, []))
            m.finalize()
    return world
