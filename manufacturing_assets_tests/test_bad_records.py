"""Every class of bad input becomes rows, never a crash and never a silent loss (issue 9).

Each landed record ends as exactly one of: a silver row (re-deliveries counted as
``deliveries - 1``), a quarantine row with the first reason of contract section 7, or (Kafka
only) a dead letter naming the error. The readings chosen for each class are written down in
``docs/contract-decisions.md`` ("Bad input: how each record is read").

- files: empty files of every format, a file that cannot be read, a truncated gzip, files
  that are not UTF-8 or start with a byte-order mark, CSV quirks;
- values: duplicated keys, numbers beyond the range of a double, leap seconds, times beyond
  the range of a datetime, nesting deeper than the JSON parsers go, unpaired surrogates;
- Kafka: the same classes against a real broker (Tansu): undecodable messages are dead
  letters, events with an unusable ts land and are quarantined as in a file, and the good
  messages after them land;
- accounting: the generated sample plus every class above through ``run_pipeline``, with
  the exact count of each quarantine reason in all four streams.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from dagster import DagsterInstance

from manufacturing_assets.contract import QUARANTINE_REASONS
from manufacturing_assets.environment import Settings
from manufacturing_assets.ingest.json_objects import parse_json_objects
from manufacturing_assets.io_managers.delta import read_delta
from manufacturing_assets.pipeline import run_pipeline
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets.stages.bronze import read_bronze
from manufacturing_assets.transforms.sensor_readings import silver_sensor_readings
from manufacturing_assets.transforms.shots import silver_shots
from manufacturing_assets_tests import kafka_fixtures
from manufacturing_assets_tests.helpers import NOW, bronze_of, collect, jsonl, lazy, reading
from manufacturing_assets_tools.generator import GeneratorConfig, PlantSpec, generate_landing_zone

TZ = "Europe/Berlin"
DAY = date(2024, 3, 30)
D = DAY.isoformat()
SENSOR_HEADER = "device_id,plant_id,machine_id,ts,firmware,status,temperature_c,humidity_pct"
INSPECTION_HEADER = (
    "machine_id,plant_id,hour_start,part_id,inspected_count,rejected_count,defect_code"
)
DEEP = "[" * 2000 + "]" * 2000


def key(stream: str, name: str, day: str = D) -> str:
    return f"raw/{stream}/plant=P01/date={day}/{name}"


def read(stream: str, name: str, data: bytes) -> pl.DataFrame:
    """The bronze rows of one landed file."""
    return bronze_of([(key(stream, name), data)], stream)


def ts(second: int, minute: int = 0, hour: int = 10) -> str:
    return f"{D}T{hour:02d}:{minute:02d}:{second:02d}.123+01:00"


def line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False)


def latin1_line(record: dict[str, Any]) -> bytes:
    return line(record).encode("latin-1")


def parquet(frame: pl.DataFrame) -> bytes:
    out = io.BytesIO()
    frame.write_parquet(out)
    return out.getvalue()


def truncated_gzip(complete: list[str], rest: list[str]) -> bytes:
    """A gzip stream of ``complete + rest`` lines, cut a few bytes after the ``complete``
    lines (a full flush there: nothing after it can be decompressed into a whole line)."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    head = packer.compress(("\n".join(complete) + "\n").encode()) + packer.flush(zlib.Z_FULL_FLUSH)
    tail = packer.compress(("\n".join(rest) + "\n").encode()) + packer.flush()
    return head + tail[:6]


def shot(shot_id: str, when: str, content: Any = None, **extra: Any) -> dict[str, Any]:
    body = content if content is not None else json.dumps({"cycle_time_s": 31.2, "cushion_mm": 5})
    return {
        "shot_id": shot_id,
        "plant_id": "P01",
        "machine_id": "P01-M001",
        "ts": when,
        "mold_id": "MD-X",
        "content": body,
    } | extra


def event(when: str, state: str = "RUNNING", **extra: Any) -> dict[str, Any]:
    return {"machine_id": "P01-M001", "plant_id": "P01", "ts": when, "state": state} | extra


def sensor(second: int, **extra: Any) -> dict[str, Any]:
    return reading("P01-M001-X1", ts(second), **extra)


def sensor_at(when: str) -> dict[str, Any]:
    return reading("P01-M001-X1", when)


