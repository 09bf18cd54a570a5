"""Fast, fault-tolerant parsing of JSON object texts into text columns (Polars).

Every value comes back as text (design.md, "Bronze schemas"): strings as their text,
numbers as their JSON literal, nested objects/arrays as JSON text. A text that is not one
unambiguous JSON object never raises: its row gets an error message instead. How a text
reads never depends on the other texts it is parsed with (docs/contract-decisions.md,
"Bad input: how each record is read"):

- ``invalid JSON`` (``invalid JSON: <why>`` when Python's parser accepts it and Polars'
  does not, e.g. nested deeper than 1024 levels) and ``not a JSON object``;
- ``duplicated key 'k'`` when an object, at any depth, has the key ``k`` twice (which value
  was meant cannot be known; Polars would silently take one or the other depending on the
  other lines);
- ``invalid JSON: a string is not valid Unicode (unpaired surrogate escape)`` (Polars would
  silently read ``\\ud800`` as NUL);
- a number beyond the range of a double (``1e309``), which Polars' reader refuses, is kept
  as its literal text: the record stays, and silver flags that one value ``unparseable``.

The common case is one vectorised read of all texts, confirmed by counting: every colon
of a text must be accounted for by a value read (one per non-null value, plus the colons
inside it; see ``_unconfirmed``). Only texts where the count does not add up (a key
read twice keeps one value; a null value; a key not asked for; a nested object whose keys
no later parse looks at) are searched for a key token seen twice, a surrogate escape or a
raw line break, and only those that may read wrongly, or that Polars refuses, are looked at
one by one with Python's ``json`` (strict: no ``NaN``/``Infinity``).
"""

from __future__ import annotations

import json
import math
import re

import polars as pl

_KEY_RE = r'"((?:[^"\\]|\\.)*)"\s*:'
_SURROGATE_ESCAPE_RE = r"\\u[dD][89a-fA-F]"
# a JSON string or number token (exact on text that Python's parser accepted)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?')
UNPAIRED_SURROGATE = "invalid JSON: a string is not valid Unicode (unpaired surrogate escape)"


class _DuplicatedKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _DuplicatedKey(key)
        seen.add(key)
    return dict(pairs)


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _quote_overflow(match: re.Match[str]) -> str:
    token = match.group(0)
    if token[0] == '"' or math.isfinite(float(token)):
        return token
    return f'"{token}"'


def json_object_verdict(text: str) -> tuple[str | None, str | None]:
    """``(error, text to read)`` of one JSON object text, by Python's strict parser.

    ``error`` is None when the text is one unambiguous JSON object; the text to read then
    has numbers beyond the range of a double quoted (``1e309`` -> ``"1e309"``: the same
    bronze text, and Polars can read it) and raw line breaks (only possible between
    tokens) turned into spaces. A text nested deeper than Python parses is left to Polars.
    """
    overflow = False

    def number(literal: str) -> int:
        nonlocal overflow
        if not math.isfinite(float(literal)):
            overflow = True
        return 0

    try:
        value = json.loads(
            text,
            object_pairs_hook=_unique_pairs,
            parse_constant=_no_constant,
            parse_float=number,
            parse_int=number,
        )
    except _DuplicatedKey as exc:
        return f"duplicated key {exc.key!r}", None
    except RecursionError:
        return None, text.replace("\r", " ").replace("\n", " ")
    except ValueError:
        return "invalid JSON", None
    if not isinstance(value, dict):
        return "not a JSON object", None
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return UNPAIRED_SURROGATE, None
    except RecursionError:
        pass
    if overflow:
        text = _TOKEN.sub(_quote_overflow, text)
    return None, text.replace("\r", " ").replace("\n", " ")


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


def _read(texts: pl.Series, schema: dict[str, pl.DataType]) -> pl.DataFrame | str:
    """All texts (one JSON object each, no line breaks) in one read, or Polars' error."""
    if texts.len() == 0:
        return pl.DataFrame(schema=schema)
    try:
        parsed = pl.read_ndjson(texts.str.join("\n").item().encode(), schema=schema)
    except pl.exceptions.PolarsError as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if parsed.height != texts.len():
        return "not one JSON object per line"
    return parsed


