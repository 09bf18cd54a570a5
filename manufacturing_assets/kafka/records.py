"""Kafka message -> the JSON line it lands as (or its dead-letter line), and file bytes.

A landed line is the message value as sent (numbers keep their literal text) on one line,
with ``"_kafka": {topic, partition, offset, key, timestamp}`` appended for lineage. A message
that is not UTF-8, not a JSON object or cannot be routed to a plant (``routing.py``) becomes a
dead-letter line: its coordinates, stream, error and value. A JSON object routed to a plant
whose ``ts`` is missing or unusable still lands, unchanged, under the plant-local date of its
Kafka timestamp (or of the chunk's pinned landing time when the message has none): silver
quarantines it with the contract's reason (``missing_ts`` / ``unparseable_ts``), as it does a
file's record (docs/kafka.md, "Events without a usable ts").
Whatever exception decoding a message raises (a ``ts`` outside the range of a datetime,
JSON nested deeper than the parser recurses, ...) makes it a dead letter naming the error,
never a failed landing pass: :meth:`LineEncoder.encode` is the one place that decides.
"""

import base64
import gzip
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from manufacturing_assets.kafka.routing import DeadLetter, Router, production_date


def _key_text(message: Any) -> str | None:
    key = message.key()
    return None if key is None else key.decode("utf-8", "replace")


def _timestamp_ms(message: Any) -> int | None:
    kind, value = message.timestamp()
    return value if kind != 0 else None  # 0 = TIMESTAMP_NOT_AVAILABLE


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# NaN and Infinity are Python's extension of JSON: refused, as the file readers refuse them
_json_decode = json.JSONDecoder(parse_constant=_not_json).decode
try:  # optional, ~3x faster; strictly RFC 8259, so json (its superset) decides on failure
    from orjson import loads as _orjson_loads
except ImportError:  # pragma: no cover - depends on the environment
    _orjson_loads = None


def _decode_json(text: str) -> Any:
    if _orjson_loads is not None:
        try:
            return _orjson_loads(text)
        except ValueError:
            pass
    return _json_decode(text)