def columns(frame: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """``names`` of ``frame``, a column no file had (an open metric column) read as null."""
    return frame.select([pl.col(c) if c in frame.columns else pl.lit(None).alias(c) for c in names])


# ---- files --------------------------------------------------------------------------------
EMPTY_FILES = {
    "header.csv": ("sensor_readings", (SENSOR_HEADER + "\n").encode()),
    "header-no-newline.csv": ("sensor_readings", SENSOR_HEADER.encode()),
    "bom-header.csv": ("sensor_readings", b"\xef\xbb\xbf" + SENSOR_HEADER.encode() + b"\r\n"),
    "zero.csv": ("sensor_readings", b""),
    "blank.csv": ("sensor_readings", b"\n\n"),
    "zero.jsonl": ("sensor_readings", b""),
    "blank-lines.jsonl": ("sensor_readings", b"\n \n\r\n"),
    "bom-only.jsonl": ("sensor_readings", b"\xef\xbb\xbf"),
    "zero.jsonl.gz": ("shots", b""),
    "empty.jsonl.gz": ("shots", gzip.compress(b"")),
    "blank.jsonl.gz": ("machine_events", gzip.compress(b"\n\n")),
    "zero-rows.parquet": (
        "quality_inspections",
        parquet(pl.DataFrame(schema={c: pl.String for c in INSPECTION_HEADER.split(",")})),
    ),
    "zero.parquet": ("quality_inspections", b""),
    "inspections-header.csv": ("quality_inspections", (INSPECTION_HEADER + "\n").encode()),
}


@pytest.mark.parametrize("name", sorted(EMPTY_FILES))
def test_an_empty_file_of_any_format_has_no_records(name: str) -> None:
    stream, data = EMPTY_FILES[name]
    frame = read(stream, name, data)
    assert frame.height == 0
    assert set(frame.columns) >= {"source", "line_number", "parse_error", "raw_payload"}


def test_empty_files_are_named_in_the_bronze_stats(tmp_path: Path) -> None:
    landing = LandingZone(root=str(tmp_path))
    for name, (stream, data) in EMPTY_FILES.items():
        if stream == "sensor_readings":
            landing.write_bytes(key(stream, name), data)
    good = jsonl([reading("P01-M001-T1", ts(1))])
    landing.write_bytes(key("sensor_readings", "good.jsonl"), good)
    bronze, stats = read_bronze(landing, "sensor_readings", {"P01": [DAY]}, NOW)
    assert bronze.height == 1 and stats["unreadable"] == {} and stats["truncated"] == {}
    expected = sorted(
        key("sensor_readings", n) for n, (s, _) in EMPTY_FILES.items() if s == "sensor_readings"
    )
    assert sorted(stats["empty_files"]) == expected


def test_a_file_that_cannot_be_read_at_all_is_one_row_naming_the_error() -> None:
    for name, stream, data in [
        ("bad.parquet", "quality_inspections", b"PAR1 this is not parquet"),
        ("bad.jsonl.gz", "sensor_readings", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\xff\x00"),
        ("header.jsonl.gz", "sensor_readings", gzip.compress(b'{"ts": "x"}\n')[:10]),
        ("unknown.txt", "sensor_readings", b"hello\n"),
    ]:
        frame = read(stream, name, data)
        assert frame.select("line_number", "raw_payload").rows() == [(0, None)], name
        assert frame["parse_error"][0].startswith("file unreadable: "), name
    # cut before the first line break: nothing complete to keep
    frame = read("sensor_readings", "cut.jsonl.gz", gzip.compress(b'{"ts": "x"}')[:-8])
    assert frame["parse_error"][0] == (
        "file unreadable: EOFError: Compressed file ended before the end-of-stream marker "
        "was reached"
    )


def test_a_truncated_gzip_keeps_its_complete_lines_and_names_the_broken_tail() -> None:
    good = [line(sensor(s)) for s in (1, 2, 3)]
    data = truncated_gzip(good[:2] + [""], good[2:])  # line 3 is blank: still counted
    frame = read("sensor_readings", "cut.jsonl.gz", data)
    assert frame["line_number"].to_list() == [1, 2, 4]
    assert frame["parse_error"][:2].to_list() == [None, None]
    assert frame["ts"][:2].to_list() == [ts(1), ts(2)]
    tail = frame.row(2, named=True)
    assert tail["parse_error"].startswith("truncated gzip: ")
    assert (
        "lines 1-3 were read, the rest from line 4 (decompressed byte offset"
        in (tail["parse_error"])
    )
    assert good[2].startswith(tail["raw_payload"] or "")
    # a gzip whose stream is complete but followed by garbage: every line, then one row
    whole = gzip.compress(("\n".join(good) + "\n").encode())
    frame = read("sensor_readings", "garbage.jsonl.gz", whole + b"garbage after the member")
    assert frame["line_number"].to_list() == [1, 2, 3, 4]
    assert frame["parse_error"][3].startswith("truncated gzip: error: ")
    # several members and zero padding: one file, every line
    frame = read(
        "sensor_readings",
        "members.jsonl.gz",
        gzip.compress(b"\n".join(g.encode() for g in good[:2]) + b"\n")
        + gzip.compress(good[2].encode())
        + b"\0" * 8,
    )
    assert frame["line_number"].to_list() == [1, 2, 3] and frame["parse_error"].null_count() == 3


def test_a_file_that_is_not_utf8_is_read_line_by_line() -> None:
    bad = sensor(2, device_id="P01-M001-Xé")
    data = jsonl([sensor(1)]) + latin1_line(bad) + b"\n" + jsonl([sensor(3)])
    frame = read("sensor_readings", "latin1.jsonl", data)
    assert frame["line_number"].to_list() == [1, 2, 3]
    offset = len(jsonl([sensor(1)])) + line(bad).index("é")
    assert frame["parse_error"].to_list() == [
        None,
        f"invalid UTF-8: byte 0xe9 at byte offset {offset} (line 2)",
        None,
    ]
    assert "Xé" not in frame["raw_payload"][1] and "X\\xe9" in frame["raw_payload"][1]
    assert frame["device_id"].to_list() == ["P01-M001-X1", None, "P01-M001-X1"]

    csv = (
        f"{SENSOR_HEADER}\nP01-M001-X1,P01,P01-M001,{ts(4)},2.4.0,active,70,40\n".encode()
        + f"P01-M001-X1,P01,P01-M001,{ts(5)},2.4.0,défaut,70,40\n".encode("latin-1")
        + f"P01-M001-X1,P01,P01-M001,{ts(6)},2.4.0,idle,70,40\n".encode()
    )
    frame = read("sensor_readings", "latin1.csv", csv)
    assert frame["line_number"].to_list() == [2, 3, 4]
    assert frame["parse_error"].to_list() == [
        None,
        "invalid UTF-8: byte 0xe9 in line 3, column 'status'",
        None,
    ]
    assert frame["status"].to_list() == ["active", None, "idle"]


def test_a_byte_order_mark_is_not_part_of_the_first_record() -> None:
    bom = b"\xef\xbb\xbf"
    frame = read("sensor_readings", "bom.jsonl", bom + jsonl([sensor(1), "{broken"]))
    assert frame["device_id"].to_list() == ["P01-M001-X1", None]
    csv = f"{SENSOR_HEADER}\nP01-M001-X1,P01,P01-M001,{ts(4)},2.4.0,active,70,40\n"
    for data in (bom + csv.encode(), bom + csv.encode() + b"1,2,3,4,5,6,7,8,9\n"):
        frame = read("sensor_readings", "bom.csv", data)  # fast path, then row by row
        assert frame["device_id"][0] == "P01-M001-X1"


def test_csv_rows_read_the_same_whatever_the_other_rows() -> None:
    rows = [
        f"P01-M001-X1,P01,P01-M001,{ts(1)},2.4.0,active,70,40",
        f"P01-M001-X1,P01,P01-M001,{ts(2)},2.4.0,active,,",  # empty cells
        f"P01-M001-X1,P01,P01-M001,{ts(3)},2.4.0",  # short row: missing cells are empty
    ]
    plain = read(
        "sensor_readings", "a.csv", (SENSOR_HEADER + "\n" + "\n".join(rows) + "\n").encode()
    )
    # a blank line and a row longer than the header: Polars refuses, read row by row
    odd = SENSOR_HEADER + "\n" + "\n".join(rows) + "\n\n1,2,3,4,5,6,7,8,9\n\n"
    slow = read("sensor_readings", "a.csv", odd.encode())
    assert slow.height == 4
    assert slow["parse_error"].to_list()[3] == "malformed CSV row: expected 8 fields, got 9"
    assert slow["line_number"].to_list() == [2, 3, 4, 6]
    assert_same = slow.head(3).drop("file_hash")
    assert assert_same.equals(plain.drop("file_hash"))


def test_a_csv_header_with_a_duplicated_column_makes_every_row_malformed() -> None:
    csv = f"{SENSOR_HEADER},temperature_c\nP01-M001-X1,P01,P01-M001,{ts(1)},2.4.0,active,70,40,99\n"
    frame = read("sensor_readings", "dup.csv", csv.encode())
    assert frame.select("line_number", "parse_error").rows() == [
        (2, "duplicated column 'temperature_c' in the CSV header")
    ]
    assert json.loads(frame["raw_payload"][0])[-2:] == ["40", "99"]
    assert frame["device_id"].to_list() == [None]


# ---- values -------------------------------------------------------------------------------
DUPLICATED = (
    '{"device_id": "P01-M001-X1", "plant_id": "P01", "machine_id": "P01-M001", '
    f'"ts": "{ts(1)}", "ts": "{ts(2)}", "metrics": {{"temperature_c": 70}}}}'
)
DUPLICATED_METRIC = (
    '{"device_id": "P01-M001-X1", "plant_id": "P01", "machine_id": "P01-M001", '
    f'"ts": "{ts(3)}", "metrics": {{"temperature_c": 70, "temperature_c": 9999}}}}'
)
NEIGHBOURS = {
    "alone": [],
    "after a good line": [line(sensor(10))],
    "after a broken line": ["{broken"],
    "after a deep line": [line(sensor(11, firmware=json.loads("[" * 200 + "]" * 200)))],
    "after an out-of-range number": [line(sensor(12)).replace("70.0", "1e309")],
}


@pytest.mark.parametrize("neighbours", sorted(NEIGHBOURS))
def test_a_duplicated_key_is_malformed_whatever_the_other_lines(neighbours: str) -> None:
    frame = read(
        "sensor_readings",
        "dup.jsonl",
        jsonl(NEIGHBOURS[neighbours] + [DUPLICATED, DUPLICATED_METRIC]),
    )
    assert columns(frame.tail(2), ["parse_error", "ts", "metric__temperature_c"]).rows() == [
        ("duplicated key 'ts'", None, None),
        ("duplicated key 'temperature_c'", None, None),
    ]


@pytest.mark.parametrize("neighbours", sorted(NEIGHBOURS))
def test_numbers_and_strings_read_the_same_whatever_the_other_lines(neighbours: str) -> None:
    record = (
        '{"device_id": 123456789012345678901234567890, "plant_id": "P01", "machine_id": '
        '"P01-M001", "ts": "' + ts(4) + '", "firmware": -0, "status": "\\u00e9\\ud83d\\ude00",'
        ' "metrics": {"temperature_c": 1E+2, "humidity_pct": 1e-400, "pressure_bar": 71.30}}'
    )
    frame = read("sensor_readings", "n.jsonl", jsonl(NEIGHBOURS[neighbours] + [record]))
    alone = read("sensor_readings", "n.jsonl", jsonl([record]))
    columns = ["device_id", "firmware", "status", "metric__temperature_c", "metric__pressure_bar"]
    assert frame.tail(1).select(columns).rows() == alone.select(columns).rows()
    assert alone.select(columns).rows() == [
        ("123456789012345678901234567890", "0", "é😀", "100", "71.3")
    ]


def test_a_number_beyond_a_double_nulls_that_value_and_flags_it() -> None:
    big = line(sensor(1)).replace('"temperature_c": 70.0', '"temperature_c": 1e309')
    small = line(sensor(2)).replace('"humidity_pct": 40.0', '"humidity_pct": -1e309')
    as_text = line(sensor(3, metrics={"temperature_c": "1e309", "pressure_bar": "2"}))
    bronze = read("sensor_readings", "big.jsonl", jsonl([big, small, as_text]))
    assert bronze["parse_error"].null_count() == 3
    assert bronze["metric__temperature_c"].to_list() == ["1e309", "70", "1e309"]
    assert bronze["metric__humidity_pct"].to_list() == ["40", "-1e309", None]
    silver = collect(silver_sensor_readings(lazy(bronze), TZ, [DAY]).silver).sort("ts")
    assert silver["temperature_c"].to_list() == [None, 70.0, None]
    assert silver["humidity_pct"].to_list() == [40.0, None, None]
    assert silver["flags"].to_list() == [
        "unparseable:temperature_c",
        "unparseable:humidity_pct",
        "unparseable:temperature_c",
    ]
    assert silver["is_valid"].to_list() == [True, True, True]


def no_assignments() -> Any:
    return lazy(
        pl.DataFrame(
            schema={
                "production_date": pl.Date,
                "machine_id": pl.String,
                "mold_id": pl.String,
                "valid_from": pl.Datetime("us", "UTC"),
                "valid_to": pl.Datetime("us", "UTC"),
            }
        )
    )


def test_shot_content_values_beyond_a_double_and_duplicated_content_keys() -> None:
    records = [
        shot("X-1", ts(1), '{"cycle_time_s": 1e309, "cushion_mm": 5.1}'),
        shot("X-2", ts(2), '{"cycle_time_s": 31.2, "cycle_time_s": 99, "cushion_mm": 5.1}'),
        shot("X-3", ts(3), '{"cycle_time_s": 31.2, "spindle": -1e999}'),
        shot("X-4", ts(4), '{"cycle_time_s": ' + DEEP + "}"),
    ]
    bronze = read("shots", "s.jsonl", jsonl(records))
    assert bronze["parse_error"].null_count() == 4
    assert bronze["content_error"].to_list()[:3] == [None, "duplicated key 'cycle_time_s'", None]
    assert bronze["content_error"][3].startswith("invalid JSON: ")
    silver = collect(silver_shots(lazy(bronze), TZ, [DAY], no_assignments()).silver).sort("shot_id")
    assert silver.select("shot_id", "cycle_time_s", "cushion_mm", "spindle", "flags").rows() == [
        ("X-1", None, 5.1, None, "unparseable:cycle_time_s"),
        ("X-2", None, None, None, "unparseable_content"),
        ("X-3", 31.2, None, None, "unparseable:spindle"),
        ("X-4", None, None, None, "unparseable_content"),
    ]


def test_leap_seconds_and_times_beyond_a_datetime_are_quarantined_with_a_reason() -> None:
    records = [
        sensor_at(f"{D}T10:59:60+01:00"),
        sensor_at(f"{D}T23:59:60.500"),  # plant-local: Polars alone would say the 31st
        sensor_at("9999-12-31T23:00:00-05:00"),  # UTC: year 10000
        sensor_at("0001-01-01T00:30:00+01:00"),  # UTC: year 0
        sensor_at(f"{D} 10:00:60Z"),
        sensor(6),
    ]
    bronze = read("sensor_readings", "t.jsonl", jsonl(records))
    result = silver_sensor_readings(lazy(bronze), TZ, [DAY])
    quarantine = collect(result.quarantine).sort("line_number")
    assert quarantine.select("line_number", "reason", "production_date").rows() == [
        (1, "unparseable_ts", DAY),
        (2, "unparseable_ts", DAY),
        (3, "out_of_window", DAY),
        (4, "out_of_window", DAY),
        (5, "unparseable_ts", DAY),
    ]
    assert quarantine["detail"][0] == (
        f"field 'ts' is a leap second, which UTC timestamps cannot hold: {D}T10:59:60+01:00"
    )
    assert collect(result.silver)["line_number"].to_list() == [6]


def test_json_nested_too_deeply_and_unpaired_surrogates_are_malformed() -> None:
    records = [
        line(sensor(1)).replace('"firmware": "2.4.0"', f'"firmware": {DEEP}'),
        line(sensor(2)).replace("P01-M001-X1", "P01-M001-\\ud800"),
        line(sensor(3)).replace("P01-M001-X1", "P01-M001-\\udc00\\ud83d"),
        line(sensor(4)).replace('"firmware": "2.4.0"', '"firmware": NaN'),
        line(sensor(5)),
    ]
    frame = read("sensor_readings", "odd.jsonl", jsonl(records))
    errors = frame["parse_error"].to_list()
    assert errors[0].startswith("invalid JSON: ") and "Depth" in errors[0]
    unpaired = "invalid JSON: a string is not valid Unicode (unpaired surrogate escape)"
    assert errors[1:] == [unpaired, unpaired, "invalid JSON", None]


def test_parse_json_objects_never_depends_on_the_batch() -> None:
    texts = [
        '{"a": 1, "b": {"x": 1, "x": 2}}',
        '{"a": "x", "b": {"x": 1}, "c": {"x": 1}}',  # the same key in two objects is fine
        '{"a": 1e400}',
        '{"a": "line\nbreak"}',  # a raw line break inside a string: not JSON
        '{"a":\n 7}',  # a raw line break between tokens: JSON
        "[1]",
        None,
        "  ",
    ]
    together, errors = parse_json_objects(pl.Series(texts), ("a",))
    for i, text in enumerate(texts):
        alone, error = parse_json_objects(pl.Series([text], dtype=pl.String), ("a",))
        assert (together.row(i), errors[i]) == (alone.row(0), error[0]), text
    assert together["a"].to_list() == [None, "x", "1e400", None, "7", None, None, None]
    assert errors.to_list() == [
        "duplicated key 'x'",
        None,
        None,
        "invalid JSON",
        None,
        "not a JSON object",
        None,
        None,
    ]


# ---- Spark reads the same -------------------------------------------------------------------
@pytest.mark.integration
def test_spark_reads_leap_seconds_and_huge_numbers_as_polars_does(spark: Any) -> None:
    from polars.testing import assert_frame_equal

    from manufacturing_assets.resources.engine import collect_polars, to_spark

    records = [
        sensor_at(f"{D}T10:59:60+01:00"),
        sensor_at(f"{D}T23:59:60"),
        sensor_at("9999-12-31T23:00:00-05:00"),
        line(sensor(4)).replace('"temperature_c": 70.0', '"temperature_c": 1e309'),
        sensor(5, metrics={"humidity_pct": "-1e309", "pressure_bar": "1e-400"}),
    ]
    bronze = read("sensor_readings", "t.jsonl", jsonl(records))
    on_polars = silver_sensor_readings(lazy(bronze), TZ, [DAY])
    on_spark = silver_sensor_readings(nw_spark(spark, to_spark, bronze), TZ, [DAY])
    for left, right in [
        (collect(on_polars.silver), collect_polars(on_spark.silver)),
        (collect(on_polars.quarantine), collect_polars(on_spark.quarantine)),
    ]:
        assert left.height and sorted(left.columns) == sorted(right.columns)
        assert_frame_equal(
            left.sort("line_number"),
            right.select(left.columns).sort("line_number"),
            check_dtypes=False,
        )


def nw_spark(spark: Any, to_spark: Any, frame: pl.DataFrame) -> Any:
    import narwhals as nw

    return nw.from_native(to_spark(spark, frame))


# ---- Kafka: every decoding failure is a dead letter or quarantined, never a failed pass -----
kafka_broker = kafka_fixtures.kafka_broker  # the session's Tansu broker fixture

MACHINES_CSV = (
    "machine_id,plant_id,line_id,machine_type,tonnage\nP01-M001,P01,P01-L1,hydraulic,350\n"
)


@pytest.mark.integration
def test_kafka_messages_that_cannot_be_decoded_are_dead_letters(
    kafka_broker: str, tmp_path: Path
) -> None:
    from manufacturing_assets.kafka.files import deadletter_key
    from manufacturing_assets.kafka.lander import LandingOptions, run_landing_pass
    from manufacturing_assets.kafka.settings import KafkaSettings
    from manufacturing_assets_tests.helpers import write_plants
    from manufacturing_assets_tests.kafka_fixtures import (
        KAFKA_TEST_SESSION_TIMEOUT_MS,
        committed_offsets,
        create_topics,
        produce,
        unique_group,
        unique_topic,
    )

    topic = unique_topic("readings")
    create_topics(kafka_broker, [topic], partitions=1)
    landing = LandingZone(root=str(tmp_path))
    write_plants(landing)
    landing.write_bytes(
        "reference/machines/snapshot_date=2024-03-01/machines.csv", MACHINES_CSV.encode()
    )
    huge = line(sensor(5)).replace('"temperature_c": 70.0', '"temperature_c": 1e309')
    values: list[bytes] = [
        line(sensor(1)).encode(),  # 0 lands
        line(sensor_at("9999-12-31T23:00:00-05:00")).encode(),  # 1 lands: out_of_window
        line(sensor(2)).replace('"firmware": "2.4.0"', '"firmware": ' + "[" * 100_000).encode(),
        line(sensor_at("0001-01-01T00:10:00")).encode(),  # 3 lands: out_of_window (local)
        line(sensor_at(f"{D}T10:59:60+01:00")).encode(),  # 4 lands: leap second, unparseable
        huge.encode(),  # 5 lands: silver nulls the value
        DUPLICATED.encode(),  # 6 lands: silver quarantines it (malformed_record)
        line(sensor(7)).replace("P01-M001-X1", "P01-M001-\\ud800").encode(),  # 7 lands: idem
        line(sensor(8)).replace('"firmware": "2.4.0"', '"firmware": NaN').encode(),  # 8
        ("[" * 100_000 + "]" * 100_000).encode(),  # 9 RecursionError in Python's parser
        line(sensor(10)).encode(),  # 10 lands
    ]
    # Kafka timestamps on DAY (noon UTC): where events without a usable ts land
    noon_ms = int(datetime(2024, 3, 30, 12, tzinfo=UTC).timestamp() * 1000)
    produce(kafka_broker, topic, [("P01-M001", v) for v in values], timestamps=[noon_ms] * 11)
    settings = KafkaSettings(
        bootstrap_servers=kafka_broker,
        group_id=unique_group("bad"),
        topics={topic: "sensor_readings"},
        session_timeout_ms=KAFKA_TEST_SESSION_TIMEOUT_MS,
    )
    options = LandingOptions(idle_timeout_s=1.5, max_seconds=60, assign_timeout_s=60)
    report = run_landing_pass(settings, landing, options)
    # a ts outside the range of datetimes or a leap second: landed for silver's quarantine
    # (under the Kafka timestamp's date), like a file's record; undecodable: dead letters
    assert (report.messages, report.landed, report.dead_letters) == (11, 8, 3)
    assert report.bad_ts == 3
    assert committed_offsets(kafka_broker, settings.group_id, topic, 1) == {0: 11}
    dead = {
        d["offset"]: d["error"]
        for d in map(json.loads, landing.read_bytes(deadletter_key(topic, 0, 0, 10)).splitlines())
    }
    assert sorted(dead) == [2, 8, 9]
    deep = "invalid JSON: nested too deeply to decode (RecursionError)"
    assert dead[2] == dead[9] == deep
    assert dead[8] == "invalid JSON: NaN is not JSON"

    # what landed goes through bronze and silver like any file
    files = [(o.key, landing.read_bytes(o.key)) for o in landing.list_objects("raw/")]
    assert len(files) == 1
    bronze = bronze_of(files)
    offsets = [json.loads(p)["_kafka"]["offset"] for p in bronze["raw_payload"]]
    assert offsets == [0, 1, 3, 4, 5, 6, 7, 10]
    result = silver_sensor_readings(lazy(bronze), TZ, [DAY])
    silver = collect(result.silver).sort("line_number")
    assert silver.select("line_number", "temperature_c", "flags").rows() == [
        (1, 70.0, ""),
        (5, None, "unparseable:temperature_c"),
        (8, 70.0, ""),
    ]
    quarantine = collect(result.quarantine).sort("line_number")
    assert quarantine.select("line_number", "reason", "detail").rows() == [
        # as in a file: a ts far from the folder date is out_of_window, a leap second is not
        # a timestamp (docs/contract-decisions.md)
        (
            2,
            "out_of_window",
            "production date +10000-01-01 is more than one day from folder date 2024-03-30",
        ),
        (
            3,
            "out_of_window",
            "production date 0001-01-01 is more than one day from folder date 2024-03-30",
        ),
        (
            4,
            "unparseable_ts",
            f"field 'ts' is a leap second, which UTC timestamps cannot hold: {D}T10:59:60+01:00",
        ),
        (6, "malformed_record", "duplicated key 'ts'"),
        (
            7,
            "malformed_record",
            "invalid JSON: a string is not valid Unicode (unpaired surrogate escape)",
        ),
    ]


# ---- record accounting, all four streams --------------------------------------------------
def land_every_bad_file(landing: LandingZone) -> dict[str, dict[str, int]]:
    """Every class of bad input of this module, landed for P01 on DAY next to the generated
    sample; returns the rows each stream adds: ``silver`` and one count per quarantine reason
    (hand-computed, one comment per record)."""

    def put(stream: str, name: str, data: bytes) -> None:
        landing.write_bytes(key(stream, f"x-{name}"), data)

    for name, (stream, data) in EMPTY_FILES.items():  # 0 records each
        put(stream, name, data)

    s = "sensor_readings"
    put(
        s, "cut.jsonl.gz", truncated_gzip([line(sensor(s_)) for s_ in (1, 2, 3)], [line(sensor(4))])
    )
    # -> 3 silver (lines 1-3), 1 malformed_record (the tail, line 4)
    put(s, "latin1.jsonl", jsonl([sensor(5)]) + latin1_line(sensor(6, status="défaut")) + b"\n")
    # -> 1 silver, 1 malformed_record (line 2 not UTF-8)
    latin1_csv = (
        f"{SENSOR_HEADER}\nP01-M001-X1,P01,P01-M001,{ts(7)},2.4.0,active,70,40\n".encode()
        + f"P01-M001-X1,P01,P01-M001,{ts(8)},2.4.0,défaut,70,40\n".encode("latin-1")
    )
    put(s, "latin1.csv", latin1_csv)  # -> 1 silver, 1 malformed_record
    put(s, "bom.jsonl", b"\xef\xbb\xbf" + jsonl([sensor(9)]))  # -> 1 silver
    bom_csv = f"{SENSOR_HEADER}\nP01-M001-X1,P01,P01-M001,{ts(10)},2.4.0,active,70,40\n"
    put(s, "bom.csv", b"\xef\xbb\xbf" + bom_csv.encode())  # -> 1 silver
    put(
        s,
        "values.jsonl",
        jsonl(
            [
                DUPLICATED,  # malformed_record (duplicated key 'ts')
                DUPLICATED_METRIC,  # malformed_record (duplicated key 'temperature_c')
                line(sensor(11)).replace('"temperature_c": 70.0', '"temperature_c": 1e309'),
                # ^ silver, temperature_c null, unparseable:temperature_c
                sensor(12, metrics={"humidity_pct": "-1e309", "pressure_bar": 1e-300}),
                # ^ silver, unparseable:humidity_pct
                sensor_at(f"{D}T10:59:60+01:00"),  # unparseable_ts (leap second)
                sensor_at("9999-12-31T23:00:00-05:00"),  # out_of_window (UTC year 10000)
                line(sensor(13)).replace('"firmware": "2.4.0"', f'"firmware": {DEEP}'),
                # ^ malformed_record (nested deeper than 1024 levels)
                line(sensor(14)).replace("P01-M001-X1", "P01-M001-\\ud800"),  # malformed_record
                line(sensor(15)).replace('"firmware": "2.4.0"', '"firmware": NaN'),  # malformed
                sensor(16),  # silver
            ]
        ),
    )
    dup_header = (
        f"{SENSOR_HEADER},temperature_c\n"
        f"P01-M001-X1,P01,P01-M001,{ts(17)},2.4.0,active,70,40,71\n"
        f"P01-M001-X1,P01,P01-M001,{ts(18)},2.4.0,active,70,40,71\n"
    )
    put(s, "dup-header.csv", dup_header.encode())  # -> 2 malformed_record
    blank_lines = (
        f"{SENSOR_HEADER}\n\nP01-M001-X1,P01,P01-M001,{ts(19)},2.4.0,active,70,40\n\n"
        f"P01-M001-X1,P01,P01-M001,{ts(20)},2.4.0,active,70,40\n\n\n"
    )
    put(s, "blank-lines.csv", blank_lines.encode())  # -> 2 silver
    put(s, "dup-alone.jsonl", jsonl([DUPLICATED]))  # -> 1 malformed_record (fast path alike)

    put(
        "shots",
        "cut.jsonl.gz",
        truncated_gzip(
            [line(shot(f"X-{i}", ts(i))) for i in (1, 2, 3)], [line(shot("X-4", ts(4)))]
        ),
    )  # -> 3 silver, 1 malformed_record
    put(
        "shots",
        "values.jsonl",
        jsonl(
            [
                shot("X-5", ts(5), '{"cycle_time_s": 1e309}'),  # silver, unparseable:cycle_time_s
                shot("X-6", ts(6), '{"cycle_time_s": 1, "cycle_time_s": 2}'),  # silver, content
                line(shot("X-7", ts(7))).replace(
                    '"shot_id": "X-7"', '"shot_id": "X-7", "shot_id": "X-8"'
                ),
                # ^ malformed_record (duplicated key 'shot_id')
                shot("X-9", f"{D}T10:00:60+01:00"),  # unparseable_ts
                shot("X-10", ts(10)),  # silver
            ]
        )
        + latin1_line(shot("X-11é", ts(11)))  # malformed_record
        + b"\n",
    )

    e = "machine_events"
    put(
        e,
        "values.jsonl",
        jsonl(
            [
                line(event(ts(21))).replace(
                    '"state": "RUNNING"', '"state": "RUNNING", "state": "DOWN"'
                ),
                # ^ malformed_record (duplicated key 'state')
                event(f"{D}T10:00:60+01:00"),  # unparseable_ts
                event("9999-12-31T23:00:00-05:00"),  # out_of_window
                line(event(ts(22), reason_code="\\udc00")).replace("\\\\udc00", "\\udc00"),
                # ^ malformed_record (unpaired surrogate)
                event(ts(23)),  # silver
            ]
        )
        + latin1_line(event(ts(24), reason_code="bahnhöfe"))  # malformed_record
        + b"\n",
    )

    q = "quality_inspections"
    rows = (
        f"{INSPECTION_HEADER}\n"
        f"P01-M001,P01,{D}T10:00:00+01:00,PT-X1,20,1,\n"  # silver
        f"P01-M001,P01,{D}T10:00:00+01:00,PT-X2,1e309,1,\n"  # invalid_count
        "\n"  # not a row
        f"P01-M001,P01,{D}T10:59:60+01:00,PT-X3,20,1,\n"  # unparseable_ts (leap second)
        f"P01-M001,P01,{D}T11:00:00+01:00,PT-X4,20,1,\n"  # silver
    ).encode() + f"P01-M001,P01,{D}T12:00:00+01:00,PT-X5,20,1,défaut\n".encode("latin-1")
    put(q, "values.csv", rows)  # ^ the last row: malformed_record
    put(
        q,
        "dup-header.csv",
        f"{INSPECTION_HEADER},part_id\nP01-M001,P01,{D}T13:00:00+01:00,PT-X6,20,1,,PT-X7\n".encode(),
    )
    # ^ malformed_record
    put(q, "corrupt.parquet", b"PAR1 not parquet at all")  # malformed_record (file unreadable)

    return {
        s: {"silver": 12, "malformed_record": 11, "unparseable_ts": 1, "out_of_window": 1},
        "shots": {"silver": 6, "malformed_record": 3, "unparseable_ts": 1},
        e: {"silver": 1, "malformed_record": 3, "unparseable_ts": 1, "out_of_window": 1},
        q: {"silver": 2, "malformed_record": 3, "invalid_count": 1, "unparseable_ts": 1},
    }


def generated_reasons(manifest: dict[str, Any], stream: str) -> dict[str, int]:
    """Quarantine rows the generator's bad input makes: one per bad record of a reason kind,
    one per corrupt gzip (the file is one row) and per not-JSON page (one line each)."""
    bad = manifest["bad_input"][stream]
    counts = {r: bad.get(r, 0) for r in QUARANTINE_REASONS}
    counts["malformed_record"] += bad.get("corrupt_gzip", 0) + bad.get("not_json_file", 0)
    return {r: n for r, n in counts.items() if n}


MALFORMED_DETAILS = (
    "duplicated key '",
    "duplicated column '",
    "invalid JSON",
    "invalid UTF-8: byte 0x",
    "truncated gzip: ",
    "file unreadable: ",
)


def test_every_record_of_every_stream_is_accounted_for(tmp_path: Path) -> None:
    settings = Settings.from_env({"MA_DATA_DIR": str(tmp_path)})
    landing = LandingZone(root=settings.landing_root)
    config = GeneratorConfig(
        start_date=DAY,
        days=2,
        plants=(PlantSpec("P01", "Berlin Works", "EMEA", "DE", TZ),),
        machines_per_plant=2,
        readings_per_machine_per_day=24,
        shots_per_machine_per_day=12,
        bad_per_kind=(1, 2),
    )
    manifest = generate_landing_zone(landing, config)
    added = land_every_bad_file(landing)
    (tmp_path / "home").mkdir()
    with DagsterInstance.local_temp(str(tmp_path / "home")) as instance:
        report = run_pipeline(settings, instance, log=lambda *_: None)
    assert report.failed_steps == []

    for stream in ("sensor_readings", "shots", "machine_events", "quality_inspections"):
        tables = {
            layer: read_delta(f"{settings.lake_root}/{layer}/{stream}")
            for layer in ("bronze", "silver", "quarantine")
        }
        bronze, silver, quarantine = tables["bronze"], tables["silver"], tables["quarantine"]
        # every bronze record is one silver row, one dropped re-delivery or one quarantine row
        redelivered = int(silver["deliveries"].sum()) - silver.height
        assert bronze.height == silver.height + redelivered + quarantine.height, stream
        kept = pl.concat(
            [silver.select("source", "line_number"), quarantine.select("source", "line_number")]
        )
        assert kept.is_duplicated().sum() == 0, stream
        assert kept.join(bronze, on=["source", "line_number"], how="anti").height == 0, stream

        ours = pl.col("source").str.contains("/x-", literal=True)
        want = dict(added[stream])
        # the files of this module hold no re-delivery: their bronze rows are silver or quarantine
        mine = bronze.filter(ours).select("source", "line_number")
        got = kept.filter(ours)
        assert sorted(mine.rows()) == sorted(got.rows()), stream
        assert silver.filter(ours).height == want.pop("silver"), stream
        reasons = dict(quarantine.filter(ours).group_by("reason").len().iter_rows())
        assert reasons == want, stream
        details = quarantine.filter(ours & (pl.col("reason") == "malformed_record"))["detail"]
        assert all(d.startswith(MALFORMED_DETAILS) for d in details), stream
        generated = dict(quarantine.filter(~ours).group_by("reason").len().iter_rows())
        assert generated == generated_reasons(manifest, stream), stream
