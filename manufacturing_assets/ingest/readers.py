"""Landing-zone files -> bronze rows (Polars). The IO side of bronze: nothing is validated
here beyond "can this be read", every record is kept as landed with its lineage.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zlib
from dataclasses import dataclass
from datetime import date, datetime

import polars as pl

from manufacturing_assets.catalogue.bronze import BRONZE, STREAM_FIELDS
from manufacturing_assets.contract import CONTENT_PREFIX, CORE_METRICS, METRIC_PREFIX, SHOT_MEASURES
from manufacturing_assets.ingest.json_objects import parse_json_objects
from manufacturing_assets.resources.landing_zone import sha256_hex

# Top-level record fields kept per stream (design.md, "Bronze schemas").
_NESTED = {"sensor_readings": "metrics"}
KNOWN_METRICS = (*CORE_METRICS, "temperature_f")
KEY_RE = re.compile(
    r"^raw/(?P<stream>[^/]+)/plant=(?P<plant>[^/]+)/date=(?P<date>\d{4}-\d{2}-\d{2})/(?P<name>[^/]+)$"
)
FORMATS = (".jsonl.gz", ".jsonl", ".csv", ".parquet")


@dataclass(frozen=True)
class LandingKey:
    stream: str
    plant_id: str
    landing_date: date
    name: str

    @property
    def file_format(self) -> str | None:
        return next((f[1:] for f in FORMATS if self.name.endswith(f)), None)


def parse_landing_key(key: str) -> LandingKey | None:
    """``raw/<stream>/plant=<P>/date=<D>/<name>`` -> parts, or None if the key is elsewhere."""
    m = KEY_RE.match(key)
    if not m:
        return None
    try:
        d = date.fromisoformat(m["date"])
    except ValueError:
        return None
    return LandingKey(m["stream"], m["plant"], d, m["name"])


def bronze_columns(stream: str) -> dict[str, pl.DataType]:
    """The fixed part of a bronze table's schema (metric/content columns are open-ended),
    as the catalogue declares it (``catalogue/bronze.py``)."""
    return BRONZE[stream].schema


_BOM = b"\xef\xbb\xbf"
_BLANK = re.compile(rb"\s*\Z")  # a file of nothing but whitespace has no records
_BLANK_LINE = re.compile(rb"(?:\A|\n)\r?\n")
_BAD_BYTE = re.compile("[\udc80-\udcff]")  # an undecodable byte, as surrogateescape reads it
_GZIP_BLOCK = 1 << 16
_GZIP_EOF = "Compressed file ended before the end-of-stream marker was reached"


def _utf8_error(exc: UnicodeDecodeError, offset: int, line: int) -> str:
    byte = exc.object[exc.start]
    return f"invalid UTF-8: byte 0x{byte:02x} at byte offset {offset + exc.start} (line {line})"


def _lines(data: bytes) -> pl.DataFrame:
    """Split text into lines with 1-based line numbers, dropping blank lines.

    A UTF-8 byte-order mark at the start is not part of the first line. A line that is not
    UTF-8 is kept (undecodable bytes as ``\\xNN``) with ``parse_error`` naming its byte
    offset; the other lines are read (columns raw_payload, line_number, parse_error).
    """
    start = len(_BOM) if data.startswith(_BOM) else 0
    try:
        data[start:].decode("utf-8")
        utf8 = True
    except UnicodeDecodeError:
        utf8 = False
    frame = None
    if utf8:
        try:
            frame = pl.read_csv(
                data[start:],
                has_header=False,
                separator="\x1f",
                quote_char=None,
                schema={"raw_payload": pl.String},
                eol_char="\n",
            )
        except pl.exceptions.PolarsError:
            frame = None
        if frame is not None:
            frame = frame.with_columns(pl.lit(None, pl.String).alias("parse_error"))
    if frame is None:
        payloads: list[str] = []
        errors: list[str | None] = []
        offset = start
        for number, raw in enumerate(data[start:].split(b"\n"), 1):
            try:
                payloads.append(raw.decode("utf-8"))
                errors.append(None)
            except UnicodeDecodeError as exc:
                payloads.append(raw.decode("utf-8", "backslashreplace"))
                errors.append(_utf8_error(exc, offset, number))
            offset += len(raw) + 1
        if data.endswith(b"\n"):  # the text after the last line break is not a line
            payloads.pop()
            errors.pop()
        frame = pl.DataFrame(
            {"raw_payload": payloads, "parse_error": errors},
            schema={"raw_payload": pl.String, "parse_error": pl.String},
        )
    frame = frame.with_columns(
        pl.col("raw_payload").str.strip_suffix("\r"),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("line_number"),
    )
    return frame.filter(
        pl.col("parse_error").is_not_null()
        | (pl.col("raw_payload").is_not_null() & (pl.col("raw_payload").str.strip_chars() != ""))
    ).select("raw_payload", "line_number", "parse_error")


def _flatten(stream: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Open nested objects into prefixed text columns (metrics, shot content)."""
    if stream == "sensor_readings" and "metrics" in frame.columns:
        # the metrics object as Polars renders it (duplicated keys kept): the line's check
        # left its keys to this strict parse, whose verdict is the line's (all values null)
        metrics, err = parse_json_objects(frame["metrics"], KNOWN_METRICS, discover=True)
        frame = frame.drop("metrics").hstack(metrics.rename(lambda c: METRIC_PREFIX + c))
        if err.null_count() < err.len():
            bad = pl.lit(err).is_not_null() & pl.col("parse_error").is_null()
            values = [c for c in frame.columns if c not in ("raw_payload", "line_number")]
            frame = frame.with_columns(
                pl.when(bad).then(None).otherwise(pl.col(c)).alias(c)
                for c in values
                if c != "parse_error"
            ).with_columns(pl.coalesce(pl.col("parse_error"), pl.lit(err)).alias("parse_error"))
        frame = frame.select(
            [c for c in frame.columns if not c.startswith(METRIC_PREFIX)]
            + [
                c
                for c in frame.columns
                if c.startswith(METRIC_PREFIX) and frame[c].null_count() < frame.height
            ]
        )
    if stream == "shots":
        # content is a JSON document of its own (a string): checked like a line
        content, err = parse_json_objects(frame["content"], SHOT_MEASURES, discover=True)
        content = content.select(
            [c for c in content.columns if content[c].null_count() < content.height]
        )
        frame = frame.hstack(content.rename(lambda c: CONTENT_PREFIX + c)).with_columns(
            err.alias("content_error")
        )
    return frame


