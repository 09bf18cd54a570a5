"""Schema policy for writes into existing Delta tables.

Compared column by column, table schema (existing) against frame schema (new), in Polars
dtypes after :func:`normalize_frame`:

* **New column** in the frame: added to the table (``schema_mode="merge"``); rows already
  in the table read it as null. Reported as ``schema_change``.
* **Column missing** from the frame: kept in the table; the written rows get null there.
  Reported as ``null_filled_columns``.
* **Same type**: written as is.
* **Frame narrower than the table** (the table type is a safe widening of the frame type,
  e.g. an ``Int32`` frame column into an ``Int64`` table column): the frame is cast up.
  Not a schema change.
* **Frame wider than the table** (safe widening of the table column, e.g. ``Int32`` ->
  ``Int64``): the table column is widened. Delta cannot widen a column in place here, so
  the whole table is rewritten once in the same commit as the partition write (cost
  proportional to the table size). Reported as ``schema_change``.
* **Anything else is refused** with :class:`SchemaChangeRefused` naming the table, the
  column and both types; nothing is written. (Left alone, deltalake would silently cast:
  floats truncated into integers, numeric strings parsed into numbers.)

Safe widenings (lossless, the Delta Lake type-widening set): ``Int8 -> Int16 -> Int32 ->
Int64``; ``Float32 -> Float64``; ``Int8/Int16/Int32 -> Float64`` (``Int64 -> Float64`` is
refused: it loses precision above 2**53); ``Decimal(p, s) -> Decimal(p + k1, s + k2)`` with
``k1 >= k2 >= 0``. ``Date -> Datetime`` is refused on purpose: a date column that turns
into a timestamp is almost always a bug (and it would break the partition predicates).
Nested types (List, Struct, ...) must match exactly.

Before comparing, frames are normalized to what Delta stores: ``Categorical``/``Enum`` ->
``String``; ``Datetime`` -> microseconds, time-zone-aware -> ``UTC``; unsigned integers ->
the next wider signed integer (``UInt64`` -> ``Int64``, failing on overflow). A column of
dtype ``Null`` (all nulls, no type) takes the table's type; as a new column it is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

_INT_ORDER = [pl.Int8, pl.Int16, pl.Int32, pl.Int64]
_UNSIGNED_TO_SIGNED = [
    (pl.UInt8, pl.Int16),
    (pl.UInt16, pl.Int32),
    (pl.UInt32, pl.Int64),
    (pl.UInt64, pl.Int64),
]


class SchemaChangeRefused(ValueError):
    """A frame's column types are incompatible with the existing Delta table."""


@dataclass(frozen=True)
class SchemaPlan:
    """What a write does to the table schema (see the module docstring)."""

    added: dict[str, pl.DataType] = field(default_factory=dict)
    widened: dict[str, tuple[pl.DataType, pl.DataType]] = field(default_factory=dict)
    null_filled: list[str] = field(default_factory=list)
    frame_casts: dict[str, pl.DataType] = field(default_factory=dict)

    @property
    def description(self) -> str | None:
        """Human text for the ``schema_change`` metadata, or None when the schema is unchanged."""
        parts = []
        if self.added:
            parts.append("added: " + ", ".join(f"{c} ({t})" for c, t in self.added.items()))
        if self.widened:
            parts.append(
                "widened: " + ", ".join(f"{c} ({a} -> {b})" for c, (a, b) in self.widened.items())
            )
        return "; ".join(parts) or None


def normalize_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Cast dtypes Delta cannot store as they are to their Delta equivalents."""
    casts: dict[str, pl.DataType] = {}
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Categorical | pl.Enum):
            casts[name] = pl.String()
        elif isinstance(dtype, pl.Datetime) and (
            dtype.time_unit != "us" or dtype.time_zone not in (None, "UTC")
        ):
            casts[name] = pl.Datetime("us", "UTC" if dtype.time_zone else None)
        elif dtype.is_unsigned_integer():
            casts[name] = next(signed() for u, signed in _UNSIGNED_TO_SIGNED if dtype == u)
    return frame.cast(casts, strict=True) if casts else frame  # type: ignore[arg-type]


def is_safe_widening(old: pl.DataType, new: pl.DataType) -> bool:
    """True when every value of type ``old`` is represented exactly in type ``new``."""
    if old == new:
        return True
    if old in _INT_ORDER and new in _INT_ORDER:
        return _INT_ORDER.index(old) < _INT_ORDER.index(new)
    if old == pl.Float32 and new == pl.Float64:
        return True
    if old in (pl.Int8, pl.Int16, pl.Int32) and new == pl.Float64:
        return True
    if isinstance(old, pl.Decimal) and isinstance(new, pl.Decimal):
        grow_precision = (new.precision or 38) - (old.precision or 38)
        grow_scale = new.scale - old.scale
        return grow_precision >= grow_scale >= 0
    return False


def reconcile_schema(table: str, existing: pl.Schema, new: pl.Schema) -> SchemaPlan:
    """Apply the policy to a write of ``new`` into a table whose schema is ``existing``.

    Raises :class:`SchemaChangeRefused` listing every refused column.
    """
    plan = SchemaPlan(null_filled=[c for c in existing if c not in new])
    refused = []
    for name, new_type in new.items():
        old_type = existing.get(name)
        if old_type is None:
            if new_type == pl.Null:
                refused.append(f"new column '{name}' has no type (all null, dtype Null)")
            else:
                plan.added[name] = new_type
        elif new_type == old_type:
            continue
        elif new_type == pl.Null or is_safe_widening(new_type, old_type):
            plan.frame_casts[name] = old_type
        elif is_safe_widening(old_type, new_type):
            plan.widened[name] = (old_type, new_type)
        else:
            refused.append(f"column '{name}': existing type {old_type}, new type {new_type}")
    if refused:
        raise SchemaChangeRefused(
            f"Refusing incompatible schema change for Delta table '{table}' "
            f"(only new columns and safe widenings are allowed): " + "; ".join(refused)
        )
    return plan
