"""Operations tables: what the platform records about itself (``ops/*``).

``ops/data_quality_results``: every asset-check evaluation recorded in the Dagster instance,
one row each (``ops/quality_history.py`` appends them; ``warehouse/data_quality_results``
publishes the table), so a plant manager can ask in SQL how often a plant failed a rule::

    select rule, count(*) filter (where not passed) as failed, count(*) as evaluated
    from ops.data_quality_results
    where plant_id = 'P02' and production_date >= date '2024-03-01'
    group by rule order by failed desc
"""

from __future__ import annotations

from manufacturing_assets.catalogue.model import (
    BOOL,
    DATE,
    INT,
    STRING,
    UTC_TS,
    Column,
    Partitioning,
    Table,
    columns,
)

SEVERITIES = ("ERROR", "WARN")

DATA_QUALITY_RESULTS = Table(
    layer="ops",
    name="data_quality_results",
    description=(
        "Every asset-check evaluation (pandera contracts, quarantine share, referential "
        "integrity, dimension checks, health checks, landing-zone checks): rule, asset, plant, "
        "date, run, passed, severity and the measured numbers. One row per evaluation, "
        "appended idempotently (key: evaluation_id, run_id, evaluated_at; record ids restart "
        "in a new Dagster instance)."
    ),
    columns=columns(
        Column(
            "evaluation_id",
            INT,
            "The evaluation's execution record id in the Dagster instance (unique in that "
            "instance).",
            nullable=False,
        ),
        Column(
            "rule",
            STRING,
            "The check's name (e.g. `pandera_SilverSensorReadings`).",
            nullable=False,
        ),
        Column("asset", STRING, "The asset checked (`layer/table`).", nullable=False),
        Column("plant_id", STRING, "Plant of the plant-day checked (null: unpartitioned)."),
        Column("production_date", DATE, "Date of the plant-day checked (null: unpartitioned)."),
        Column("partition_key", STRING, "The Dagster partition key (`2024-03-30|P01`)."),
        Column(
            "run_id",
            STRING,
            "The run that evaluated the check (empty: runless, e.g. a sensor).",
            nullable=False,
        ),
        Column("passed", BOOL, "Whether the check passed.", nullable=False),
        Column("severity", STRING, "ERROR or WARN.", nullable=False, isin=SEVERITIES),
        Column("description", STRING, "The evaluation's description."),
        Column("failures", INT, "Failing rows or items, when the check counts them."),
        Column("measured", STRING, "The measured numbers (JSON object: metadata name -> value)."),
        Column("evaluated_at", UTC_TS, "When the evaluation was recorded.", nullable=False),
    ),
    partitioning=Partitioning.NONE,
    unique=("evaluation_id", "run_id", "evaluated_at"),
    domain="operations",
)

OPS = {"data_quality_results": DATA_QUALITY_RESULTS}
