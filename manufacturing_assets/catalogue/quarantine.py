"""Quarantine: records silver rejected, with the reason. Partition = plant x production date.

One table per event stream, all with the same columns (`docs/design.md`, contract 7).
"""

from __future__ import annotations

from manufacturing_assets.catalogue.columns import LINEAGE, PLANT
from manufacturing_assets.catalogue.model import DATE, STRING, Column, Table, columns
from manufacturing_assets.contract import QUARANTINE_REASONS, STREAMS

_WHAT = {
    "sensor_readings": "Sensor-reading records",
    "shots": "Shot records",
    "machine_events": "Machine-event records (including `invalid_state`)",
    "quality_inspections": "Inspection records (including `missing_part_id` and `invalid_count`)",
}

QUARANTINE_COLUMNS = columns(
    PLANT,
    Column(
        "production_date",
        DATE,
        "Production date if the ts parses and is in the window, else the folder date (partition).",
        nullable=False,
    ),
    Column("landing_date", DATE, "The `date=` folder the record landed in.", nullable=False),
    Column(
        "reason",
        STRING,
        "First rule that rejected the record (contract section 7 order).",
        nullable=False,
        isin=QUARANTINE_REASONS,
    ),
    Column("detail", STRING, "What exactly was wrong, naming the field."),
    LINEAGE,
    Column("raw_payload", STRING, "The record as landed."),
)


def quarantine_table(stream: str) -> Table:
    return Table(
        layer="quarantine",
        name=stream,
        description=(
            f"{_WHAT[stream]} rejected by silver, with the reason (first rule of contract "
            "section 7 that applies), a detail naming the field, the source and the raw payload."
        ),
        columns=QUARANTINE_COLUMNS,
        domain="sensors" if stream == "sensor_readings" else "production",
        tags={"stream": stream},
    )


QUARANTINE = {stream: quarantine_table(stream) for stream in STREAMS}
