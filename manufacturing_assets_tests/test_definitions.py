"""Regression guard: the code location (`manufacturing_assets.definitions:defs`) defines the
same assets, checks, jobs, sensors and resources as the pre-redesign code (commit 3b2856b),
in each of the 8 environment combinations it reads at import:

- Kafka on (``KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9``) or off (unset);
- landing and lake on S3 (``MA_LANDING_ROOT``, ``MA_LAKE_ROOT``, ``MA_S3_ENDPOINT_URL``) or
  local (unset: under ``MA_DATA_DIR``);
- engine spark (``MA_ENGINE=spark``) or polars (unset: the default).

Definitions read the environment when imported, so each combination is loaded in its own
Python process (this file run as a script with ``--snapshot``), all 8 in parallel. Nothing
connects to a server: Kafka and S3 point at port 9 and are only configured.

Expected: ``data/definitions_snapshot.json``: the snapshot of the base combination (Kafka
off, local, polars) and, for each other combination, what it sets or unsets relative to the
base. Re-record from the code on the path (when a change of definitions is intended)::

    python -m manufacturing_assets_tests.test_definitions --record

A check's severity is not part of its definition (each check passes it in its
``AssetCheckResult`` when it runs): `test_sample_digests.py` compares the severities the
sample run reports.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

SNAPSHOT_FILE = Path(__file__).parent / "data" / "definitions_snapshot.json"
SECTIONS = ("assets", "checks", "jobs", "sensors", "resources")
DATA_DIR_TOKEN = "$MA_DATA_DIR"

# dimension -> value -> variables set (unset: every variable the code reads stays absent)
DIMENSIONS: dict[str, dict[str, dict[str, str]]] = {
    "kafka": {"off": {}, "on": {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9"}},
    "storage": {
        "local": {},
        "s3": {
            "MA_LANDING_ROOT": "s3://bucket/landing",
            "MA_LAKE_ROOT": "s3://bucket/lake",
            "MA_S3_ENDPOINT_URL": "http://127.0.0.1:9",
        },
    },
    "engine": {"polars": {}, "spark": {"MA_ENGINE": "spark"}},
}
# variables of other settings are removed from the inherited environment (environment.py)
CLEARED_PREFIXES = ("MA_", "KAFKA_", "AWS_", "SNOWFLAKE_")


def label(choice: dict[str, str]) -> str:
    return " ".join(f"{dim}={value}" for dim, value in choice.items())


COMBINATIONS: dict[str, dict[str, str]] = {
    label(dict(zip(DIMENSIONS, values, strict=True))): {
        k: v
        for dim, value in zip(DIMENSIONS, values, strict=True)
        for k, v in DIMENSIONS[dim][value].items()
    }
    for values in itertools.product(*(list(v) for v in DIMENSIONS.values()))
}
BASE = label({dim: next(iter(values)) for dim, values in DIMENSIONS.items()})


# ---------------------------------------------------------------- snapshot of one process


def describe_partitions(pd: Any) -> str:
    from dagster import (
        DailyPartitionsDefinition,
        DynamicPartitionsDefinition,
        MultiPartitionsDefinition,
        StaticPartitionsDefinition,
        TimeWindowPartitionsDefinition,
    )

    if pd is None:
        return "unpartitioned"
    if isinstance(pd, MultiPartitionsDefinition):
        return "|".join(
            f"{d.name}({describe_partitions(d.partitions_def)})" for d in pd.partitions_defs
        )
    if isinstance(pd, DynamicPartitionsDefinition):
        return f"dynamic {pd.name}"
    if isinstance(pd, StaticPartitionsDefinition):
        return f"static {pd.get_partition_keys()}"
    if isinstance(pd, TimeWindowPartitionsDefinition):
        kind = "daily" if isinstance(pd, DailyPartitionsDefinition) else f"cron {pd.cron_schedule}"
        text = f"{kind} from {pd.start.strftime(pd.fmt)}"
        if pd.end is not None:
            text += f" to {pd.end.strftime(pd.fmt)}"
        if pd.end_offset:
            text += f", end offset {pd.end_offset}"
        if pd.timezone not in ("UTC", None):
            text += f", {pd.timezone}"
        return text
    return type(pd).__name__


def describe_mapping(mapping: Any) -> str:
    from dagster import IdentityPartitionMapping, MultiPartitionMapping, TimeWindowPartitionMapping

    if isinstance(mapping, MultiPartitionMapping):
        by_dim = mapping.downstream_mappings_by_upstream_dimension
        return "|".join(
            f"{dim}->{m.dimension_name}:{describe_mapping(m.partition_mapping)}"
            for dim, m in sorted(by_dim.items())
        )
    if isinstance(mapping, TimeWindowPartitionMapping):
        text = f"window({mapping.start_offset:+d},{mapping.end_offset:+d})"
        return text + (" allow missing" if mapping.allow_nonexistent_upstream_partitions else "")
    if isinstance(mapping, IdentityPartitionMapping):
        return "identity"
    return repr(mapping)


def _key(key: Any) -> str:
    return key.to_user_string()


def _jsonable(value: Any, data_dir: str) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v, data_dir) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_jsonable(v, data_dir) for v in value]
        return sorted(items, key=json.dumps) if isinstance(value, set | frozenset) else items
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value).replace(data_dir, DATA_DIR_TOKEN)


def snapshot_of(defs: Any, data_dir: str) -> dict[str, dict[str, Any]]:
    """The definitions as plain JSON (local paths under ``data_dir`` as ``$MA_DATA_DIR``)."""
    graph = defs.resolve_asset_graph()
    assets = {}
    for node in graph.asset_nodes:
        condition = node.automation_condition
        assets[_key(node.key)] = {
            "group": node.group_name,
            "partitions": describe_partitions(node.partitions_def),
            "execution": node.execution_type.value,
            "deps": sorted(_key(k) for k in node.parent_keys),
            "partition_mappings": {
                _key(k): describe_mapping(m) for k, m in sorted(node.partition_mappings.items())
            },
            "automation": condition.get_label() if condition is not None else None,
            "backfill": str(node.backfill_policy) if node.backfill_policy else None,
        }
    checks = {}
    for check_key in graph.asset_check_keys:
        spec = graph.get_check_spec(check_key)
        checks[f"{_key(check_key.asset_key)} {check_key.name}"] = {
            "blocking": spec.blocking,
            "partitions": describe_partitions(getattr(spec, "partitions_def", None)),
            "additional_deps": sorted(_key(d.asset_key) for d in spec.additional_deps),
            # severity: set in AssetCheckResult at run time; recorded when the spec declares it
            **({"severity": spec.metadata["severity"]} if "severity" in spec.metadata else {}),
        }
    jobs = {}
    for job in defs.jobs or []:
        resolved = defs.resolve_job_def(job.name)
        layer = resolved.asset_layer
        jobs[job.name] = {
            "assets": sorted(_key(k) for k in layer.selected_asset_keys) if layer else [],
            "partitions": describe_partitions(resolved.partitions_def),
        }
    sensors = {
        s.name: {
            "kind": type(s).__name__,
            "default_status": s.default_status.value,
            "jobs": sorted(t.job_name for t in s.targets),
        }
        for s in defs.sensors or []
    }
    resources = {
        key: {"type": type(r).__name__, "config": _jsonable(r.model_dump(), data_dir)}
        for key, r in (defs.resources or {}).items()
    }
    out = {"assets": assets, "checks": checks, "jobs": jobs, "sensors": sensors}
    return {**_jsonable(out, data_dir), "resources": resources}


def print_snapshot() -> None:
    """In the child process: load the code location from this environment, print JSON."""
    import warnings

    warnings.filterwarnings("ignore")
    import manufacturing_assets
    from manufacturing_assets.definitions import defs

    data_dir = str(Path(os.environ["MA_DATA_DIR"]).resolve())
    payload = {"package": manufacturing_assets.__file__, "snapshot": snapshot_of(defs, data_dir)}
    print(json.dumps(payload, sort_keys=True))


# ---------------------------------------------------------------- loading combinations


def package_root() -> str:
    """The folder the parent imports `manufacturing_assets` from (children use the same)."""
    spec = importlib.util.find_spec("manufacturing_assets")
    assert spec is not None and spec.origin is not None
    return str(Path(spec.origin).resolve().parents[1])


def load_combination(name: str) -> dict[str, Any]:
    root = package_root()
    with tempfile.TemporaryDirectory(prefix="defs_snapshot_") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED_PREFIXES)}
        env.update(COMBINATIONS[name])
        env["MA_DATA_DIR"] = str(Path(tmp) / "data")
        env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--snapshot"],
            env=env,
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=300,
        )
    if proc.returncode != 0:
        raise AssertionError(f"[{name}] loading the definitions failed:\n{proc.stderr[-4000:]}")
    payload = json.loads(proc.stdout.strip().splitlines()[-1])
    loaded = str(Path(payload["package"]).resolve().parents[1])
    assert loaded == root, f"[{name}] child imported {loaded}, not {root}"
    return payload["snapshot"]


def load_all(keep_errors: bool = False) -> dict[str, Any]:
    """Every combination's snapshot, loaded in parallel. With ``keep_errors``, a combination
    that fails to load maps to its AssertionError (each test reports its own)."""

    def load(name: str) -> Any:
        try:
            return load_combination(name)
        except AssertionError as exc:
            if not keep_errors:
                raise
            return exc

    with ThreadPoolExecutor(max_workers=len(COMBINATIONS)) as pool:
        return dict(zip(COMBINATIONS, pool.map(load, COMBINATIONS), strict=True))


# ---------------------------------------------------------------- stored form: base + deltas


def delta(base: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for section in SECTIONS:
        b, o = base.get(section, {}), other.get(section, {})
        changed = {k: v for k, v in o.items() if b.get(k) != v}
        removed = sorted(k for k in b if k not in o)
        if changed or removed:
            out[section] = {"set": changed, "unset": removed}
    return out


def apply(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = {section: dict(base.get(section, {})) for section in SECTIONS}
    for section, change in changes.items():
        out[section].update(change["set"])
        for k in change["unset"]:
            out[section].pop(k, None)
    return out


def expected(name: str) -> dict[str, Any]:
    if not SNAPSHOT_FILE.exists():  # the root .gitignore has `data/`: the folder is added with -f
        pytest.fail(f"{SNAPSHOT_FILE} is missing (record it, and `git add -f` it)", pytrace=False)
    stored = json.loads(SNAPSHOT_FILE.read_text())
    return apply(stored["base"], stored["differences"].get(name, {}))


def field_changes(want: Any, have: Any, path: str = "") -> list[str]:
    """One line per changed field: lists as added/removed items, dicts field by field."""
    if isinstance(want, dict) and isinstance(have, dict):
        lines = []
        for k in sorted(set(want) | set(have)):
            sub = f"{path}.{k}" if path else str(k)
            if k not in have:
                lines.append(f"{sub}: removed (was {json.dumps(want[k])})")
            elif k not in want:
                lines.append(f"{sub}: new {json.dumps(have[k])}")
            elif want[k] != have[k]:
                lines += field_changes(want[k], have[k], sub)
        return lines
    if isinstance(want, list) and isinstance(have, list):
        added = [x for x in have if x not in want]
        removed = [x for x in want if x not in have]
        if added or removed:
            return [f"{path}: added {json.dumps(added)}, removed {json.dumps(removed)}"]
        return [f"{path}: order {json.dumps(want)} -> {json.dumps(have)}"]
    return [f"{path}: {json.dumps(want)} -> {json.dumps(have)}"]


def describe_mismatch(name: str, want: dict[str, Any], have: dict[str, Any]) -> str:
    lines = [f"[{name}] definitions differ from {SNAPSHOT_FILE.name}:"]
    for section in SECTIONS:
        w, h = want.get(section, {}), have.get(section, {})
        missing, new = sorted(set(w) - set(h)), sorted(set(h) - set(w))
        if missing:
            lines.append(f"  {section} missing: {missing}")
        if new:
            lines.append(f"  {section} new: {new}")
        for key in sorted(set(w) & set(h)):
            if w[key] != h[key]:
                lines.append(f"  {section} changed: {key}")
                lines += [f"      {line}" for line in field_changes(w[key], h[key])]
    return "\n".join(lines)


# ---------------------------------------------------------------- the tests


@pytest.fixture(scope="module")
def loaded() -> dict[str, Any]:
    return load_all(keep_errors=True)


@pytest.fixture(scope="module")
def snapshots(loaded: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """All 8 snapshots (a test comparing combinations fails if one did not load)."""
    for result in loaded.values():
        if isinstance(result, BaseException):
            raise result
    return loaded


@pytest.mark.parametrize("name", list(COMBINATIONS))
def test_definitions_equal_the_snapshot(name: str, loaded: dict[str, Any]) -> None:
    if isinstance(loaded[name], BaseException):
        raise loaded[name]
    want, have = expected(name), loaded[name]
    if have != want:
        pytest.fail(describe_mismatch(name, want, have), pytrace=False)


def _pairs(dim: str) -> list[tuple[str, str]]:
    """(first value, second value) combination names of ``dim``, the other dimensions equal."""
    first, second = list(DIMENSIONS[dim])
    pairs = []
    for name in COMBINATIONS:
        if f"{dim}={first}" in name.split():
            pairs.append((name, name.replace(f"{dim}={first}", f"{dim}={second}")))
    return pairs


def test_kafka_adds_its_job_sensor_assets_and_resource(
    snapshots: dict[str, dict[str, Any]],
) -> None:
    for off, on in _pairs("kafka"):
        a, b = snapshots[off], snapshots[on]
        for section in SECTIONS:  # Kafka only adds
            assert set(a[section]) <= set(b[section]), (on, section)
        assert set(b["jobs"]) - set(a["jobs"]) == {"kafka_landing_job"}, on
        assert set(b["sensors"]) - set(a["sensors"]) == {"kafka_lag_sensor"}, on
        assert b["sensors"]["kafka_lag_sensor"]["jobs"] == ["kafka_landing_job"], on
        topics = set(b["assets"]) - set(a["assets"])
        assert topics and all(t.startswith("kafka/") for t in topics), on
        assert set(b["resources"]) - set(a["resources"]) == {"kafka"}, on
        assert b["resources"]["kafka"]["config"]["bootstrap_servers"] == "127.0.0.1:9", on


def test_storage_and_engine_change_only_resource_configuration(
    snapshots: dict[str, dict[str, Any]],
) -> None:
    for dim, changed_keys in (
        ("storage", {"landing", "io_manager", "landing_ledger", "replay_ledger"}),
        ("engine", {"engine"}),
    ):
        for a_name, b_name in _pairs(dim):
            a, b = snapshots[a_name], snapshots[b_name]
            for section in ("assets", "checks", "jobs", "sensors"):
                assert a[section] == b[section], (b_name, section)
            differing = {k for k in a["resources"] if a["resources"][k] != b["resources"].get(k)}
            assert differing == changed_keys, (b_name, differing)
    for name, snap in snapshots.items():
        config = json.dumps(snap["resources"])
        if "storage=s3" in name:
            assert "s3://bucket/landing" in config and "s3://bucket/lake" in config, name
            assert "http://127.0.0.1:9" in config, name
        else:
            assert "s3://" not in config and f"{DATA_DIR_TOKEN}/lake" in config, name
        engine = snap["resources"]["engine"]["config"]["name"]
        assert engine == ("spark" if "engine=spark" in name else "polars"), name


# ---------------------------------------------------------------- recording


def record(path: Path) -> None:
    snaps = load_all()
    base = snaps[BASE]
    stored = {
        "base_combination": BASE,
        "base": base,
        "differences": {n: delta(base, s) for n, s in snaps.items() if n != BASE},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(stored, indent=2, sort_keys=True) + "\n")
    counts = ", ".join(f"{len(base[s])} {s}" for s in SECTIONS)
    print(f"recorded with {package_root()}: base ({BASE}): {counts}; wrote {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="write the snapshot file")
    parser.add_argument("--out", type=Path, default=SNAPSHOT_FILE, help=f"default: {SNAPSHOT_FILE}")
    parser.add_argument("--snapshot", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.snapshot:
        print_snapshot()
        return 0
    if not args.record:
        parser.print_help()
        return 2
    record(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