class LineEncoder:
    """Message -> (plant, production date, JSON line), with the per-key work cached.

    The line is the message value as sent (numbers keep their literal text) on one line,
    with ``"_kafka": {topic, partition, offset, key, timestamp}`` appended for lineage.
    Raises :class:`DeadLetter` for a message that cannot be landed.

    ``land_bad_ts``: a routed object whose ``ts`` is missing or unusable lands under the
    plant-local date of its Kafka timestamp, else of ``fallback_ms`` (epoch ms: the chunk's
    pinned landing time), so that silver quarantines it; False (chunks whose intent was
    written before this rule) dead-letters it as before. ``bad_ts`` counts such landings.
    """

    def __init__(self, router: Router, land_bad_ts: bool = True, fallback_ms: int | None = None):
        self.router = router
        self.land_bad_ts = land_bad_ts
        self.fallback_ms = fallback_ms
        self.bad_ts = 0
        self._keys: dict[bytes | None, tuple[str | None, str]] = {}
        self._topics: dict[str, str] = {}

    def _key(self, raw: bytes | None) -> tuple[str | None, str]:
        cached = self._keys.get(raw)
        if cached is None:
            text = None if raw is None else raw.decode("utf-8", "replace")
            cached = (text, json.dumps(text))
            if len(self._keys) < 100_000:
                self._keys[raw] = cached
        return cached

    def encode(self, message: Any) -> tuple[str, date, str]:
        """(plant, production date, JSON line); raises :class:`DeadLetter` and nothing else."""
        try:
            return self._encode(message)
        except DeadLetter:
            raise
        except RecursionError:
            raise DeadLetter("invalid JSON: nested too deeply to decode (RecursionError)") from None
        except Exception as exc:  # any other failure to decode is this message's, not the pass's
            raise DeadLetter(f"cannot decode the message: {type(exc).__name__}: {exc}") from None

    @staticmethod
    def _ts_day(ts: Any, zone: ZoneInfo) -> date:
        """The production date of ``ts``; :class:`DeadLetter` naming what is wrong with it."""
        if type(ts) is not str:
            if ts is None:
                raise DeadLetter("field 'ts' is missing")
            raise DeadLetter(f"field 'ts' is not an ISO-8601 string: {json.dumps(ts)}")
        if not ts.strip():
            raise DeadLetter("field 'ts' is missing")
        try:
            return production_date(ts, zone)
        except OverflowError:
            raise DeadLetter(
                f"field 'ts' is outside the range of representable times: {ts!r}"
            ) from None
        except ValueError:
            raise DeadLetter(f"field 'ts' is not an ISO-8601 timestamp: {ts!r}") from None

    def _landing_day(self, message: Any, zone: ZoneInfo, why: str) -> date:
        """Plant-local date of the message's Kafka timestamp, else of the pinned landing time
        (a record without a usable ``ts`` has no production date; silver quarantines it in
        the partition of the folder it lands in)."""
        stamp = _timestamp_ms(message)
        if stamp is None or stamp <= 0:
            stamp = self.fallback_ms
        if stamp is None:
            raise DeadLetter(f"{why}; and the message has no Kafka timestamp")
        try:
            return datetime.fromtimestamp(stamp / 1000, UTC).astimezone(zone).date()
        except (OverflowError, ValueError, OSError):
            raise DeadLetter(f"{why}; and its Kafka timestamp {stamp} is not a time") from None

    def _encode(self, message: Any) -> tuple[str, date, str]:
        value = message.value()
        if value is None:
            raise DeadLetter("empty message (tombstone)")
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DeadLetter(f"value is not UTF-8: {exc}") from None
        try:
            record = _decode_json(text)
        except ValueError as exc:
            raise DeadLetter(f"invalid JSON: {exc}") from None
        if type(record) is not dict:
            raise DeadLetter(f"not a JSON object (a JSON {type(record).__name__})")
        ts = record.get("ts")
        key, key_json = self._key(message.key())
        plant, zone = self.router.plant(key, record)
        try:
            day = self._ts_day(ts, zone)
        except DeadLetter as exc:
            if not self.land_bad_ts:
                raise
            day = self._landing_day(message, zone, str(exc))
            self.bad_ts += 1
        topic = message.topic()
        topic_json = self._topics.get(topic)
        if topic_json is None:
            topic_json = self._topics[topic] = json.dumps(topic)
        kind, stamp = message.timestamp()
        meta = (
            f'"_kafka":{{"topic":{topic_json},"partition":{message.partition()},'
            f'"offset":{message.offset()},"key":{key_json},'
            f'"timestamp":{stamp if kind != 0 else "null"}}}'
        )
        if "\n" in text or "\r" in text:  # only whitespace between tokens can hold them
            text = text.replace("\r", " ").replace("\n", " ")
        if not record:
            return plant, day, "{" + meta + "}"
        return plant, day, text.strip()[:-1].rstrip() + "," + meta + "}"


def landed_line(message: Any, router: Router) -> tuple[str, date, str]:
    """(plant, production date, JSON line) of one message; raises :class:`DeadLetter`."""
    return LineEncoder(router).encode(message)


def deadletter_line(message: Any, stream: str, error: str) -> str:
    """The dead-letter line of a message: coordinates, stream, error, value (as text when it
    is UTF-8, else ``value_base64``). Always valid UTF-8 JSON, whatever the error text holds."""
    value = message.value()
    error = error.encode("utf-8", "backslashreplace").decode("utf-8")
    entry: dict[str, Any] = {
        "topic": message.topic(),
        "partition": message.partition(),
        "offset": message.offset(),
        "timestamp": _timestamp_ms(message),
        "key": _key_text(message),
        "stream": stream,
        "error": error,
        "value": None,
    }
    if value is not None:
        try:
            entry["value"] = value.decode("utf-8")
        except UnicodeDecodeError:
            entry["value_base64"] = base64.b64encode(value).decode("ascii")
    return json.dumps(entry, ensure_ascii=False)


def encode_lines(lines: Sequence[str], fmt: str) -> bytes:
    data = ("\n".join(lines) + "\n").encode("utf-8")
    return gzip.compress(data, compresslevel=6, mtime=0) if fmt == "jsonl.gz" else data