def _read_each(texts: pl.Series, schema: dict[str, pl.DataType]) -> tuple[pl.DataFrame, list]:
    """Read the texts; the ones Polars refuses (found by bisection) get a null row and an
    ``invalid JSON: <Polars' error>``."""
    parsed = _read(texts, schema)
    if isinstance(parsed, pl.DataFrame):
        return parsed, [None] * texts.len()
    if texts.len() == 1:
        return pl.DataFrame([pl.Series(k, [None], dtype=t) for k, t in schema.items()]), [
            f"invalid JSON: {parsed}"
        ]
    mid = texts.len() // 2
    left, left_errors = _read_each(texts[:mid], schema)
    right, right_errors = _read_each(texts[mid:], schema)
    return pl.concat([left, right]), left_errors + right_errors


def _needs_a_look(texts: pl.Series) -> pl.Series:
    """Texts Polars could read wrongly: a key token seen twice (a duplicated key, or the same
    name in two objects), a surrogate escape, a raw line break."""
    keys = texts.str.extract_all(_KEY_RE)
    repeated = keys.list.len() != keys.list.n_unique()
    odd = texts.str.contains(_SURROGATE_ESCAPE_RE) | texts.str.contains("[\r\n]")
    return (repeated | odd).fill_null(False)


def _colons(expr: pl.Expr) -> pl.Expr:
    return expr.str.count_matches(":", literal=True)


def _unconfirmed(
    present: pl.Series, parsed: pl.DataFrame, nested_checked: tuple[str, ...]
) -> pl.Series:
    """Texts the vectorised read does not confirm; only these need :func:`_needs_a_look`.

    Every key of a JSON object is followed by one colon; every other colon is inside a
    string, where the value read has it too (Polars renders a nested value as JSON text,
    duplicated keys included). So when nothing is lost, a text's colons are one per value
    read plus the colons inside the values, and a key read twice (Polars keeps one value)
    leaves colons unaccounted for. Also in doubt: a null value or a key not asked for
    (colons unaccounted for), a ``\\u`` escape (a decoded ``\\u003a`` is a colon the text
    does not show), and a nested value whose keys no later strict parse looks at
    (``nested_checked`` names the fields the caller parses again)."""
    accounted = [
        pl.when(pl.col(c).is_null()).then(0).otherwise(1 + _colons(pl.col(c)))
        for c in parsed.columns
    ]
    unchecked = [
        (pl.col(c).str.contains(r"^[\[{]") & (_colons(pl.col(c)) > 0)).fill_null(False)
        for c in parsed.columns
        if c not in nested_checked
    ]
    text = pl.col("__text")
    frame = parsed.with_columns(present.alias("__text"))
    out = frame.select(
        (_colons(text) != pl.sum_horizontal(accounted))
        | text.str.contains("\\u", literal=True)
        | pl.any_horizontal(unchecked or [pl.lit(False)])
    ).to_series()
    return out.fill_null(True)


def _look(present: pl.Series, parsed: pl.DataFrame, nested_checked: tuple[str, ...]) -> pl.Series:
    """:func:`_needs_a_look`, on the texts :func:`_unconfirmed` leaves in doubt only."""
    doubtful = _unconfirmed(present, parsed, nested_checked)
    look = pl.Series("look", [False] * present.len(), dtype=pl.Boolean)
    at = doubtful.arg_true()
    if at.len():
        look.scatter(at, _needs_a_look(present.gather(at)))
    return look


def _spread(frame: pl.DataFrame, at: pl.Series, n: int) -> pl.DataFrame:
    """An ``n``-row frame with the rows of ``frame`` at positions ``at`` (others null)."""
    if frame.height == n:
        return frame
    return (
        pl.DataFrame({"_row": at.cast(pl.Int64)})
        .hstack(frame)
        .join(pl.DataFrame({"_row": pl.int_range(0, n, eager=True)}), on="_row", how="right")
        .sort("_row")
        .select(frame.columns)
    )


