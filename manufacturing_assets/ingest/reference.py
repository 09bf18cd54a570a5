"""Master data: every daily snapshot of an entity, read from the landing zone and validated
as a whole.

``reference/{entity}/snapshot_date={YYYY-MM-DD}/{entity}.csv`` (contract section 4). Cells
are kept as text (trimmed, blank = null). A snapshot is **accepted** only when every row
passes (:func:`validate_snapshot`):

- the columns of the entity are present and the snapshot has rows;
- required fields are present (the key, and e.g. ``timezone`` for plants: the columns the
  catalogue declares not nullable, ``catalogue/reference.py``);
- the key is unique in the snapshot (``SNAPSHOT_KEYS``: two rows for one plant would give the
  plant two time zones);
- values are valid where the platform relies on them: ``timezone`` an IANA time zone known to
  both Python and Polars; every ``plant_id`` a safe plant id (``ingest/routing.PLANT_ID_PATTERN``,
  it becomes partitions and landing paths); numbers decimal literals (``cavities`` an
  integer) with a finite value; ``valid_from`` / ``valid_to`` ISO-8601 timestamps; values of
  a closed list (``company_type``) in the list.

A refused snapshot (or one that cannot be read) is reported with every problem (file, line,
field) and its rows are left out: the previous accepted snapshot stays in force for every
date, because every reader (the ``reference/<entity>`` asset and so the silver time zones and
SCD2 dimensions, ``manufacturing-assets run``, the Kafka router, the landing sensor's plant
partitions) reads snapshots only through this module.
"""

from __future__ import annotations

import functools
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import narwhals as nw
import polars as pl

from manufacturing_assets.catalogue.reference import ALLOWED, REFERENCE, SNAPSHOT_KEYS
from manufacturing_assets.contract import REFERENCE_ENTITIES
from manufacturing_assets.ingest.routing import (
    SnapshotRoute,
    is_safe_plant_id,
    plant_id_problem,
    route_reference,
)
from manufacturing_assets.resources.landing_zone import LandingZone, sha256_hex
from manufacturing_assets.transforms.master_data import (
    DECIMAL_RE,
    FLOAT_COLUMNS,
    INTEGER_COLUMNS,
    INTEGER_RE,
    TIMESTAMP_COLUMNS,
)
from manufacturing_assets.transforms.native import parse_timestamp

PLANT_COLUMNS = ("plant_id",)  # every plant id column (plants, lines, machines)
TIMEZONE_COLUMNS = ("timezone",)
FIRST_LINE = 2  # CSV line of the first row (the header is line 1)


@dataclass(frozen=True)
class SnapshotProblem:
    """Why a snapshot is refused: its key, the CSV line (None: the whole file) and field."""

    key: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.key
        if self.line is not None:
            where += f" line {self.line}"
        if self.field:
            where += f", {self.field}"
        return f"{where}: {self.message}"


@dataclass
class ReferenceSnapshots:
    """Every snapshot of one entity: the rows of the accepted ones, the refused ones' problems."""

    entity: str
    frame: pl.DataFrame
    accepted: list[str] = field(default_factory=list)
    refused: dict[str, list[SnapshotProblem]] = field(default_factory=dict)

    @property
    def in_force(self) -> date | None:
        """Date of the latest accepted snapshot (None: none accepted)."""
        return self.frame["snapshot_date"].max() if self.frame.height else None  # type: ignore[return-value]

    def errors(self, limit: int = 20) -> dict[str, str]:
        """Refused snapshot key -> its problems as one text (at most ``limit`` of them)."""
        out = {}
        for key, problems in self.refused.items():
            text = "; ".join(str(p) for p in problems[:limit])
            if len(problems) > limit:
                text += f"; ... {len(problems) - limit} more"
            out[key] = text
        return out


def _schema(entity: str) -> dict[str, pl.DataType]:
    return {
        "snapshot_date": pl.Date(),
        **{c: pl.String() for c in REFERENCE_ENTITIES[entity]},
        "source": pl.String(),
        "file_hash": pl.String(),
        "line_number": pl.Int64(),
        "ingested_at": pl.Datetime("us", "UTC"),
    }


