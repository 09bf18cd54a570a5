"""Tests of the sample landing-zone generator.

The written files are parsed here independently of the generator (json, csv, pyarrow,
datetime.fromisoformat, the written reference snapshots) and every bad-input kind is
counted from the files and compared with the manifest.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import zlib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest

from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets_tools.benchmarks.sensor_readings_data import (
    generate_sensor_readings_benchmark,
)
from manufacturing_assets_tools.generator import (
    BAD_INPUT_KINDS,
    ENTITY_COLUMNS,
    RECORD_KINDS,
    STREAMS,
    GeneratorConfig,
    generate_landing_zone,
)

DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
KNOWN_METRICS = {"temperature_c", "temperature_f", "humidity_pct", "pressure_bar", "vibration_mm_s"}
RANGES = {
    "temperature_c": (-40, 150),
    "humidity_pct": (0, 100),
    "pressure_bar": (0, 400),
    "vibration_mm_s": (0, 100),
}
SENTINELS = {9999.0, -9999.0, -999.0}
SENSOR_BASE = ["device_id", "plant_id", "machine_id", "ts", "firmware", "status"]
STATES = {"RUNNING", "IDLE", "DOWN", "SETUP", "PLANNED_STOP"}
KEY_PATTERNS = {
    "sensor_readings": r"(jsonl|jsonl\.gz|csv)",
    "shots": r"(jsonl|jsonl\.gz)",
    "machine_events": r"(jsonl|jsonl\.gz)",
    "quality_inspections": r"(csv|parquet)",
}
MALFORMED = object()


@dataclass
class Row:
    key: str
    line: int
    plant: str
    folder: date
    fmt: str  # json | csv | parquet
    obj: Any  # dict, or MALFORMED


# ---- fixtures ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("landing")
    manifest = generate_landing_zone(LandingZone(root=str(root)), GeneratorConfig())
    return root, manifest


@pytest.fixture(scope="module")
def zones(generated) -> dict[str, ZoneInfo]:
    root, manifest = generated
    d = manifest["dates"][0]
    with open(root / f"reference/plants/snapshot_date={d}/plants.csv", encoding="utf-8") as fh:
        return {r["plant_id"]: ZoneInfo(r["timezone"]) for r in csv.DictReader(fh)}


# ---- independent reading -------------------------------------------------------------------
def files_of(root: Path, prefix: str) -> list[tuple[str, Path]]:
    base = root / prefix
    return sorted((p.relative_to(root).as_posix(), p) for p in base.rglob("*") if p.is_file())


def load_stream(root: Path, stream: str, skip: set[str]) -> list[Row]:
    rows: list[Row] = []
    for key, path in files_of(root, f"raw/{stream}"):
        if key in skip:
            continue
        plant = re.search(r"/plant=([^/]+)/", key)[1]
        folder = date.fromisoformat(re.search(r"/date=([^/]+)/", key)[1])
        if key.endswith((".jsonl", ".jsonl.gz")):
            data = path.read_bytes()
            if key.endswith(".gz"):
                data = gzip.decompress(data)
            for i, line in enumerate(data.decode("utf-8").splitlines(), 1):
                try:
                    obj = json.loads(line)
                except ValueError:
                    obj = MALFORMED
                rows.append(
                    Row(key, i, plant, folder, "json", obj if isinstance(obj, dict) else MALFORMED)
                )
        elif key.endswith(".csv"):
            reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
            for i, rec in enumerate(reader, 2):
                rows.append(Row(key, i, plant, folder, "csv", rec))
        elif key.endswith(".parquet"):
            for i, rec in enumerate(pq.read_table(path).to_pylist(), 1):
                rows.append(Row(key, i, plant, folder, "parquet", rec))
        else:
            raise AssertionError(f"unexpected file {key}")
    return rows


def missing(v: Any) -> bool:
    return v is None or (isinstance(v, str) and v.strip() == "")


def parse_ts(v: Any, zone: ZoneInfo) -> tuple[str, datetime | None]:
    """('missing'|'unparseable'|'naive'|'ok', instant)."""
    if missing(v):
        return "missing", None
    try:
        dt = datetime.fromisoformat(str(v))
    except ValueError:
        return "unparseable", None
    if dt.tzinfo is None:
        return "naive", dt.replace(tzinfo=zone)
    return "ok", dt


def numeric(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str) and DECIMAL.match(v.strip()):
        return float(v)
    return None


def count_kinds(stream: str, rows: list[Row], zones: dict[str, ZoneInfo], assignments) -> Counter:
    c: Counter = Counter()
    ts_field = "hour_start" if stream == "quality_inspections" else "ts"
    id_field = {
        "sensor_readings": "device_id",
        "shots": "shot_id",
        "quality_inspections": "part_id",
    }
    seen: set = set()
    for row in rows:
        if row.obj is MALFORMED:
            c["malformed_record"] += 1
            continue
        o, zone = row.obj, zones[row.plant]
        if missing(o.get("machine_id")):
            c["missing_machine_id"] += 1
        if stream in id_field and missing(o.get(id_field[stream])):
            c[f"missing_{id_field[stream]}"] += 1
        status, instant = parse_ts(o.get(ts_field), zone)
        if status == "missing":
            c["missing_ts"] += 1
        elif status == "unparseable":
            c["unparseable_ts"] += 1
        else:
            if status == "naive":
                c["ts_without_offset"] += 1
            distance = abs((instant.astimezone(zone).date() - row.folder).days)
            if distance == 1:
                c["midnight_skew"] += 1
            elif distance > 1:
                c["out_of_window"] += 1
        if not missing(o.get("plant_id")) and o["plant_id"] != row.plant:
            c["plant_mismatch"] += 1
        # exact re-deliveries by the contract's keys
        if instant is not None:
            us = round(instant.timestamp() * 1_000_000)
            key = {
                "sensor_readings": (o.get("device_id"), us),
                "shots": (o.get("shot_id"),),
                "machine_events": (o.get("machine_id"), us),
                "quality_inspections": (o.get("machine_id"), us, o.get("part_id")),
            }[stream]
            if not any(missing(k) for k in key if not isinstance(k, int)):
                if key in seen:
                    c["redelivered"] += 1
                seen.add(key)
        if stream == "sensor_readings":
            count_sensor(row, o, c)
        elif stream == "shots":
            if missing(o.get("mold_id")):
                mounted = instant is not None and any(
                    a <= instant and (b is None or instant < b)
                    for a, b in assignments.get(o.get("machine_id"), [])
                )
                c["missing_mold_id" if mounted else "unresolved_mold"] += 1
        elif stream == "machine_events":
            if o.get("state") not in STATES:
                c["invalid_state"] += 1
        else:
            bad = False
            for col in ("inspected_count", "rejected_count"):
                v = o.get(col)
                if isinstance(v, str):
                    bad |= not re.fullmatch(r"\d+", v.strip())
                else:
                    bad |= v is None or v < 0
            c["invalid_count"] += bad
    return c


def count_sensor(row: Row, o: dict, c: Counter) -> None:
    if row.fmt == "csv":
        metrics = {k: v for k, v in o.items() if k not in SENSOR_BASE and v != ""}
    else:
        metrics = {k: v for k, v in o.get("metrics", {}).items() if v is not None}
    if o.get("status") not in ("active", "idle", "faulty"):
        c["invalid_status"] += 1
    if "temperature_f" in metrics:
        c["temperature_f"] += 1
    if set(metrics) - KNOWN_METRICS:
        c["unknown_metric"] += 1
    flags = set()
    for k, v in metrics.items():
        if row.fmt == "json" and isinstance(v, str) and DECIMAL.match(v):
            flags.add("numeric_string")
        value = numeric(v)
        if value is None:
            flags.add("unparseable")
            continue
        if value in SENTINELS and (row.fmt == "csv" or not isinstance(v, str)):
            flags.add("sentinel")
            continue
        if k == "temperature_f":
            k, value = "temperature_c", (value - 32) * 5 / 9
        if k in RANGES and not RANGES[k][0] <= value <= RANGES[k][1]:
            flags.add("out_of_range")
    for f in flags:
        c[f] += 1


def read_assignments(root: Path, manifest: dict) -> dict[str, list]:
    last = manifest["dates"][-1]
    path = root / f"reference/mold_assignments/snapshot_date={last}/mold_assignments.csv"
    out: dict[str, list] = {}
    with open(path, encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            vt = datetime.fromisoformat(r["valid_to"]) if r["valid_to"] else None
            out.setdefault(r["machine_id"], []).append(
                (datetime.fromisoformat(r["valid_from"]), vt)
            )
    return out


# ---- tests ------------------------------------------------------------------------------
def test_manifest_shape(generated):
    root, manifest = generated
    on_disk = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk == manifest
    assert manifest["dates"] == ["2024-03-30", "2024-03-31", "2024-04-01"]
    assert [p["plant_id"] for p in manifest["plants"]] == ["P01", "P02"]
    assert {p["timezone"] for p in manifest["plants"]} == {"Europe/Berlin", "America/Chicago"}
    assert manifest["config"]["seed"] == 7
    for stream in STREAMS:
        assert set(manifest["bad_input"][stream]) == set(BAD_INPUT_KINDS[stream])
        # every kind present, record kinds in small counted amounts
        for kind, n in manifest["bad_input"][stream].items():
            assert n >= 1, (stream, kind)
            if kind in RECORD_KINDS[stream]:
                assert n <= 5, (stream, kind, n)
        for plant in ("P01", "P02"):
            for d in manifest["dates"]:
                part = manifest["streams"][stream]["partitions"][plant][d]
                assert part["files"] == len(part["file_list"])
                assert part["records"] == sum(f["records"] for f in part["file_list"])


def test_key_layout(generated):
    root, manifest = generated
    keys = [k for k, _ in files_of(root, "raw")]
    formats: dict[str, set] = {s: set() for s in STREAMS}
    for key in keys:
        m = re.fullmatch(
            r"raw/(\w+)/plant=(P0[12])/date=(\d{4}-\d{2}-\d{2})/[\w-]+\.([a-z.]+)", key
        )
        assert m, key
        stream, _, d, ext = m.groups()
        assert stream in STREAMS
        assert re.fullmatch(KEY_PATTERNS[stream], ext), key
        assert d in manifest["dates"]
        formats[stream].add(ext)
    assert formats["sensor_readings"] == {"jsonl", "jsonl.gz", "csv"}
    assert formats["shots"] == {"jsonl", "jsonl.gz"}
    assert formats["machine_events"] == {"jsonl"}
    assert formats["quality_inspections"] == {"csv", "parquet"}
    manifest_keys = {
        f["key"]
        for s in STREAMS
        for plant in manifest["streams"][s]["partitions"].values()
        for part in plant.values()
        for f in part["file_list"]
    }
    assert manifest_keys == set(keys)
    # several batch files per (non-empty) partition
    empty = {(e["stream"], e["plant_id"], e["date"]) for e in manifest["empty_partitions"]}
    for s in STREAMS:
        for plant in ("P01", "P02"):
            for d in manifest["dates"]:
                n = manifest["streams"][s]["partitions"][plant][d]["files"]
                assert (n == 0) if (s, plant, d) in empty else (n >= 2), (s, plant, d)
    # nothing else at the root
    top = {p.name for p in root.iterdir()}
    assert top == {"raw", "reference", "manifest.json"}


def test_empty_partition(generated):
    root, manifest = generated
    assert manifest["empty_partitions"] == [
        {"stream": "quality_inspections", "plant_id": "P02", "date": "2024-04-01"}
    ]
    for e in manifest["empty_partitions"]:
        folder = root / f"raw/{e['stream']}/plant={e['plant_id']}/date={e['date']}"
        assert not folder.exists() or not any(folder.iterdir())


def test_reference_snapshots(generated):
    root, manifest = generated
    snapshots: dict[str, dict[str, list[dict]]] = {}
    for entity, cols in ENTITY_COLUMNS.items():
        for d in manifest["dates"]:
            path = root / f"reference/{entity}/snapshot_date={d}/{entity}.csv"
            with open(path, encoding="utf-8", newline="") as fh:
                reader = csv.DictReader(fh)
                assert tuple(reader.fieldnames) == cols
                rows = list(reader)
            assert rows, (entity, d)
            snapshots.setdefault(entity, {})[d] = rows
    assert len(list((root / "reference").iterdir())) == 8
    d1, d2, d3 = manifest["dates"]
    plants = {r["plant_id"]: r for r in snapshots["plants"][d1]}
    assert plants["P01"]["timezone"] == "Europe/Berlin"
    assert plants["P02"]["timezone"] == "America/Chicago"
    # tonnage changes on day 2
    tc = manifest["history"]["machine_tonnage_change"]
    ton = {
        d: {r["machine_id"]: r["tonnage"] for r in snapshots["machines"][d]} for d in (d1, d2, d3)
    }
    assert ton[d1][tc["machine_id"]] == str(tc["old_tonnage"])
    assert ton[d2][tc["machine_id"]] == ton[d3][tc["machine_id"]] == str(tc["new_tonnage"])
    assert tc["old_tonnage"] != tc["new_tonnage"]
    # company renamed on day 3
    cr = manifest["history"]["company_rename"]
    names = {
        d: {r["company_id"]: r["company_name"] for r in snapshots["companies"][d]} for d in (d1, d3)
    }
    assert names[d1][cr["company_id"]] != names[d3][cr["company_id"]] == cr["new_name"]
    assert {r["company_type"] for r in snapshots["companies"][d1]} == {"supplier", "customer"}
    # mold assignments: full history, growing; a mid-day change on day 2
    ma = snapshots["mold_assignments"]
    assert len(ma[d1]) < len(ma[d2])
    change = manifest["history"]["mold_changes"][0]
    day2 = {(r["machine_id"], r["mold_id"]): r for r in ma[d2]}
    old = day2[(change["machine_id"], change["old_mold_id"])]
    new = day2[(change["machine_id"], change["new_mold_id"])]
    assert old["valid_to"] == change["unmounted_at"] and new["valid_to"] == ""
    assert datetime.fromisoformat(new["valid_from"]).date().isoformat() == d2
    for r in ma[d3]:
        assert datetime.fromisoformat(r["valid_from"]).tzinfo is not None
    # one mold_parts row per mold; every referenced id exists
    molds = {r["mold_id"] for r in snapshots["molds"][d3]}
    assert sorted(r["mold_id"] for r in snapshots["mold_parts"][d3]) == sorted(molds)
    assert {r["mold_id"] for r in ma[d3]} <= molds


def test_every_bad_input_kind_counted_in_files(generated, zones):
    root, manifest = generated
    assignments = read_assignments(root, manifest)
    unreadable = {
        f["key"] for f in manifest["bad_files"] if f["kind"] in ("corrupt_gzip", "not_json_file")
    }
    for stream in STREAMS:
        rows = load_stream(root, stream, unreadable)
        got = count_kinds(stream, rows, zones, assignments)
        expected = manifest["bad_input"][stream]
        for kind in RECORD_KINDS[stream]:
            if kind == "duplicate_record":
                continue
            assert got[kind] == expected[kind], (stream, kind, got[kind], expected[kind])
        # re-deliveries: single records + every record of re-delivered files
        file_records = sum(
            f["records"] for f in manifest["redelivered_files"] if f["stream"] == stream
        )
        assert got["redelivered"] == expected["duplicate_record"] + file_records, stream
        listed = [e for e in manifest["redelivered_records"] if e["stream"] == stream]
        assert len(listed) == expected["duplicate_record"]
        assert sum(r.obj is not MALFORMED for r in rows) + got["malformed_record"] == len(rows)


def test_bad_records_point_at_their_lines(generated, zones):
    root, manifest = generated
    cache: dict[str, dict[int, Row]] = {}
    skip = {f["key"] for f in manifest["bad_files"] if f["kind"] in ("corrupt_gzip",)}
    for stream in STREAMS:
        for row in load_stream(root, stream, skip):
            cache.setdefault(row.key, {})[row.line] = row
    for e in manifest["redelivered_records"]:
        copy_row, orig_row = (
            cache[e["key"]][e["line"]],
            cache[e["original_key"]][e["original_line"]],
        )
        assert copy_row.obj == orig_row.obj and e["key"] != e["original_key"]
    for e in manifest["bad_records"]:
        if e["stream"] == "machine_events" and e["kind"] == "invalid_state":
            assert cache[e["key"]][e["line"]].obj["state"] == e["variant"]
        row = cache[e["key"]][e["line"]]
        assert (row.plant, row.folder.isoformat()) == (e["plant_id"], e["date"])
        if e["kind"] == "malformed_record":
            assert row.obj is MALFORMED
        else:
            assert isinstance(row.obj, dict)
        if e["kind"] == "plant_mismatch":
            assert row.obj["plant_id"] == e["variant"] != row.plant


def test_file_level_bad_input(generated):
    root, manifest = generated
    by_kind = Counter((f["stream"], f["kind"]) for f in manifest["bad_files"])
    for stream in STREAMS:
        for kind in ("duplicate_file", "corrupt_gzip", "not_json_file", "empty_partition"):
            assert by_kind[(stream, kind)] == manifest["bad_input"][stream].get(kind, 0)
    corrupt = {f["key"] for f in manifest["bad_files"] if f["kind"] == "corrupt_gzip"}
    failed = set()
    for key, path in files_of(root, "raw"):
        if key.endswith(".gz"):
            try:
                gzip.decompress(path.read_bytes())
            except (OSError, EOFError, ValueError, zlib.error):
                failed.add(key)
    assert failed == corrupt and len(corrupt) == 2
    for f in manifest["bad_files"]:
        if f["kind"] == "not_json_file":
            text = (root / f["key"]).read_text()
            assert f["key"].endswith(".jsonl") and text.startswith("<html>")
            with pytest.raises(ValueError):
                json.loads(text.splitlines()[0])
    # whole files re-delivered under another name: same bytes
    hashes: dict[str, list[str]] = {}
    for key, path in files_of(root, "raw"):
        hashes.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), []).append(key)
    groups = sorted(sorted(keys) for keys in hashes.values() if len(keys) > 1)
    expected = sorted(
        sorted([f["original_key"], f["copy_key"]]) for f in manifest["redelivered_files"]
    )
    assert groups == expected and len(expected) == 4


def test_realistic_clean_data(generated, zones):
    root, manifest = generated
    rows = {
        s: load_stream(root, s, {f["key"] for f in manifest["bad_files"] if f["key"]})
        for s in STREAMS
    }
    # machine events: states from the allowed set, ts with the plant's offset
    timelines: dict[str, list[tuple[datetime, str]]] = {}
    for r in rows["machine_events"]:
        o = r.obj
        if o is MALFORMED or missing(o.get("machine_id")):
            continue
        status, instant = parse_ts(o.get("ts"), zones[r.plant])
        if (
            status in ("ok", "naive")
            and o["state"] in STATES
            and abs((instant.astimezone(zones[r.plant]).date() - r.folder).days) <= 1
        ):
            timelines.setdefault(o["machine_id"], []).append((instant, o["state"]))
    assert {s for tl in timelines.values() for _, s in tl} == STATES
    assert manifest["history"]["states_spanning_midnight"] > 0
    offsets = {
        datetime.fromisoformat(r.obj["ts"]).utcoffset()
        for r in rows["machine_events"]
        if r.obj is not MALFORMED
        and r.plant == "P01"
        and parse_ts(r.obj.get("ts"), zones["P01"])[0] == "ok"
    }
    assert {timedelta(hours=1), timedelta(hours=2)} <= offsets  # across the DST change
    for tl in timelines.values():
        tl.sort()

    def state_at(machine: str, instant: datetime) -> str:
        state = "IDLE"
        for t, s in timelines.get(machine, []):
            if t > instant:
                break
            state = s
        return state

    # shots fall while the machine runs (except purge shots without a mold)
    n_shots = 0
    for r in rows["shots"]:
        o = r.obj
        if o is MALFORMED or missing(o.get("machine_id")) or missing(o.get("shot_id")):
            continue
        status, instant = parse_ts(o.get("ts"), zones[r.plant])
        if (
            status not in ("ok", "naive")
            or abs((instant.astimezone(zones[r.plant]).date() - r.folder).days) > 1
        ):
            continue
        content = json.loads(o["content"])
        assert set(content) == {
            "cycle_time_s",
            "cushion_mm",
            "injection_pressure_bar",
            "melt_temp_c",
            "mold_temp_c",
            "shot_weight_g",
        }
        if not missing(o.get("mold_id")):
            assert state_at(o["machine_id"], instant) == "RUNNING", o
            n_shots += 1
    assert n_shots > 3000
    # inspections: 0 <= rejected <= inspected for rows with integer counts
    for r in rows["quality_inspections"]:
        counts = [str(r.obj[c]) for c in ("inspected_count", "rejected_count")]
        if all(c.isdigit() for c in counts):
            assert int(counts[1]) <= int(counts[0])
    # sensor readings: unflagged values inside the valid ranges, statuses valid
    c: Counter = Counter()
    for r in rows["sensor_readings"]:
        if r.obj is not MALFORMED:
            count_sensor(r, r.obj, c)
    assert sum(c.values()) == sum(
        manifest["bad_input"]["sensor_readings"][k]
        for k in (
            "invalid_status",
            "temperature_f",
            "unknown_metric",
            "numeric_string",
            "unparseable",
            "sentinel",
            "out_of_range",
        )
    )


def test_deterministic(generated, tmp_path):
    root, manifest = generated
    again = generate_landing_zone(LandingZone(root=str(tmp_path / "again")), GeneratorConfig())
    assert again == manifest
    first = {k: p.read_bytes() for k, p in files_of(root, "")}
    second = {k: p.read_bytes() for k, p in files_of(tmp_path / "again", "")}
    assert first.keys() == second.keys()
    for k in first:
        assert first[k] == second[k], k


def test_clean_mode_and_other_seed(tmp_path):
    config = GeneratorConfig(
        seed=11,
        days=2,
        readings_per_machine_per_day=24,
        shots_per_machine_per_day=20,
        machines_per_plant=2,
        bad_input=False,
    )
    manifest = generate_landing_zone(LandingZone(root=str(tmp_path)), config)
    assert all(n == 0 for s in STREAMS for n in manifest["bad_input"][s].values())
    assert manifest["bad_records"] == manifest["bad_files"] == manifest["empty_partitions"] == []
    rows = {s: load_stream(tmp_path, s, set()) for s in STREAMS}
    zones = {p["plant_id"]: ZoneInfo(p["timezone"]) for p in manifest["plants"]}
    for stream in STREAMS:
        got = count_kinds(stream, rows[stream], zones, read_assignments(tmp_path, manifest))
        assert not +got, (stream, got)
        n = sum(
            p["records"]
            for pl in manifest["streams"][stream]["partitions"].values()
            for p in pl.values()
        )
        assert n == len(rows[stream]) > 0
    assert len(rows["sensor_readings"]) == 2 * 2 * 2 * 24
    other = generate_landing_zone(
        LandingZone(root=str(tmp_path / "other")), GeneratorConfig(**{**vars(config), "seed": 12})
    )
    assert (
        other["streams"]["sensor_readings"]["records"]
        == manifest["streams"]["sensor_readings"]["records"]
    )
    key = manifest["streams"]["shots"]["partitions"]["P01"]["2024-03-30"]["file_list"][0]["key"]
    assert (tmp_path / key).read_bytes() != (tmp_path / "other" / key).read_bytes()


def test_benchmark_fast_path(tmp_path):
    landing = LandingZone(root=str(tmp_path))
    n = 100_003
    out = generate_sensor_readings_benchmark(landing, "P01", date(2024, 3, 31), n, files=5)
    assert out["rows"] == n and len(out["files"]) == 5
    formats = Counter(f["format"] for f in out["files"])
    assert formats["jsonl.gz"] >= 1 and formats["jsonl"] >= 1
    total, keys, sampled = 0, set(), 0
    for f in out["files"]:
        assert f["key"].startswith("raw/sensor_readings/plant=P01/date=2024-03-31/")
        data = (tmp_path / f["key"]).read_bytes()
        if f["key"].endswith(".gz"):
            data = gzip.decompress(data)
        lines = data.decode().splitlines()
        assert len(lines) == f["records"]
        total += len(lines)
        for line in lines[::997]:
            o = json.loads(line)
            ts = datetime.fromisoformat(o["ts"])
            assert ts.astimezone(ZoneInfo("Europe/Berlin")).date() == date(2024, 3, 31)
            assert set(o["metrics"]) == set(RANGES)
            for k, v in o["metrics"].items():
                assert RANGES[k][0] <= v <= RANGES[k][1]
            keys.add((o["device_id"], ts.astimezone(UTC)))
            sampled += 1
    assert total == n
    assert len(keys) == sampled