# A metric value the one-read path may keep: a plain decimal (no exponent, not negative
# zero, few digits), which reads to the same text whichever way it is read; any other
# value sends its line to the careful path.
_PLAIN_METRIC = r"^-?(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{1,15})?$"
_NEGATIVE_ZERO = r"^-0(?:\.0*)?$"


def _colons(expr: pl.Expr) -> pl.Expr:
    return expr.str.count_matches(":", literal=True)


def _read_sensor_lines_at_once(data: bytes, lines: pl.DataFrame) -> pl.DataFrame | None:
    """Sensor-reading lines in one read of the file (``metrics`` as a struct), or None when
    the file needs the careful path as a whole (bytes that are not UTF-8, blank lines,
    carriage returns, a line Polars refuses).

    A line keeps this read only when it is confirmed by counting (as in
    ``ingest/json_objects``): every colon of the line is one per value read (top-level and
    metric) plus the colons inside the values, there is no ``\\u`` escape, no top-level
    value is a nested object with keys, and every metric value is a plain decimal. The
    other lines (a duplicated or unknown key, a null, anything unusual) are read by the
    careful path (:func:`_parse_lines`), which gives what it always gives; how a line reads
    never depends on the other lines."""
    if lines.is_empty() or lines["parse_error"].null_count() != lines.height:
        return None
    body = data[len(_BOM) :] if data.startswith(_BOM) else data
    if b"\r" in body:
        return None
    if body.count(b"\n") + (0 if body.endswith(b"\n") else 1) != lines.height:
        return None  # blank lines: line numbers would not line up
    fields = STREAM_FIELDS["sensor_readings"]
    schema = {f: pl.String() for f in fields} | {
        "metrics": pl.Struct({m: pl.String() for m in KNOWN_METRICS})
    }
    try:
        parsed = pl.read_ndjson(body, schema=schema)
    except pl.exceptions.PolarsError:
        return None
    if parsed.height != lines.height:
        return None
    metrics = [pl.col("metrics").struct.field(m) for m in KNOWN_METRICS]
    top = [pl.col(f) for f in fields]
    accounted = [pl.when(v.is_null()).then(0).otherwise(1 + _colons(v)) for v in top]
    in_metrics = 1 + pl.sum_horizontal(
        [pl.when(v.is_null()).then(0).otherwise(1 + _colons(v)) for v in metrics]
    )
    accounted.append(pl.when(pl.col("metrics").is_null()).then(0).otherwise(in_metrics))
    nested = [(v.str.contains(r"^[\[{]") & (_colons(v) > 0)).fill_null(False) for v in top]
    unusual = [
        (~v.str.contains(_PLAIN_METRIC) | v.str.contains(_NEGATIVE_ZERO)).fill_null(False)
        for v in metrics
    ]
    text = pl.col("raw_payload")
    frame = pl.concat([lines, parsed], how="horizontal")
    confirmed = frame.select(
        (
            (_colons(text) == pl.sum_horizontal(accounted))
            & ~text.str.contains("\\u", literal=True)
            & ~pl.any_horizontal(nested)
            & ~pl.any_horizontal(unusual)
        ).fill_null(False)
    ).to_series()
    read = (
        frame.filter(confirmed)
        .with_columns(
            [v.alias(METRIC_PREFIX + m) for m, v in zip(KNOWN_METRICS, metrics, strict=True)]
        )
        .drop("metrics")
    )
    if confirmed.all():
        out = read
    else:
        careful = _parse_lines("sensor_readings", lines.filter(~confirmed))
        out = pl.concat([read, careful], how="diagonal_relaxed").sort("line_number")
    return out.select(
        [
            c
            for c in out.columns
            if not c.startswith(METRIC_PREFIX) or out[c].null_count() < out.height
        ]
    )