@functools.cache
def timezone_problem(tz: str) -> str | None:
    """Why ``tz`` is not a usable IANA time zone (None when it is)."""
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return f"{tz!r} is not an IANA time zone"
    try:
        pl.Series([datetime(2024, 1, 1)]).dt.replace_time_zone(tz)
    except Exception:  # noqa: BLE001 (polars raises ComputeError or others)
        return f"{tz!r} is not a time zone Polars knows"
    return None


def _text_cells(frame: pl.DataFrame, entity: str) -> pl.DataFrame:
    """The entity's columns trimmed (blank = null) with their CSV line numbers."""
    return frame.select(
        *[
            pl.col(c).str.strip_chars().replace("", None).alias(c)
            for c in REFERENCE_ENTITIES[entity]
        ],
        pl.int_range(FIRST_LINE, pl.len() + FIRST_LINE, dtype=pl.Int64).alias("line_number"),
    )


def validate_snapshot(entity: str, rows: pl.DataFrame, key: str) -> list[SnapshotProblem]:
    """Every problem of one snapshot (empty: accepted). ``rows``: the entity's columns as
    trimmed text (blank = null) and ``line_number``, as :func:`read_snapshot` makes them."""
    table = REFERENCE[entity]
    problems: list[SnapshotProblem] = []

    def add(frame: pl.DataFrame, column: str | None, message) -> None:  # noqa: ANN001
        for row in frame.iter_rows(named=True):
            problems.append(SnapshotProblem(key, row["line_number"], column, message(row)))

    if rows.is_empty():
        return [SnapshotProblem(key, None, None, "the snapshot has no rows")]
    columns = REFERENCE_ENTITIES[entity]
    for c in columns:
        if not table.column(c).nullable:
            add(rows.filter(pl.col(c).is_null()), c, lambda _: "missing (required)")
    key_columns = list(SNAPSHOT_KEYS[entity])
    keyed = rows.drop_nulls(key_columns)
    first = keyed.group_by(key_columns).agg(pl.col("line_number").min().alias("_first"))
    again = keyed.join(first, on=key_columns).filter(pl.col("line_number") > pl.col("_first"))
    add(
        again,
        ", ".join(key_columns),
        lambda r: (
            ", ".join(f"{c}={r[c]!r}" for c in key_columns)
            + f" is listed again (first on line {r['_first']}): a snapshot names each "
            + ("plant once (it would get two time zones)" if entity == "plants" else "key once")
        ),
    )
    for c in columns:
        values = rows.filter(pl.col(c).is_not_null())
        if c in PLANT_COLUMNS:
            bad = values.filter(~pl.col(c).map_elements(is_safe_plant_id, return_dtype=pl.Boolean))
            add(bad, c, lambda r, c=c: str(plant_id_problem(r[c])))
        if c in TIMEZONE_COLUMNS:
            bad = values.filter(
                pl.col(c).map_elements(
                    lambda tz: timezone_problem(tz) is not None, return_dtype=pl.Boolean
                )
            )
            add(bad, c, lambda r, c=c: str(timezone_problem(r[c])))
        if c in FLOAT_COLUMNS or c in INTEGER_COLUMNS:
            pattern = INTEGER_RE if c in INTEGER_COLUMNS else DECIMAL_RE
            kind = "an integer" if c in INTEGER_COLUMNS else "a number"
            literal = values.filter(pl.col(c).str.contains(pattern))
            add(
                values.filter(~pl.col(c).str.contains(pattern)),
                c,
                lambda r, c=c, kind=kind: f"{r[c]!r} is not {kind}",
            )
            number = pl.col(c).str.replace(r"\.0*$", "").cast(pl.Float64, strict=False)
            add(
                literal.filter(~number.is_finite().fill_null(False)),
                c,
                lambda r, c=c: f"{r[c]!r} is out of the range of a double",
            )
        if c in TIMESTAMP_COLUMNS:
            parsed = nw.to_native(
                parse_timestamp(nw.from_native(values.lazy()), c, "UTC", "_parsed")
            ).collect()
            add(
                parsed.filter(pl.col("_parsed").is_null()),
                c,
                lambda r, c=c: f"{r[c]!r} is not an ISO-8601 timestamp",
            )
        if (entity, c) in ALLOWED:
            allowed = ALLOWED[(entity, c)]
            add(
                values.filter(~pl.col(c).is_in(allowed)),
                c,
                lambda r, c=c, allowed=allowed: f"{r[c]!r} is not one of {', '.join(allowed)}",
            )
    return sorted(problems, key=lambda p: (p.line or 0, p.field or ""))


