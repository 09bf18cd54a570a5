"""Landing-zone files -> bronze rows (Polars). The IO side of bronze: nothing is validated
here beyond "can this be read", every record is kept as landed with its lineage.
"""

from __future__ import annotations

import csv
import gzip
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


def _lines(data: bytes) -> pl.DataFrame:
    """Split UTF-8 text into lines with 1-based line numbers, dropping blank lines."""
    try:
        frame = pl.read_csv(
            data,
            has_header=False,
            separator="\x1f",
            quote_char=None,
            schema={"raw_payload": pl.String},
            eol_char="\n",
        )
    except pl.exceptions.PolarsError:
        lines = data.decode("utf-8").split("\n")
        frame = pl.DataFrame({"raw_payload": lines}, schema={"raw_payload": pl.String})
    frame = frame.with_columns(
        pl.col("raw_payload").str.strip_suffix("\r"),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("line_number"),
    )
    return frame.filter(
        pl.col("raw_payload").is_not_null() & (pl.col("raw_payload").str.strip_chars() != "")
    )


def _flatten(stream: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Open nested objects into prefixed text columns (metrics, shot content)."""
    if stream == "sensor_readings" and "metrics" in frame.columns:
        metrics, _ = parse_json_objects(frame["metrics"], KNOWN_METRICS, discover=True)
        metrics = metrics.select(
            [c for c in metrics.columns if metrics[c].null_count() < metrics.height]
        )
        frame = frame.drop("metrics").hstack(metrics.rename(lambda c: METRIC_PREFIX + c))
    if stream == "shots":
        content, err = parse_json_objects(frame["content"], SHOT_MEASURES, discover=True)
        content = content.select(
            [c for c in content.columns if content[c].null_count() < content.height]
        )
        frame = frame.hstack(content.rename(lambda c: CONTENT_PREFIX + c)).with_columns(
            err.alias("content_error")
        )
    return frame


def _read_jsonl(stream: str, data: bytes) -> pl.DataFrame:
    data.decode("utf-8")  # refuse a file that is not UTF-8 text (UnicodeDecodeError)
    lines = _lines(data)
    fields = STREAM_FIELDS[stream] + ((_NESTED[stream],) if stream in _NESTED else ())
    values = None
    try:  # fast path: the whole file is valid JSON lines
        values = pl.read_ndjson(data, schema={f: pl.String for f in fields})
        errors = pl.Series("parse_error", [None] * lines.height, dtype=pl.String)
        if values.height != lines.height:
            values = None
    except pl.exceptions.PolarsError:
        values = None
    if values is None:
        values, errors = parse_json_objects(lines["raw_payload"], fields)
    frame = lines.hstack(values).with_columns(errors.alias("parse_error"))
    return _flatten(stream, frame)


def _read_csv(stream: str, data: bytes) -> pl.DataFrame:
    fixed = STREAM_FIELDS[stream]
    try:
        frame = pl.read_csv(data, infer_schema=False)
        frame = frame.with_columns(
            pl.int_range(2, pl.len() + 2, dtype=pl.Int64).alias("line_number"),
            pl.lit(None, pl.String).alias("parse_error"),
        )
    except pl.exceptions.PolarsError:
        frame = _read_csv_slow(data)
    cells = [c for c in frame.columns if c not in ("line_number", "parse_error")]
    frame = frame.with_columns(
        pl.when(pl.col("parse_error").is_null())
        .then(pl.struct(cells).struct.json_encode())
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
        if c not in fixed and c != "raw_payload":
            rename[c] = (METRIC_PREFIX + c) if stream == "sensor_readings" else c
    frame = frame.rename(rename)
    if stream == "shots" and "content" in frame.columns:
        frame = _flatten(stream, frame)
    return frame


def _read_csv_slow(data: bytes) -> pl.DataFrame:
    """Row-by-row CSV for files Polars refuses (ragged rows): bad rows get a parse_error."""
    text = data.decode("utf-8")
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    rows: list[dict[str, str | int | None]] = []
    for row in reader:
        line_no = reader.line_num
        if not row:
            continue
        if len(row) != len(header):
            rows.append(
                {
                    "line_number": line_no,
                    "parse_error": f"malformed CSV row: expected {len(header)} fields, got {len(row)}",
                    "raw_payload": json.dumps(row),
                }
            )
            continue
        rows.append(
            {"line_number": line_no, "parse_error": None, **dict(zip(header, row, strict=True))}
        )
    schema = {h: pl.String for h in header} | {
        "line_number": pl.Int64,
        "parse_error": pl.String,
        "raw_payload": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


def _read_parquet(data: bytes) -> pl.DataFrame:
    frame = pl.read_parquet(data)
    frame = frame.with_columns(
        [pl.col(c).cast(pl.String) for c, t in frame.schema.items() if t != pl.String]
    )
    return frame.with_columns(
        pl.struct(frame.columns).struct.json_encode().alias("raw_payload"),
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
            frame = _read_jsonl(stream, gzip.decompress(data))
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
    except (
        OSError,
        EOFError,
        zlib.error,
        UnicodeDecodeError,
        ValueError,
        pl.exceptions.PolarsError,
    ) as exc:
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