def _read_jsonl(stream: str, data: bytes) -> pl.DataFrame:
    lines = _lines(data)
    if stream == "sensor_readings":
        frame = _read_sensor_lines_at_once(data, lines)
        if frame is not None:
            return frame
    return _parse_lines(stream, lines)


def _parse_lines(stream: str, lines: pl.DataFrame) -> pl.DataFrame:
    """Lines (raw_payload, line_number, parse_error) -> bronze columns, each line checked."""
    fields = STREAM_FIELDS[stream] + ((_NESTED[stream],) if stream in _NESTED else ())
    texts = lines.select(
        pl.when(pl.col("parse_error").is_null()).then(pl.col("raw_payload"))
    ).to_series()
    # nested objects that _flatten parses again (strictly) are checked there
    values, errors = parse_json_objects(texts, fields, nested_checked=tuple(_NESTED.values()))
    frame = lines.hstack(values).with_columns(
        pl.coalesce(pl.col("parse_error"), errors).alias("parse_error")
    )
    return _flatten(stream, frame)


def _gunzip(data: bytes) -> tuple[bytes, Exception | None, int]:
    """Every gzip member decompressed; on a truncated or corrupt stream, the bytes
    decompressed before the break, the error and the compressed offset it was found at."""
    out = bytearray()
    pos, size = 0, len(data)
    while pos < size:
        inflater = zlib.decompressobj(wbits=31)
        block = pos
        try:
            while block < size and not inflater.eof:
                out += inflater.decompress(data[block : block + _GZIP_BLOCK])
                block += _GZIP_BLOCK
        except zlib.error as exc:
            return bytes(out), exc, block
        if not inflater.eof:
            out += inflater.flush()
            return bytes(out), EOFError(_GZIP_EOF), size
        pos = min(block, size) - len(inflater.unused_data)
        if not data[pos:].strip(b"\x00"):  # zero padding after the last member is allowed
            break
    return bytes(out), None, size


