"""The table catalogue: every table of the lake declared once (``catalogue/<layer>.py``).

``TABLES`` maps ``"layer/name"`` (the asset key as the UI shows it) to its :class:`Table`;
``catalogue/derive.py`` turns a table into its pandera contract, Dagster column schema,
typed empty frame and warehouse DDL.
"""

from __future__ import annotations

from manufacturing_assets.catalogue.bronze import BRONZE
from manufacturing_assets.catalogue.gold import GOLD
from manufacturing_assets.catalogue.marts import MARTS_TABLES
from manufacturing_assets.catalogue.model import Column, Partitioning, Table
from manufacturing_assets.catalogue.ops import OPS
from manufacturing_assets.catalogue.quarantine import QUARANTINE
from manufacturing_assets.catalogue.reference import REFERENCE
from manufacturing_assets.catalogue.silver import SILVER

TABLES: dict[str, Table] = {
    t.path: t
    for group in (REFERENCE, BRONZE, SILVER, QUARANTINE, GOLD, MARTS_TABLES, OPS)
    for t in group.values()
}


def table(path: str | list[str] | tuple[str, ...]) -> Table:
    """The table of ``"layer/name"`` or ``[layer, name]`` (an asset key path)."""
    key = path if isinstance(path, str) else "/".join(path)
    try:
        return TABLES[key]
    except KeyError:
        raise KeyError(f"no table {key!r} in the catalogue") from None


__all__ = ["TABLES", "Column", "Partitioning", "Table", "table"]
