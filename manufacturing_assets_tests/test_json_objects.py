"""The vectorised JSON read is confirmed by counting colons (ingest/json_objects.py): texts
the count cannot vouch for get the full look, so a duplicated key is never read silently,
however it is spelled, and plain texts keep their values."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest

from manufacturing_assets.ingest.json_objects import parse_json_objects
from manufacturing_assets.ingest.readers import read_landed_file

FIELDS = ("a", "b", "m")


def _parse(*texts: str, **kwargs) -> tuple[list[dict], list[str | None]]:
    values, errors = parse_json_objects(pl.Series(list(texts)), FIELDS, **kwargs)
    return values.to_dicts(), errors.to_list()


@pytest.mark.parametrize(
    "text",
    [
        '{"a":"x","a":"y"}',  # plain duplicate
        '{"a" :"x", "a" : "y"}',  # blanks before the colons
        '{"a":"x","a":"y","b":"\\u003a"}',  # a decoded colon that would balance the count
        '{"a":"x","m":{"k":1,"k":2}}',  # inside a nested object nobody parses again
        '{"a":"x","m":[{"k":1,"k":2}]}',  # inside an array
        '{"a":"x","z":{"a":1},"z":2}',  # a key not asked for, twice
    ],
)
def test_a_duplicated_key_is_never_read_silently(text: str) -> None:
    values, errors = _parse('{"a":"ok","b":"1"}', text)
    assert errors[0] is None and values[0]["a"] == "ok"
    assert errors[1] is not None and errors[1].startswith("duplicated key"), errors[1]


def test_texts_the_count_cannot_vouch_for_keep_their_values() -> None:
    values, errors = _parse(
        '{"a":"10:15","b":null}',  # a colon in a value, a null value
        '{"a":"x","extra":"y:z","b":"2"}',  # a key not asked for
        '{"a":"\\u003a","m":{"k":"v:w"}}',  # a \\u escape, a nested object
    )
    assert errors == [None, None, None]
    assert [v["a"] for v in values] == ["10:15", "x", ":"]
    assert values[1]["b"] == "2"
    assert values[2]["m"] is not None and "v:w" in values[2]["m"]


def test_a_duplicated_metric_is_the_lines_error() -> None:
    """Sensor readings: the metrics object is checked by its own strict parse; its verdict
    is the line's, and the line keeps no values (as a line judged whole would)."""
    data = (
        b'{"device_id":"D1","ts":"2024-03-04T10:00:00Z","metrics":{"temperature_c":1}}\n'
        b'{"device_id":"D2","ts":"2024-03-04T10:00:00Z",'
        b'"metrics":{"temperature_c":1,"temperature_c":2}}\n'
    )
    frame = read_landed_file(
        "sensor_readings",
        "raw/sensor_readings/plant=P01/date=2024-03-04/a.jsonl",
        data,
        "P01",
        date(2024, 3, 4),
        datetime.now(UTC),
    )
    rows = frame.sort("line_number").to_dicts()
    assert rows[0]["parse_error"] is None and rows[0]["metric__temperature_c"] == "1"
    assert rows[1]["parse_error"] == "duplicated key 'temperature_c'"
    assert rows[1]["device_id"] is None and rows[1]["metric__temperature_c"] is None
    assert rows[1]["raw_payload"].startswith('{"device_id":"D2"')