def _read_jsonl_gz(stream: str, data: bytes) -> pl.DataFrame:
    """Gzipped JSON lines. A truncated or corrupt stream keeps every complete line before
    the break (each a record) plus one row for the broken tail naming where it starts; with
    no complete line before the break the file is unreadable."""
    text, broken, at = _gunzip(data)
    if broken is None:
        return _read_jsonl(stream, text)
    complete = text.rfind(b"\n") + 1
    if complete == 0:
        raise broken
    frame = _read_jsonl(stream, text[:complete])
    tail = text[complete:]
    line = text.count(b"\n", 0, complete) + 1
    error = (
        f"truncated gzip: {type(broken).__name__}: {broken} (compressed byte {at} of "
        f"{len(data)}); lines 1-{line - 1} were read, the rest from line {line} "
        f"(decompressed byte offset {complete}) is lost"
    )
    row = pl.DataFrame(
        {
            "line_number": [line],
            "raw_payload": [tail.decode("utf-8", "backslashreplace") if tail else None],
            "parse_error": [error],
        },
        schema={"line_number": pl.Int64, "raw_payload": pl.String, "parse_error": pl.String},
    )
    return pl.concat([frame, row], how="diagonal_relaxed")


def _empty() -> pl.DataFrame:
    return pl.DataFrame(
        schema={"line_number": pl.Int64, "parse_error": pl.String, "raw_payload": pl.String}
    )


def _read_csv(stream: str, data: bytes) -> pl.DataFrame:
    fixed = STREAM_FIELDS[stream]
    data = data.removeprefix(_BOM)
    if _BLANK.match(data):  # zero bytes (or only blanks): a file with no records
        return _empty()
    frame = None
    if not _BLANK_LINE.search(data):  # Polars reads a blank line as a row of empty cells
        try:
            frame = pl.read_csv(data, infer_schema=False)
        except pl.exceptions.PolarsError:  # ragged rows, not UTF-8: row by row below
            frame = None
        if frame is not None and any("_duplicated_" in c for c in frame.columns):
            frame = None  # a duplicated header name: decided row by row below
    if frame is not None:
        frame = frame.with_columns(
            pl.int_range(2, pl.len() + 2, dtype=pl.Int64).alias("line_number"),
            pl.lit(None, pl.String).alias("parse_error"),
        )
    else:
        frame = _read_csv_slow(data)
    cells = [c for c in frame.columns if c not in ("line_number", "parse_error", "raw_payload")]
    payload = pl.struct(cells).struct.json_encode() if cells else pl.lit(None, pl.String)
    frame = frame.with_columns(
        pl.when(pl.col("parse_error").is_null())
        .then(payload)
        .otherwise(pl.col("raw_payload") if "raw_payload" in frame.columns else None)
        .alias("raw_payload")
    )
    frame = frame.with_columns(
        [
            pl.when(pl.col(c).str.strip_chars() == "").then(None).otherwise(pl.col(c)).alias(c)
            for c in cells
        ]
    )
    rename = {}
    for c in cells:
        if c not in fixed:
            rename[c] = (METRIC_PREFIX + c) if stream == "sensor_readings" else c
    frame = frame.rename(rename)
    if stream == "shots" and "content" in frame.columns:
        frame = _flatten(stream, frame)
    return frame


