"""Reference (master data): every daily snapshot of the eight entities, as landed.

Unpartitioned; cells are text (trimmed, blank = null) exactly as the snapshot CSV had them.
"""

from __future__ import annotations

from manufacturing_assets.catalogue.columns import LINEAGE
from manufacturing_assets.catalogue.model import DATE, STRING, Column, Partitioning, Table, columns
from manufacturing_assets.contract import REFERENCE_ENTITIES


def reference_table(entity: str) -> Table:
    names = ", ".join(f"`{c}`" for c in REFERENCE_ENTITIES[entity])
    return Table(
        layer="reference",
        name=entity,
        description=(
            f"Every daily snapshot of master data `{entity}` ({names}) from "
            f"`reference/{entity}/snapshot_date=/`, one row per snapshot row, with `snapshot_date` "
            "and lineage. Re-reading is idempotent; dimensions with history are built from it."
        ),
        columns=columns(
            Column("snapshot_date", DATE, "The `snapshot_date=` folder.", nullable=False),
            (
                Column(c, STRING, f"`{c}` as in the snapshot (text).")
                for c in REFERENCE_ENTITIES[entity]
            ),
            LINEAGE,
        ),
        partitioning=Partitioning.NONE,
        domain="master_data",
    )


REFERENCE = {entity: reference_table(entity) for entity in REFERENCE_ENTITIES}
