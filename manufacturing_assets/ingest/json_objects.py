"""Fast, fault-tolerant parsing of JSON object texts into text columns (Polars).

Every value comes back as text (design.md, "Bronze schemas"): strings as their text,
numbers as their JSON literal, nested objects/arrays as JSON text. A text that is not a
JSON object never raises: its row gets an error message instead.
"""

from __future__ import annotations

import polars as pl

_KEY_RE = r'"((?:[^"\\]|\\.)*)"\s*:'


def _discover_keys(texts: pl.Series, parsed: pl.DataFrame, known: list[str]) -> list[str]:
    """Keys beyond ``known``: only rows with more ``":`` than parsed values are scanned."""
    if texts.len() == 0:
        return []
    seen = (
        parsed.select(pl.sum_horizontal(pl.all().is_not_null())).to_series() if parsed.width else 0
    )
    suspicious = texts.filter((texts.str.count_matches('":', literal=True) > seen).fill_null(False))
    if suspicious.len() == 0:
        return []
    found = suspicious.str.extract_all(_KEY_RE).explode().drop_nulls().unique().sort()
    extra = []
    for raw in found.to_list():
        key = raw[1 : raw.rindex('"')]
        if key not in known and key not in extra:
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


def _parse(texts: pl.Series, keys: list[str]) -> tuple[pl.DataFrame, pl.Series]:
    """Parse with the fastest path that works: vectorised decode, NDJSON, then per text."""
    n = texts.len()
    schema: dict[str, pl.DataType] = {k: pl.String() for k in keys} or {"_": pl.String()}
    no_errors = pl.Series("error", [None] * n, dtype=pl.String)
    try:  # fails as a whole on any invalid text or nested value
        decoded = texts.str.json_decode(pl.Struct(schema)).struct.unnest()
        return decoded.select(keys), no_errors
    except pl.exceptions.PolarsError:
        pass
    frame = pl.DataFrame({"text": texts}).with_row_index("_row")
    present = frame.filter(pl.col("text").is_not_null())
    parsed = _read_objects(present["text"], schema) if present.height else None
    if parsed is not None:
        errors = no_errors
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
    parsed = parsed.select(keys)
    if parsed.height == n:
        return parsed, errors
    out = (
        frame.select("_row")
        .join(parsed.with_columns(rows.alias("_row")), on="_row", how="left")
        .sort("_row")
        .drop("_row")
    )
    return out, errors


def parse_json_objects(
    texts: pl.Series, fields: tuple[str, ...] | None, discover: bool = False
) -> tuple[pl.DataFrame, pl.Series]:
    """Parse one JSON object text per row.

    Returns a frame of String columns (``fields``, plus any other keys found when
    ``discover``) with one row per input row, and an error Series (null where the text is
    a JSON object or null/blank; otherwise ``invalid JSON`` or ``not a JSON object``).
    """
    keys = list(fields or ())
    texts = texts.cast(pl.String)
    texts = pl.select(
        pl.when(texts.str.strip_chars() == "").then(None).otherwise(texts).alias("t")
    ).to_series()
    parsed, errors = _parse(texts, keys)
    if discover:
        valid = texts.filter(errors.is_null())
        sub = parsed.filter(errors.is_null()) if parsed.width else pl.DataFrame()
        extra = _discover_keys(valid, sub, keys)
        if extra:
            more, _ = _parse(pl.select(pl.when(errors.is_null()).then(texts)).to_series(), extra)
            more = more.select([c for c in extra if more[c].null_count() < more.height])
            parsed = parsed.hstack(more) if parsed.width else more
    if not keys and parsed.width == 0:
        return pl.DataFrame(height=texts.len()), errors
    return parsed, errors