def read_snapshot(
    entity: str, key: str, data: bytes
) -> tuple[pl.DataFrame | None, list[SnapshotProblem]]:
    """One snapshot file -> (its rows as trimmed text with ``line_number``, problems).

    Rows are None when the file cannot be read as a CSV with the entity's columns."""
    columns = REFERENCE_ENTITIES[entity]
    try:
        frame = pl.read_csv(data, infer_schema=False)
    except (pl.exceptions.PolarsError, ValueError) as exc:
        return None, [SnapshotProblem(key, None, None, f"cannot be read as CSV: {exc}")]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        return None, [SnapshotProblem(key, 1, None, f"missing column(s) {', '.join(missing)}")]
    rows = _text_cells(frame, entity)
    return rows, validate_snapshot(entity, rows, key)


def read_reference_snapshots(landing: LandingZone, entity: str) -> ReferenceSnapshots:
    """Every snapshot of ``entity``: rows of the accepted ones (sorted by date and line),
    problems of the refused ones. Keys under ``reference/<entity>/`` that are not snapshots
    are left to the routing check (``ingest/routing.py``)."""
    frames: list[pl.DataFrame] = []
    accepted: list[str] = []
    refused: dict[str, list[SnapshotProblem]] = {}
    ingested_at = datetime.now(UTC)
    for obj in landing.list_objects(f"reference/{entity}/"):
        where = route_reference(obj.key)
        if not isinstance(where, SnapshotRoute) or where.entity != entity:
            continue
        data = landing.read_bytes(obj.key)
        rows, problems = read_snapshot(entity, obj.key, data)
        if problems or rows is None:
            refused[obj.key] = problems
            continue
        accepted.append(obj.key)
        frames.append(
            rows.select(
                pl.lit(where.snapshot_date, pl.Date).alias("snapshot_date"),
                *REFERENCE_ENTITIES[entity],
                pl.lit(obj.key, pl.String).alias("source"),
                pl.lit(sha256_hex(data), pl.String).alias("file_hash"),
                "line_number",
                pl.lit(ingested_at, pl.Datetime("us", "UTC")).alias("ingested_at"),
            )
        )
    schema = _schema(entity)
    frame = (
        pl.concat(frames).sort("snapshot_date", "line_number")
        if frames
        else pl.DataFrame(schema=schema)
    )
    return ReferenceSnapshots(entity, frame.select(list(schema)), accepted, refused)


def read_reference(landing: LandingZone, entity: str) -> tuple[pl.DataFrame, dict[str, str]]:
    """Rows of every accepted snapshot of ``entity``, and refused snapshot key -> why."""
    snapshots = read_reference_snapshots(landing, entity)
    return snapshots.frame, snapshots.errors()


def accepted_plant_ids(landing: LandingZone, key: str) -> tuple[list[str], list[SnapshotProblem]]:
    """Plant ids of the ``reference/plants`` snapshot at ``key`` when it is accepted (else
    none), and its problems. Used by the landing sensor for the ``plant`` partitions."""
    try:
        data = landing.read_bytes(key)
    except Exception as exc:  # noqa: BLE001 (vanished object)
        return [], [SnapshotProblem(key, None, None, f"cannot be read: {exc}")]
    rows, problems = read_snapshot("plants", key, data)
    if problems or rows is None:
        return [], problems
    return sorted(rows["plant_id"].to_list()), []


def plant_timezones(plants: pl.DataFrame) -> dict[str, str]:
    """plant_id -> IANA time zone, from the latest snapshot that names the plant.

    ``plants`` is the ``reference/plants`` table (accepted snapshots only: one row per plant
    and snapshot, a valid time zone); a plant id that could not be a partition is never
    returned, whatever the frame holds."""
    if plants.is_empty():
        return {}
    order = ["snapshot_date", *(["line_number"] if "line_number" in plants.columns else [])]
    latest = (
        plants.sort(order)
        .group_by("plant_id", maintain_order=True)
        .agg(pl.col("timezone").drop_nulls().last())
    )
    return {
        r["plant_id"]: r["timezone"]
        for r in latest.iter_rows(named=True)
        if r["timezone"] and is_safe_plant_id(r["plant_id"])
    }
