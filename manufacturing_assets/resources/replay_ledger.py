"""The replay ledger: an append-only Delta table of every record a replay re-landed
(``<lake root>/_system/replay_ledger``); the replay itself is ``ops/replay.py``."""

from __future__ import annotations

import polars as pl
from dagster import ConfigurableResource
from pydantic import Field

from manufacturing_assets.io_managers.delta import read_delta
from manufacturing_assets.resources.s3 import S3Connection, delta_storage_options

REPLAY_LEDGER_PATH = "_system/replay_ledger"
REPLAY_LEDGER_SCHEMA: dict[str, pl.DataType] = {
    "record_id": pl.String(),
    "kind": pl.String(),
    "origin": pl.String(),  # source:line, or kafka://topic/partition/offset
    "stream": pl.String(),
    "plant_id": pl.String(),
    "landing_date": pl.Date(),
    "file_key": pl.String(),
    "replayed_at": pl.Datetime("us", "UTC"),
}


class ReplayLedger(ConfigurableResource):
    """The lake the quarantine is read from and the replay ledger (``_system/replay_ledger``):
    one row per re-landed record. S3 options from the nested connection, as the landing
    ledger's (``resources/ledger.py``)."""

    lake_root: str
    s3: S3Connection | None = Field(
        default=None, description="S3 connection of an s3:// lake (credentials as EnvVar)."
    )

    @property
    def storage_options(self) -> dict[str, str]:
        return delta_storage_options(self.s3)

    @property
    def uri(self) -> str:
        return f"{self.lake_root.rstrip('/')}/{REPLAY_LEDGER_PATH}"

    def table_uri(self, layer: str, name: str) -> str:
        return f"{self.lake_root.rstrip('/')}/{layer}/{name}"

    def read(self) -> pl.DataFrame:
        frame = read_delta(self.uri, self.storage_options)
        if frame is None:
            return pl.DataFrame(schema=REPLAY_LEDGER_SCHEMA)
        return frame.select([pl.col(c).cast(t) for c, t in REPLAY_LEDGER_SCHEMA.items()])

    def replayed_origins(self, stream: str) -> set[str]:
        """``source:line`` of every quarantined record of ``stream`` a replay re-landed (the
        original row stays in quarantine, with its reason, as the record of what happened)."""
        rows = self.read().filter((pl.col("kind") == "quarantine") & (pl.col("stream") == stream))
        return set(rows["origin"].to_list())

    def replayed_ids(self) -> set[str]:
        return set(self.read()["record_id"].to_list())

    def append(self, rows: pl.DataFrame) -> None:
        if rows.is_empty():
            return
        from deltalake import write_deltalake

        data = rows.select([pl.col(c).cast(t) for c, t in REPLAY_LEDGER_SCHEMA.items()])
        write_deltalake(
            self.uri, data.to_arrow(), mode="append", storage_options=self.storage_options
        )
