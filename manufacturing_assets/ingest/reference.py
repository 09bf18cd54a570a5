"""Master data: every daily snapshot of an entity, read from the landing zone.

``reference/{entity}/snapshot_date={YYYY-MM-DD}/{entity}.csv`` (contract section 4). Cells
are kept as text (trimmed, blank = null); a snapshot that cannot be read is reported, never
fatal.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import polars as pl

from manufacturing_assets.contract import REFERENCE_ENTITIES
from manufacturing_assets.resources.landing_zone import LandingZone, sha256_hex

_SNAPSHOT_RE = re.compile(
    r"^reference/(?P<entity>[^/]+)/snapshot_date=(?P<date>\d{4}-\d{2}-\d{2})/[^/]+\.csv$"
)


def read_reference(landing: LandingZone, entity: str) -> tuple[pl.DataFrame, dict[str, str]]:
    """All snapshots of one entity; a snapshot that cannot be read is reported, not fatal."""
    columns = REFERENCE_ENTITIES[entity]
    frames: list[pl.DataFrame] = []
    errors: dict[str, str] = {}
    ingested_at = datetime.now(UTC)
    for obj in landing.list_objects(f"reference/{entity}/"):
        m = _SNAPSHOT_RE.match(obj.key)
        if not m:
            continue
        data = landing.read_bytes(obj.key)
        try:
            frame = pl.read_csv(data, infer_schema=False)
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise ValueError(f"missing column(s) {', '.join(missing)}")
        except (pl.exceptions.PolarsError, ValueError) as exc:
            errors[obj.key] = str(exc)
            continue
        frames.append(
            frame.select(
                pl.lit(date.fromisoformat(m["date"])).alias("snapshot_date"),
                *[pl.col(c).str.strip_chars().replace("", None).alias(c) for c in columns],
                pl.lit(obj.key).alias("source"),
                pl.lit(sha256_hex(data)).alias("file_hash"),
                pl.int_range(2, pl.len() + 2, dtype=pl.Int64).alias("line_number"),
                pl.lit(ingested_at, pl.Datetime("us", "UTC")).alias("ingested_at"),
            )
        )
    schema = {"snapshot_date": pl.Date, **{c: pl.String for c in columns}}
    if not frames:
        return pl.DataFrame(
            schema=schema
            | {
                "source": pl.String,
                "file_hash": pl.String,
                "line_number": pl.Int64,
                "ingested_at": pl.Datetime("us", "UTC"),
            }
        ), errors
    return pl.concat(frames).sort("snapshot_date", "line_number"), errors


def plant_timezones(plants: pl.DataFrame) -> dict[str, str]:
    """plant_id -> IANA time zone, from the latest snapshot that names the plant."""
    if plants.is_empty():
        return {}
    latest = (
        plants.sort("snapshot_date")
        .group_by("plant_id")
        .agg(pl.col("timezone").drop_nulls().last())
    )
    return {r["plant_id"]: r["timezone"] for r in latest.iter_rows(named=True) if r["timezone"]}
