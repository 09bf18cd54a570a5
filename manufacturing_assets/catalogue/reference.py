"""Reference (master data): every daily snapshot of the eight entities, as landed.

Unpartitioned; cells are text (trimmed, blank = null) exactly as the snapshot CSV had them.
Only **accepted** snapshots are in the table: a snapshot is validated as a whole
(``ingest/reference.validate_snapshot``) against what is declared here (the key that is
unique per snapshot, the required columns, allowed values) and the value rules of
``ingest/reference.py`` (time zones, plant ids, numbers, timestamps); a snapshot that fails
is refused and the previous one stays in force (``docs/contract-decisions.md``).
"""

from __future__ import annotations

from manufacturing_assets.catalogue.columns import LINEAGE
from manufacturing_assets.catalogue.model import DATE, STRING, Column, Partitioning, Table, columns
from manufacturing_assets.contract import REFERENCE_ENTITIES

# The key each snapshot lists at most once (the natural key of the entity's dimension;
# mold_assignments: one row per interval).
SNAPSHOT_KEYS: dict[str, tuple[str, ...]] = {
    "plants": ("plant_id",),
    "lines": ("line_id",),
    "machines": ("machine_id",),
    "molds": ("mold_id",),
    "parts": ("part_id",),
    "mold_parts": ("mold_id",),
    "mold_assignments": ("machine_id", "mold_id", "valid_from"),
    "companies": ("company_id",),
}
# Columns a row cannot do without, besides its key (valid_to empty = still mounted).
REQUIRED: dict[str, tuple[str, ...]] = {
    "plants": ("timezone",),
    "mold_parts": ("part_id",),
}
ALLOWED: dict[tuple[str, str], tuple[str, ...]] = {
    ("companies", "company_type"): ("supplier", "customer"),
}


def _column(entity: str, name: str) -> Column:
    required = name in SNAPSHOT_KEYS[entity] or name in REQUIRED.get(entity, ())
    return Column(
        name,
        STRING,
        f"`{name}` as in the snapshot (text)" + ("; required." if required else "."),
        nullable=not required,
        isin=ALLOWED.get((entity, name)),
    )


def reference_table(entity: str) -> Table:
    names = ", ".join(f"`{c}`" for c in REFERENCE_ENTITIES[entity])
    key = ", ".join(f"`{c}`" for c in SNAPSHOT_KEYS[entity])
    return Table(
        layer="reference",
        name=entity,
        description=(
            f"Every accepted daily snapshot of master data `{entity}` ({names}) from "
            f"`reference/{entity}/snapshot_date=/`, one row per snapshot row, with `snapshot_date` "
            f"and lineage. A snapshot is validated as a whole ({key} unique, required fields, "
            "valid values); a refused snapshot is left out (the previous one stays in force) and "
            "fails the check `valid_snapshots`. Re-reading is idempotent; dimensions with history "
            "are built from it."
        ),
        columns=columns(
            Column("snapshot_date", DATE, "The `snapshot_date=` folder.", nullable=False),
            (_column(entity, c) for c in REFERENCE_ENTITIES[entity]),
            LINEAGE,
        ),
        partitioning=Partitioning.NONE,
        unique=("snapshot_date", *SNAPSHOT_KEYS[entity]),
        domain="master_data",
    )


REFERENCE = {entity: reference_table(entity) for entity in REFERENCE_ENTITIES}
