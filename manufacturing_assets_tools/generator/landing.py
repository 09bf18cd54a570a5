"""Sample landing zone: every raw stream, daily master-data snapshots and bad input.

``generate_landing_zone(landing, config)`` writes (keys relative to the landing root,
data contract section 2)::

    raw/sensor_readings/plant=P/date=D/readings-YYYYMMDD-NNNN.jsonl | .jsonl.gz | .csv
    raw/shots/plant=P/date=D/shots-YYYYMMDD-NNNN.jsonl | .jsonl.gz
    raw/machine_events/plant=P/date=D/events-YYYYMMDD-NNNN.jsonl
    raw/quality_inspections/plant=P/date=D/inspections-YYYYMMDD-NNNN.csv | .parquet
    reference/{entity}/snapshot_date=D/{entity}.csv      (8 entities, one per day)
    manifest.json                                        (the returned manifest)

The clean data is a consistent simulation (machine state timelines, shots only while
a machine runs, inspections of the parts those shots made, readings that follow the
machine state). With ``bad_input=True`` every kind of bad input the contract names is
added in seeded, counted amounts (:mod:`.bad_input`). Steps, each in its own module:

1. the world: master data and machine timelines (:mod:`.master`);
2. clean records per stream (:mod:`.sensor_readings`, :mod:`.shots`,
   :mod:`.machine_events`, :mod:`.quality_inspections`), held in a :class:`.records.Sample`;
3. bad input (:mod:`.bad_input`);
4. files: records placed into batches and written (:mod:`.files`, :mod:`.formats`), then
   the master-data snapshots (:mod:`.reference`);
5. the manifest (:mod:`.manifest`).

Same config -> byte-identical landing zone: each step draws from its own seeded random
streams, in a fixed order.
"""

from __future__ import annotations

import json
import random
from typing import TYPE_CHECKING

from .bad_input import inject_bad_input
from .config import GeneratorConfig
from .files import write_streams
from .machine_events import add_machine_events
from .manifest import build_manifest
from .master import day_bounds
from .quality_inspections import add_inspections
from .records import Sample
from .reference import write_reference
from .sensor_readings import add_readings
from .shots import add_shots

if TYPE_CHECKING:
    from manufacturing_assets.resources.landing_zone import LandingZone


def generate_landing_zone(landing: LandingZone, config: GeneratorConfig | None = None) -> dict:
    """Write the sample landing zone and return its manifest (also ``manifest.json``)."""
    config = config or GeneratorConfig()
    sample = Sample(config)
    _generate_clean(sample)
    if config.bad_input:
        inject_bad_input(sample)
    write_streams(sample, landing)
    reference = write_reference(sample.world, sample.dates, landing)
    manifest = build_manifest(sample, reference)
    landing.write_bytes(
        "manifest.json", (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    )
    return manifest


def _generate_clean(sample: Sample) -> None:
    """Clean records: per machine one random stream for its readings and shots (day by
    day), then its machine events; inspections last (they count the shots)."""
    seed = sample.config.seed
    for p in sample.world.plants:
        for m in p.machines:
            rng = random.Random(f"{seed}/streams/{m.machine_id}")
            shot_seq = rng.randint(10_000, 90_000)
            for d in sample.dates:
                start, end = day_bounds(d, p.zone)
                add_readings(sample, rng, m, start, end)
                shot_seq = add_shots(sample, rng, m, start, end, shot_seq)
            add_machine_events(sample, m)
    add_inspections(sample)
