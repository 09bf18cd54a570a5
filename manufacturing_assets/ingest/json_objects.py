"""Fast, fault-tolerant parsing of JSON object texts into text columns (Polars).

Every value comes back as text (design.md, "Bronze schemas"): strings as their text,
numbers as their JSON literal, nested objects/arrays as JSON text. A text that is not a
JSON object never raises: its row gets an error message instead.
"""

from __future__ import annotations

import re

import polars as pl

_KEY_RE = r'"((?:[^"\\]|\\.)*)"\s*:'


def _discover_keys(texts: pl.Series, known: tuple[str, ...]) -> list[str]:
    """Keys present in the objects beyond ``known`` (cheap check first, full scan on the rest)."""
    if texts.len() == 0:
        return []
    all_keys = texts.str.count_matches('":', literal=True)
    if known:
        known_re = '"(' + "|".join(re.escape(k) for k in known) + r')"\s*:'
        suspicious = texts.filter(all_keys > texts.str.count_matches(known_re))
    else:
        suspicious = texts.filter(all_keys > 0)
    if suspicious.len() == 0:
        return []
    found = suspicious.str.extract_all(_KEY_RE).explode().drop_nulls().unique().sort()
    extra = []
    for raw in found.to_list():
        key = raw[1 : raw.rindex('"')]
        if key not in known:
            extra.append(key)
    return extra


def _read_objects(texts: pl.Series, schema: dict[str, pl.DataType]) -> pl.DataFrame | None:
    """Parse texts that should all be JSON objects in one go; None if any is not."""
    if texts.str.contains("\n", literal=True).any():
        return None
    try:
        parsed = pl.read_ndjson(texts.str.join("\n").item().encode(), schema=schema)
    except pl.exceptions.PolarsError:
        return None
    return parsed if parsed.height == texts.len() else None


def parse_json_objects(
    texts: pl.Series, fields: tuple[str, ...] | None, discover: bool = False
) -> tuple[pl.DataFrame, pl.Series]:
    """Parse one JSON object text per row.

    Returns a frame of String columns (``fields``, plus any other keys found when
    ``discover``) with one row per input row, and an error Series (null where the text is
    a JSON object or null; otherwise ``invalid JSON`` or ``not a JSON object``).
    """
    n = texts.len()
    keys = list(fields or ())
    if discover:
        keys += _discover_keys(texts.drop_nulls(), tuple(keys))
    schema: dict[str, pl.DataType] = {k: pl.String() for k in keys} or {"_": pl.String()}
    frame = pl.DataFrame({"text": texts}).with_row_index("_row")
    present = frame.filter(pl.col("text").is_not_null() & (pl.col("text").str.strip_chars() != ""))
    parsed = _read_objects(present["text"], schema) if present.height else None
    if parsed is not None:
        errors = pl.Series("error", [None] * n, dtype=pl.String)
        rows = present["_row"]
    else:
        root = present["text"].str.json_path_match("$")
        classified = present.select(
            "_row",
            pl.Series("root", root),
            pl.when(root.is_null())
            .then(pl.lit("invalid JSON"))
            .when(~root.str.starts_with("{"))
            .then(pl.lit("not a JSON object"))
            .otherwise(None)
            .alias("error"),
        )
        errors = (
            frame.select("_row")
            .join(classified.select("_row", "error"), on="_row", how="left")
            .sort("_row")["error"]
        )
        valid = classified.filter(pl.col("error").is_null())
        parsed = (
            _read_objects(valid["root"], schema) if valid.height else pl.DataFrame(schema=schema)
        )
        rows = valid["_row"]
    if not keys:
        return pl.DataFrame(height=n), errors
    parsed = parsed.select(keys)
    if discover:  # a key seen only nested inside another value is not a column
        extra = [
            k for k in keys if k not in (fields or ()) and parsed[k].null_count() == parsed.height
        ]
        parsed = parsed.drop(extra)
    if parsed.height == n:
        return parsed, errors
    out = (
        frame.select("_row")
        .join(parsed.with_columns(rows.alias("_row")), on="_row", how="left")
        .sort("_row")
        .drop("_row")
    )
    return out, errors