def _readable(cell: str) -> str:
    return cell.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _read_csv_slow(data: bytes) -> pl.DataFrame:
    """Row-by-row CSV for files Polars refuses or would misread: a row longer than the
    header, a row with bytes that are not UTF-8 (named with its line) and every row of a
    file whose header names a column twice get a ``parse_error``; a short row reads its
    missing trailing cells as empty; blank lines are not rows."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", "surrogateescape")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        return _empty()
    header_error = None
    if any(_BAD_BYTE.search(h) for h in header):
        header_error = "invalid UTF-8 in the CSV header (line 1)"
    else:
        repeated = sorted({h for h in header if header.count(h) > 1})
        if repeated:
            header_error = (
                "duplicated column " + ", ".join(map(repr, repeated)) + " in the CSV header"
            )
    names = [_readable(h) for h in header]
    rows: list[dict[str, str | int | None]] = []
    for row in reader:
        line_no = reader.line_num
        if not row:
            continue
        error = header_error
        bad = next((i for i, cell in enumerate(row) if _BAD_BYTE.search(cell)), None)
        if error is None and bad is not None:
            char = _BAD_BYTE.search(row[bad]).group(0)  # type: ignore[union-attr]
            column = names[bad] if bad < len(names) else f"#{bad + 1}"
            error = (
                f"invalid UTF-8: byte 0x{ord(char) - 0xDC00:02x} in line {line_no}, "
                f"column {column!r}"
            )
        if error is None and len(row) > len(header):
            error = f"malformed CSV row: expected {len(header)} fields, got {len(row)}"
        if error is not None:
            rows.append(
                {
                    "line_number": line_no,
                    "parse_error": error,
                    "raw_payload": json.dumps([_readable(c) for c in row], ensure_ascii=False),
                }
            )
            continue
        # an empty cell is null, as Polars reads it (the raw payload is the same either way)
        cells = [c if c != "" else None for c in row] + [None] * (len(header) - len(row))
        rows.append(
            {"line_number": line_no, "parse_error": None, **dict(zip(header, cells, strict=True))}
        )
    columns = [] if header_error else header
    schema = {h: pl.String for h in columns} | {
        "line_number": pl.Int64,
        "parse_error": pl.String,
        "raw_payload": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


def _read_parquet(data: bytes) -> pl.DataFrame:
    if not data:  # zero bytes: a file with no records
        return _empty()
    frame = pl.read_parquet(data)
    frame = frame.with_columns(
        [pl.col(c).cast(pl.String) for c, t in frame.schema.items() if t != pl.String]
    )
    payload = pl.struct(frame.columns).struct.json_encode() if frame.width else pl.lit(None)
    return frame.with_columns(
        payload.cast(pl.String).alias("raw_payload"),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("line_number"),
        pl.lit(None, pl.String).alias("parse_error"),
    )


def read_landed_file(
    stream: str,
    key: str,
    data: bytes,
    plant_id: str,
    landing_date: date,
    ingested_at: datetime,
) -> pl.DataFrame:
    """Read one landed file into bronze rows. Never raises on bad content: a file that
    cannot be read at all becomes one row with ``parse_error = 'file unreadable: ...'``."""
    name = key.rsplit("/", 1)[-1]
    fmt = next((f[1:] for f in FORMATS if name.endswith(f)), "unknown")
    try:
        if fmt == "jsonl.gz":
            frame = _read_jsonl_gz(stream, data)
        elif fmt == "jsonl":
            frame = _read_jsonl(stream, data)
        elif fmt == "csv":
            frame = _read_csv(stream, data)
        elif fmt == "parquet":
            frame = _read_parquet(data)
        else:
            raise ValueError(
                f"unsupported file format of {name!r} (expected one of {', '.join(FORMATS)})"
            )
    except Exception as exc:  # every reason a file cannot be read becomes its one row
        frame = pl.DataFrame(
            {
                "line_number": [0],
                "parse_error": [f"file unreadable: {type(exc).__name__}: {exc}"],
                "raw_payload": [None],
            },
            schema={"line_number": pl.Int64, "parse_error": pl.String, "raw_payload": pl.String},
        )
    if "plant_id" in frame.columns:
        frame = frame.rename({"plant_id": "record_plant_id"})
    lineage = [
        pl.lit(plant_id, pl.String).alias("plant_id"),
        pl.lit(landing_date, pl.Date).alias("landing_date"),
        pl.lit(key, pl.String).alias("source"),
        pl.lit(sha256_hex(data), pl.String).alias("file_hash"),
        pl.lit(ingested_at, pl.Datetime("us", "UTC")).alias("ingested_at"),
        pl.lit(fmt, pl.String).alias("source_format"),
    ]
    frame = frame.with_columns(lineage)
    base = bronze_columns(stream)
    missing = [pl.lit(None, dtype).alias(c) for c, dtype in base.items() if c not in frame.columns]
    frame = frame.with_columns(missing)
    extra = sorted(c for c in frame.columns if c not in base)
    return frame.select(
        [pl.col(c).cast(t) for c, t in base.items()] + [pl.col(c).cast(pl.String) for c in extra]
    )


def concat_bronze(frames: list[pl.DataFrame], stream: str) -> pl.DataFrame:
    """Stack per-file frames; open-ended columns are unioned (missing -> null)."""
    if not frames:
        return pl.DataFrame(schema=bronze_columns(stream))
    return pl.concat(frames, how="diagonal_relaxed", rechunk=False)