def _parse(
    texts: pl.Series, keys: list[str], strict: bool = True, nested_checked: tuple[str, ...] = ()
) -> tuple[pl.DataFrame, pl.Series]:
    """One vectorised read when every text is fine; else a look at the doubtful ones."""
    n = texts.len()
    schema: dict[str, pl.DataType] = {k: pl.String() for k in keys} or {"_": pl.String()}
    rows = texts.is_not_null().arg_true()
    present = texts.filter(texts.is_not_null())
    errors = pl.Series("error", [None] * present.len(), dtype=pl.String)
    parsed: pl.DataFrame | str | None = _read(present, schema)
    if not strict:
        look = pl.Series([False] * present.len(), dtype=pl.Boolean)
    elif isinstance(parsed, pl.DataFrame) and keys:
        look = _look(present, parsed, nested_checked)
    else:
        look = _needs_a_look(present)
    if look.any():
        parsed = None
    if not isinstance(parsed, pl.DataFrame):
        stripped = present.str.strip_chars()
        refused = present.str.json_path_match("$").is_null() | ~(
            stripped.str.starts_with("{") & stripped.str.ends_with("}")
        )
        at = (look | refused.fill_null(True) | present.str.contains("[\r\n]")).arg_true()
        verdicts = [json_object_verdict(t) for t in present.gather(at).to_list()]
        if verdicts:
            errors.scatter(at, pl.Series([e for e, _ in verdicts], dtype=pl.String))
            present.scatter(at, pl.Series([t for _, t in verdicts], dtype=pl.String))
        readable = errors.is_null().arg_true()
        read, read_errors = _read_each(present.gather(readable), schema)
        if any(e is not None for e in read_errors):
            errors.scatter(readable, pl.Series(read_errors, dtype=pl.String))
        parsed = _spread(read, readable, present.len())
    out_errors = pl.Series("error", [None] * n, dtype=pl.String)
    if rows.len():
        out_errors.scatter(rows, errors)
    if not keys:
        return pl.DataFrame(height=n), out_errors
    return _spread(parsed.select(keys), rows, n), out_errors


def parse_json_objects(
    texts: pl.Series,
    fields: tuple[str, ...] | None,
    discover: bool = False,
    strict: bool = True,
    nested_checked: tuple[str, ...] = (),
) -> tuple[pl.DataFrame, pl.Series]:
    """Parse one JSON object text per row.

    Returns a frame of String columns (``fields``, plus any other keys found when
    ``discover``) with one row per input row, and an error Series (null where the text is
    a JSON object or null/blank; otherwise why it is not one unambiguous JSON object, see
    the module docstring). ``strict=False`` skips the look for duplicated keys and
    surrogates: for texts Polars itself rendered from a line that was already checked.
    ``nested_checked``: fields whose nested objects the caller parses again strictly (their
    inner keys are checked there, not here).
    """
    keys = list(fields or ())
    texts = texts.cast(pl.String)
    texts = pl.select(
        pl.when(texts.str.strip_chars() == "").then(None).otherwise(texts).alias("t")
    ).to_series()
    parsed, errors = _parse(texts, keys, strict, nested_checked)
    if discover:
        valid = texts.filter(errors.is_null())
        sub = parsed.filter(errors.is_null()) if parsed.width else pl.DataFrame()
        extra = _discover_keys(valid, sub, keys)
        if extra:
            masked = pl.select(pl.when(errors.is_null()).then(texts)).to_series()
            more, _ = _parse(masked, extra, strict=False)
            more = more.select([c for c in extra if more[c].null_count() < more.height])
            parsed = parsed.hstack(more) if parsed.width else more
    if not keys and parsed.width == 0:
        return pl.DataFrame(height=texts.len()), errors
    return parsed, errors
