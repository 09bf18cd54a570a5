"""Bronze: every landed record as landed, with lineage. Partition = plant x landing date.

Record fields are kept as text (a JSON string is its text, a number its literal, a nested
object its JSON text); `docs/design.md` ("Bronze schemas") has the details.
"""

from __future__ import annotations

from manufacturing_assets.catalogue.columns import LINEAGE, PLANT
from manufacturing_assets.catalogue.model import DATE, STRING, Column, Partitioning, Table, columns
from manufacturing_assets.contract import CONTENT_PREFIX, METRIC_PREFIX, STREAMS

# the fields of each stream's records (contract section 3), as sent
STREAM_FIELDS: dict[str, tuple[str, ...]] = {
    "sensor_readings": ("device_id", "plant_id", "machine_id", "ts", "firmware", "status"),
    "shots": ("shot_id", "plant_id", "machine_id", "ts", "mold_id", "content"),
    "machine_events": ("machine_id", "plant_id", "ts", "state", "reason_code"),
    "quality_inspections": (
        "machine_id",
        "plant_id",
        "hour_start",
        "part_id",
        "inspected_count",
        "rejected_count",
        "defect_code",
    ),
}

_OPEN = {
    "sensor_readings": f"`{METRIC_PREFIX}<key>` (text) for every metric key seen",
    "shots": f"`{CONTENT_PREFIX}<key>` (text) for every key of the parsed `content`",
}


def _field(stream: str, name: str) -> Column:
    if name == "plant_id":
        return Column("record_plant_id", STRING, "`plant_id` as sent in the record (text).")
    return Column(name, STRING, f"`{name}` as sent (text; null when absent or JSON null).")


def bronze_table(stream: str) -> Table:
    extra = (
        (Column("content_error", STRING, "Why `content` is not a JSON object (null: it is)."),)
        if stream == "shots"
        else ()
    )
    return Table(
        layer="bronze",
        name=stream,
        description=(
            f"Raw `{stream}` records exactly as landed under `raw/{stream}/plant=/date=/` "
            "(JSON lines, gzipped JSON lines, CSV or parquet), one row per record, with lineage "
            "(source file key, content hash, line number, ingestion time). Fields are kept as "
            "text; unreadable lines and files are kept with `parse_error`. "
            "Partitioned by plant x landing date (the `date=` folder)."
        ),
        columns=columns(
            PLANT,
            Column("landing_date", DATE, "The `date=` folder (partition).", nullable=False),
            LINEAGE,
            Column("source_format", STRING, "jsonl, jsonl.gz, csv or parquet.", nullable=False),
            Column(
                "raw_payload",
                STRING,
                "The line as landed (CSV rows: a JSON object of header -> cell text; null when "
                "the file could not be read).",
            ),
            Column(
                "parse_error",
                STRING,
                "Null for a readable record; else e.g. `invalid JSON: ...`, `file unreadable: ...`.",
            ),
            (_field(stream, f) for f in STREAM_FIELDS[stream]),
            extra,
        ),
        partitioning=Partitioning.PLANT_LANDING_DATE,
        open_columns=_OPEN.get(stream),
        domain="sensors" if stream == "sensor_readings" else "production",
        tags={"stream": stream},
    )


BRONZE = {stream: bronze_table(stream) for stream in STREAMS}
