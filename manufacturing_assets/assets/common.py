"""Shared asset conventions: owners, tags, metadata helpers."""

from __future__ import annotations

from dagster import TableColumn, TableSchema

OWNERS = ["team:manufacturing-data"]
BRONZE_PARTITION_EXPR = {"plant": "plant_id", "date": "landing_date"}
PARTITION_EXPR = {"plant": "plant_id", "date": "production_date"}


def model_table_schema(model: type) -> TableSchema:
    """The column schema of a pandera model, for definition metadata (UI)."""
    schema = model.to_schema()  # type: ignore[attr-defined]
    return TableSchema(
        columns=[
            TableColumn(name, str(col.dtype), description=col.description or "")
            for name, col in schema.columns.items()
        ]
    )


QUARANTINE_SCHEMA = TableSchema(
    columns=[
        TableColumn("plant_id", "string", "Plant of the landing folder."),
        TableColumn(
            "production_date",
            "date",
            "Production date if the ts parses and is in the window, else the folder date.",
        ),
        TableColumn("landing_date", "date", "The `date=` folder the record landed in."),
        TableColumn(
            "reason", "string", "First rule that rejected the record (contract section 7 order)."
        ),
        TableColumn("detail", "string", "What exactly was wrong, naming the field."),
        TableColumn("source", "string", "Landing file key (or Kafka topic/partition/offset)."),
        TableColumn("file_hash", "string", "sha256 of the landed file."),
        TableColumn("line_number", "int64", "Line in the file (0: the whole file was unreadable)."),
        TableColumn("ingested_at", "timestamp[us, UTC]", "When bronze read the file."),
        TableColumn("raw_payload", "string", "The record as landed."),
    ]
)
