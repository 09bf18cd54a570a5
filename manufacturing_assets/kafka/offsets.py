"""The offsets ledger of the Kafka landing pass: one JSON document per partition.

``ledger/kafka/<topic>/p<partition>.json`` holds ``next_offset`` (everything below is durable
in the landing zone) and ``pending``: the chunk in flight, with everything that fixes its
files' names and bytes (offsets, stream, format, master-data snapshots). The landing zone,
not the consumer group, is the source of truth; the protocol is in ``lander.py``.
"""

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from manufacturing_assets.kafka.files import ledger_key
from manufacturing_assets.kafka.routing import ReferencePin
from manufacturing_assets.resources.landing_zone import LandingZone


@dataclass(frozen=True)
class Pending:
    """A chunk whose files may be partly written: everything that fixes their names and bytes."""

    first: int
    last: int
    stream: str
    fmt: str
    reference: ReferencePin
    # events without a usable `ts`: landed (for silver's quarantine) or dead-lettered (intents
    # written before that rule: a redo must route exactly as the first attempt did)
    land_bad_ts: bool = False
    # the chunk's landing time (epoch ms), pinned: the date of an event without a usable
    # `ts` and without a Kafka timestamp
    landed_at_ms: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "last": self.last,
            "stream": self.stream,
            "format": self.fmt,
            "reference": asdict(self.reference),
            "land_bad_ts": self.land_bad_ts,
            "landed_at_ms": self.landed_at_ms,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Pending":
        return cls(
            first=int(data["first"]),
            last=int(data["last"]),
            stream=str(data["stream"]),
            fmt=str(data["format"]),
            reference=ReferencePin(**data["reference"]),
            land_bad_ts=bool(data.get("land_bad_ts", False)),
            landed_at_ms=data.get("landed_at_ms"),
        )


class OffsetsLedger:
    """Per partition: the next offset not yet durable in the landing zone, and the chunk
    in flight. The landing zone, not the consumer group, is the source of truth."""

    def __init__(self, landing: LandingZone):
        self.landing = landing

    def read(self, topic: str, partition: int) -> tuple[int | None, Pending | None]:
        key = ledger_key(topic, partition)
        if not self.landing.exists(key):
            return None, None
        data = json.loads(self.landing.read_bytes(key))
        pending = Pending.from_json(data["pending"]) if data.get("pending") else None
        return int(data["next_offset"]), pending

    def _write(self, topic: str, partition: int, next_offset: int, pending: Pending | None) -> None:
        doc = {
            "topic": topic,
            "partition": partition,
            "next_offset": next_offset,
            "pending": pending.to_json() if pending else None,
            "updated_at": datetime.now(UTC).isoformat(),
        }
        self.landing.write_bytes(ledger_key(topic, partition), json.dumps(doc, indent=1).encode())

    def write_intent(self, topic: str, partition: int, pending: Pending) -> None:
        self._write(topic, partition, pending.first, pending)

    def write_done(self, topic: str, partition: int, next_offset: int) -> None:
        self._write(topic, partition, next_offset, None)
