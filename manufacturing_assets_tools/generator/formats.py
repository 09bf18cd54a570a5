"""File contents: a batch of records as JSON lines (plain or gzipped), CSV or parquet, the
two garbage files, and the manifest entry of a written file.

Line numbers follow the bronze lineage convention: 1-based JSONL lines, CSV data rows
counted from the header line = 1 (first row = 2), parquet rows 1-based.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import random
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .config import INSPECTION_COLUMNS, METRICS, SENSOR_CSV_BASE
from .records import JSON_FORMATS, Record

NOT_JSON_PAGE = (
    "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
    "</h1></center><hr><center>nginx</center><!-- request {request} --></body></html>\n"
)
INSPECTION_SCHEMA = pa.schema(
    [
        ("machine_id", pa.string()),
        ("plant_id", pa.string()),
        ("hour_start", pa.string()),
        ("part_id", pa.string()),
        ("inspected_count", pa.int64()),
        ("rejected_count", pa.int64()),
        ("defect_code", pa.string()),
    ]
)


def serialize(stream: str, fmt: str, batch: list[Record]) -> tuple[bytes, list[int]]:
    """The file bytes of ``batch`` in ``fmt`` and the line number of each record."""
    if fmt in JSON_FORMATS:
        lines = [
            x.raw_line if x.raw_line is not None else json.dumps(x.fields, ensure_ascii=False)
            for x in batch
        ]
        data = ("\n".join(lines) + "\n").encode("utf-8")
        if fmt == "jsonl.gz":
            data = gzip.compress(data, compresslevel=6, mtime=0)
        return data, list(range(1, len(batch) + 1))
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        if stream == "sensor_readings":
            extra: list[str] = []
            for x in batch:
                for k in x.fields.get("metrics", {}):
                    if k not in METRICS and k not in extra:
                        extra.append(k)
            cols = list(SENSOR_CSV_BASE) + list(METRICS) + extra
            w.writerow(cols)
            for x in batch:
                f, mt = x.fields, x.fields.get("metrics", {})
                w.writerow(
                    [_cell(f.get(c)) for c in SENSOR_CSV_BASE]
                    + [_cell(mt.get(c)) for c in cols[6:]]
                )
        else:
            w.writerow(INSPECTION_COLUMNS)
            for x in batch:
                w.writerow([_cell(x.fields.get(c)) for c in INSPECTION_COLUMNS])
        return buf.getvalue().encode("utf-8"), list(range(2, len(batch) + 2))
    if fmt == "parquet":
        assert stream == "quality_inspections"
        cols = {c: [x.fields.get(c) for x in batch] for c in INSPECTION_COLUMNS}
        table = pa.table(cols, schema=INSPECTION_SCHEMA)
        out = io.BytesIO()
        pq.write_table(table, out, compression="snappy")
        return out.getvalue(), list(range(1, len(batch) + 1))
    raise ValueError(fmt)


def garbage_file(kind: str, seed: int, salt: str) -> tuple[str, bytes, int]:
    """``(format, bytes, lines)`` of a ``corrupt_gzip`` or ``not_json_file`` file."""
    if kind == "corrupt_gzip":
        rnd = random.Random(f"{seed}/{salt}")
        # valid gzip header, then a deflate block of the reserved type 3: unreadable
        data = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\xff" + rnd.randbytes(200)
        return "jsonl.gz", data, 0
    request = hashlib.sha1(f"{seed}/{salt}".encode()).hexdigest()
    return "jsonl", NOT_JSON_PAGE.format(request=request).encode(), 1


def file_entry(key: str, fmt: str, data: bytes, records: int) -> dict:
    """The manifest entry of a written file."""
    return {
        "key": key,
        "format": fmt,
        "records": records,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def _cell(v: Any) -> str:
    if v is None:
        return ""
    return str(v)
