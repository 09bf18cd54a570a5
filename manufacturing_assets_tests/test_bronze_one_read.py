"""Bronze sensor readings are read in one pass when counting colons confirms each line
(``readers._read_sensor_lines_at_once``); every other line takes the careful path. Either
way a line reads exactly as the careful path alone reads it (issue 10)."""

from __future__ import annotations

import json

import polars as pl
import pytest

from manufacturing_assets.ingest import readers

GOOD = json.dumps(
    {
        "device_id": "P01-M001-T1",
        "plant_id": "P01",
        "machine_id": "P01-M001",
        "ts": "2024-03-04T10:00:00.000+01:00",
        "firmware": "2.5.0",
        "status": "active",
        "metrics": {"temperature_c": 70.0, "humidity_pct": 44.5, "pressure_bar": 5.12},
    },
    separators=(",", ":"),
)
VALUES = ["70.0", "-0.0", "1e5", "1e308", "1e309", "12345678901234567890", "true", "null",
          '"x"', '"a:b"', "[1,2]", '{"a":1}', "{}", '"\\u00e9"', '"\\ud800"', "NaN", "01"]  # fmt: skip
METRICS = ["5", '"abc"', "[1]", "null", "{}", '{"temperature_c":1,"temperature_c":2}']


def _variants() -> list[str]:
    out = []
    for v in VALUES:
        out.append(GOOD.replace("70.0", v))  # a known metric
        out.append(GOOD.replace('"metrics":{', f'"metrics":{{"oil_level":{v},'))  # unknown
        out.append(GOOD.replace('"status":', f'"status":{v},"_status":'))  # top level
    start = GOOD.index('"metrics":')
    out += [GOOD[:start] + f'"metrics":{m}}}' for m in METRICS]
    out += [
        GOOD.replace('"status":"active"', '"status":"active","status":"idle"'),
        GOOD[:-1],
        "[1,2]",
        "{}",
        GOOD.replace(":", " : "),
        GOOD.replace('"firmware":"2.5.0"', '"firmware":{"v":1}'),
    ]
    return out


def _careful(data: bytes) -> pl.DataFrame:
    return readers._parse_lines("sensor_readings", readers._lines(data))


@pytest.mark.parametrize("variant", _variants())
def test_a_line_reads_as_the_careful_path_reads_it(variant: str) -> None:
    data = f"{GOOD}\n{variant}\n{GOOD}\n".encode()
    one = readers._read_jsonl("sensor_readings", data)
    careful = _careful(data)
    assert one.select(sorted(one.columns)).equals(careful.select(sorted(careful.columns)))


def test_plain_files_take_the_one_read() -> None:
    data = f"{GOOD}\n{GOOD.replace('70.0', '71.5')}\n".encode()
    lines = readers._lines(data)
    one = readers._read_sensor_lines_at_once(data, lines)
    assert one is not None and one["metric__temperature_c"].to_list() == ["70", "71.5"]
    # blank lines, carriage returns and bytes that are not UTF-8: the careful path whole
    for odd in (data + b"\n" + data, data.replace(b"\n", b"\r\n"), data + b"\xff\n"):
        assert readers._read_sensor_lines_at_once(odd, readers._lines(odd)) is None
