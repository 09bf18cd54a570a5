"""The landing ledger: an append-only Delta table of every landing-zone object the landing
sensor has seen (``<lake root>/_system/landing_ledger``). See ``docs/ingestion.md``."""

from __future__ import annotations

import polars as pl
from dagster import ConfigurableResource
from pydantic import Field

from manufacturing_assets.io_managers.delta import read_delta
from manufacturing_assets.resources.s3 import S3Connection, delta_storage_options

LEDGER_PATH = "_system/landing_ledger"

# Ledger statuses. PROCESSED files are the originals duplicates are compared with.
NEW, CHANGED, DUPLICATE, ALREADY_INGESTED = "new", "changed", "duplicate", "already_ingested"
IGNORED, OUT_OF_RANGE, HASHED = "ignored", "out_of_range", "hashed"
PROCESSED = (NEW, CHANGED, ALREADY_INGESTED)
REQUESTED = (NEW, CHANGED)

LEDGER_SCHEMA: dict[str, pl.DataType] = {
    "key": pl.String(),  # landing-zone key (relative to the landing root)
    "size": pl.Int64(),
    "etag": pl.String(),  # S3 ETag; locally a size-mtime fingerprint
    "fingerprint": pl.String(),  # content identity: "<size>:etag:<ETag>" or "<size>:sha256:<hex>"
    "last_modified": pl.Datetime("us", "UTC"),
    "first_seen": pl.Datetime("us", "UTC"),
    "kind": pl.String(),  # raw | reference | other
    "stream": pl.String(),  # raw: the stream; reference: the entity
    "plant_id": pl.String(),
    "landing_date": pl.Date(),
    "status": pl.String(),
    "duplicate_of": pl.String(),
    "run_key": pl.String(),
    "tick": pl.Int64(),
    "detail": pl.String(),
}


class LandingLedger(ConfigurableResource):
    """Append-only Delta table of every landing-zone object the landing sensor has seen.

    ``uri`` is ``<lake root>/_system/landing_ledger`` (a folder or ``s3://...``). On S3
    the delta-rs options come from the nested ``s3`` connection (credentials as ``EnvVar``,
    read when the ledger is used: ``resources/s3.py``); configured ``storage_options``
    hold further non-secret options and win over the derived ones.
    """

    uri: str
    s3: S3Connection | None = Field(
        default=None, description="S3 connection of an s3:// ledger (credentials as EnvVar)."
    )
    extra_storage_options: dict[str, str] = Field(
        default={},
        alias="storage_options",
        description="Further delta-rs options (never credentials: those come from s3).",
    )
    compact_after_files: int = 64

    @property
    def storage_options(self) -> dict[str, str]:
        """The delta-rs options the table is opened with, built now."""
        return {**delta_storage_options(self.s3), **self.extra_storage_options}

    def read(self) -> pl.DataFrame:
        """Every ledger row (empty frame with the ledger schema when there is no table)."""
        frame = read_delta(self.uri, self.storage_options)
        if frame is None:
            return pl.DataFrame(schema=LEDGER_SCHEMA)
        return frame.select([pl.col(c).cast(t) for c, t in LEDGER_SCHEMA.items()])

    def append(self, rows: pl.DataFrame) -> None:
        """Append rows in one commit; compact small files now and then."""
        if rows.is_empty():
            return
        from deltalake import DeltaTable, write_deltalake
        from deltalake.exceptions import TableNotFoundError

        data = rows.select([pl.col(c).cast(t) for c, t in LEDGER_SCHEMA.items()]).to_arrow()
        write_deltalake(self.uri, data, mode="append", storage_options=self.storage_options)
        try:
            table = DeltaTable(self.uri, storage_options=self.storage_options)
        except TableNotFoundError:  # pragma: no cover
            return
        if len(table.file_uris()) > self.compact_after_files:
            table.optimize.compact()
            table.vacuum(retention_hours=168, dry_run=False)

    def duplicates(self) -> dict[str, str]:
        """key -> key of the original, for every file recorded as a duplicate."""
        frame = self.read().filter(pl.col("status") == DUPLICATE)
        return dict(zip(frame["key"], frame["duplicate_of"], strict=True))


def ledger_uri(lake_root: str) -> str:
    return f"{lake_root.rstrip('/')}/{LEDGER_PATH}"
