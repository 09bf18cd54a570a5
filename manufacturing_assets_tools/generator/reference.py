"""Master data: one CSV snapshot per entity and day (contract section 2, ``reference/``)."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import TYPE_CHECKING

from .config import ENTITIES, ENTITY_COLUMNS
from .master import World

if TYPE_CHECKING:
    from manufacturing_assets.resources.landing_zone import LandingZone


def write_reference(world: World, dates: list[date], landing: LandingZone) -> dict:
    """Write every snapshot; returns the manifest's ``reference`` section."""
    ref: dict[str, dict] = {}
    for entity in ENTITIES:
        cols = ENTITY_COLUMNS[entity]
        ref[entity] = {"columns": list(cols), "snapshots": {}}
        for d in dates:
            rows = world.snapshot(entity, d)
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(cols)
            for row in rows:
                w.writerow(["" if row[c] is None else row[c] for c in cols])
            key = f"reference/{entity}/snapshot_date={d.isoformat()}/{entity}.csv"
            landing.write_bytes(key, buf.getvalue().encode("utf-8"))
            ref[entity]["snapshots"][d.isoformat()] = {"key": key, "rows": len(rows)}
    return ref
