"""Key names of the Kafka landing pass in the landing zone (docs/kafka.md).

::

    raw/<stream>/plant=<P>/date=<D>/kafka-<topic>-p<partition>-<first>-<last>.jsonl[.gz]
    deadletter/kafka/<topic>/p<partition>-<first>-<last>.jsonl
    ledger/kafka/<topic>/p<partition>.json          (offsets ledger, one per partition)

Offsets are zero-padded to 12 digits so that key order is offset order. A chunk's file names
are a pure function of its topic, partition, offset range, routing and format, which is what
makes a redo after a crash complete the chunk rather than add to it (``lander.py``).
"""

import re
from datetime import date

OFFSET_DIGITS = 12
LEDGER_PREFIX = "ledger/kafka/"
DEADLETTER_PREFIX = "deadletter/kafka/"
FORMATS = {"none": "jsonl", "gzip": "jsonl.gz"}
_KAFKA_FILE = re.compile(
    r"^kafka-(?P<topic>.+)-p(?P<partition>\d+)-(?P<first>\d+)-(?P<last>\d+)\.(?P<fmt>jsonl(\.gz)?)$"
)


def _off(offset: int) -> str:
    return f"{offset:0{OFFSET_DIGITS}d}"


def data_file_key(
    stream: str, plant: str, day: date, topic: str, partition: int, first: int, last: int, fmt: str
) -> str:
    return (
        f"raw/{stream}/plant={plant}/date={day.isoformat()}/"
        f"kafka-{topic}-p{partition}-{_off(first)}-{_off(last)}.{fmt}"
    )


def deadletter_key(topic: str, partition: int, first: int, last: int) -> str:
    return f"{DEADLETTER_PREFIX}{topic}/p{partition}-{_off(first)}-{_off(last)}.jsonl"


def ledger_key(topic: str, partition: int) -> str:
    return f"{LEDGER_PREFIX}{topic}/p{partition}.json"


def parse_kafka_file_name(name: str) -> tuple[str, int, int, int] | None:
    """``kafka-<topic>-p<partition>-<first>-<last>.jsonl[.gz]`` -> (topic, partition, first, last)."""
    m = _KAFKA_FILE.match(name.rsplit("/", 1)[-1])
    if not m:
        return None
    return m["topic"], int(m["partition"]), int(m["first"]), int(m["last"])
