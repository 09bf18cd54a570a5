"""Regression guard: every silver, quarantine, gold and mart table of the sample run has the
rows, columns, types and values recorded from the pre-redesign code (commit 3b2856b).

Baseline: ``data/sample_table_digests.json`` (table -> rows, columns, dtypes, digest and one
digest per column) and ``data/sample_check_outcomes.json`` (asset check -> plant-day ->
passed or FAILED and the severity). Re-record from the code on the path (when a change of
output is intended)::

    python -m manufacturing_assets_tests.test_sample_digests --record

A digest is the sha256 of the table written as CSV after normalization (``normalize``):

- volatile columns dropped: ``ingested_at`` (wall clock of the bronze/reference read), the
  only column that differed between two runs of the same code;
- floats rounded to 10 significant digits: aggregates differ in the last bit from run to run
  (summation order of parallel group-bys, seen on ``gold/loss_daily.scrap_cost``);
- ``marts/dim_date`` cut at 31 December of the year after the sample's last day: its range
  ends at the end of the year after *today* (``calendar_range``); the cut keeps what the
  pipeline builds on any day from the sample's last day on;
- columns in name order, rows sorted by every column.

The lake is read from the copy the shared run takes right after ``run_pipeline``
(``sample_run.py``), so tests that re-materialize partitions cannot change what is compared.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from deltalake import DeltaTable

from manufacturing_assets_tests.sample_run import (
    GeneratorConfig,
    sample_run_in,
)

DATA = Path(__file__).parent / "data"
DIGESTS_FILE = "sample_table_digests.json"
CHECKS_FILE = "sample_check_outcomes.json"
LAYERS = ("silver", "quarantine", "gold", "marts")
MART_PREFIXES = ("dim_", "fact_")
VOLATILE_COLUMNS = ("ingested_at",)
FLOAT_SIG_FIGS = 10


def calendar_cut() -> date:
    """Last `dim_date` day compared: 31 December of the year after the sample's last
    partition (its last landing day + 1: silver reads the neighbouring days)."""
    cfg = GeneratorConfig()
    last = cfg.start_date + timedelta(days=cfg.days)
    return date(last.year + 1, 12, 31)


# ---------------------------------------------------------------- the digest helper


def lake_tables(lake: str | Path) -> list[str]:
    """``layer/name`` of every Delta table of the compared layers (marts: dim_* and fact_*)."""
    root = Path(lake)
    names = []
    for layer in LAYERS:
        for log in (root / layer).glob("*/_delta_log"):
            name = log.parent.name
            if layer != "marts" or name.startswith(MART_PREFIXES):
                names.append(f"{layer}/{name}")
    return sorted(names)


def read_table(lake: str | Path, table: str) -> pl.DataFrame:
    frame = pl.from_arrow(DeltaTable(str(Path(lake) / table)).to_pyarrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def normalize(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The comparable content of a table (see the module docstring)."""
    frame = frame.drop([c for c in VOLATILE_COLUMNS if c in frame.columns])
    if table == "marts/dim_date":
        frame = frame.filter(pl.col("date") <= calendar_cut())
    frame = frame.with_columns(pl.selectors.float().round_sig_figs(FLOAT_SIG_FIGS))
    columns = sorted(frame.columns)
    frame = frame.select(columns)
    return frame.sort(columns, nulls_last=True) if columns else frame


def _sha256(frame: pl.DataFrame) -> str:
    return hashlib.sha256(frame.write_csv().encode()).hexdigest()


def table_digest(table: str, frame: pl.DataFrame) -> dict[str, Any]:
    """rows, columns, dtypes, digest of the normalized table, and a digest per column (its
    values sorted on their own: a change in one column changes that column's digest only)."""
    frame = normalize(table, frame)
    return {
        "rows": frame.height,
        "columns": frame.columns,
        "dtypes": {c: str(t) for c, t in frame.schema.items()},
        "digest": _sha256(frame),
        "column_digests": {
            c: _sha256(frame.select(pl.col(c).sort(nulls_last=True)))[:16] for c in frame.columns
        },
    }


def lake_digests(lake: str | Path) -> dict[str, dict[str, Any]]:
    return {t: table_digest(t, read_table(lake, t)) for t in lake_tables(lake)}


def plant_days(partition: str) -> list[str]:
    """The report's partition text as plant-days: ``P01 2024-03-30`` as is, a single-run
    range ``P01 2024-03-29..2024-04-02`` as each of its days, ``-`` (unpartitioned) as is."""
    if ".." not in partition:
        return [partition]
    plant, days = partition.split(" ", 1)
    first, last = (date.fromisoformat(d) for d in days.split(".."))
    return [f"{plant} {first + timedelta(days=i)}" for i in range((last - first).days + 1)]


def check_outcomes(checks: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Per ``asset check``, per plant-day: ``passed``/``FAILED`` and the severity (decided
    when a check runs, so the run is where it shows). By plant-day, so the same outcomes
    compare equal whether a check ran once per partition or once per single-run backfill."""
    seen: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for c in checks:
        outcome = f"{'passed' if c['passed'] else 'FAILED'} {c['severity']}"
        for part in plant_days(c["partition"]):
            seen[f"{c['asset']} {c['check']}"][part].add(outcome)
    return {
        check: {part: " + ".join(sorted(o)) for part, o in sorted(parts.items())}
        for check, parts in sorted(seen.items())
    }


def load(name: str) -> dict[str, Any]:
    path = DATA / name
    if not path.exists():  # the root .gitignore has `data/`: the folder is added with -f
        pytest.fail(f"{path} is missing (record it, and `git add -f` it)", pytrace=False)
    return json.loads(path.read_text())


def baseline_tables() -> list[str]:
    """The recorded tables (none before the first recording: then the tests fail)."""
    return sorted(load(DIGESTS_FILE)) if (DATA / DIGESTS_FILE).exists() else []


# ---------------------------------------------------------------- the tests


def describe_difference(table: str, want: dict[str, Any], have: dict[str, Any]) -> str:
    lines = [f"{table} differs from the baseline ({DIGESTS_FILE}):"]
    if want["rows"] != have["rows"]:
        lines.append(f"  rows: baseline {want['rows']}, now {have['rows']}")
    missing = [c for c in want["columns"] if c not in have["columns"]]
    added = [c for c in have["columns"] if c not in want["columns"]]
    if missing or added:
        lines.append(f"  columns: missing {missing}, new {added}")
    retyped = {
        c: f"{t} -> {have['dtypes'][c]}"
        for c, t in want["dtypes"].items()
        if c in have["dtypes"] and have["dtypes"][c] != t
    }
    if retyped:
        lines.append(f"  dtypes: {retyped}")
    changed = [
        c
        for c, d in want["column_digests"].items()
        if c in have["column_digests"] and have["column_digests"][c] != d
    ]
    if changed:
        lines.append(f"  values differ in columns: {changed}")
    elif want["digest"] != have["digest"] and len(lines) == 1:
        lines.append("  every column holds the same values, but they are combined into other rows")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def current_digests(sample_run: dict[str, Any]) -> dict[str, dict[str, Any]]:  # noqa: F811
    return lake_digests(sample_run["pristine_lake"])


def test_the_same_tables_as_the_baseline(current_digests: dict[str, dict[str, Any]]) -> None:
    want, have = set(load(DIGESTS_FILE)), set(current_digests)
    if have != want:
        pytest.fail(
            f"missing tables {sorted(want - have)}, new tables {sorted(have - want)}", pytrace=False
        )


@pytest.mark.parametrize("table", baseline_tables())
def test_table_equals_the_baseline(table: str, current_digests: dict[str, dict[str, Any]]) -> None:
    want = load(DIGESTS_FILE)[table]
    if table not in current_digests:
        pytest.fail(f"{table} was not written by the sample run", pytrace=False)
    have = current_digests[table]
    if have != want:
        pytest.fail(describe_difference(table, want, have), pytrace=False)


def test_check_outcomes_equal_the_baseline(sample_run: dict[str, Any]) -> None:  # noqa: F811
    want = load(CHECKS_FILE)
    have = check_outcomes(sample_run["report"].checks)
    lines = []
    for check in sorted(set(want) | set(have)):
        if check not in have:
            lines.append(f"  {check}: not evaluated any more")
        elif check not in want:
            lines.append(f"  {check}: new check")
        elif want[check] != have[check]:
            w, h = want[check], have[check]
            for part in sorted(set(w) | set(h)):
                if w.get(part) != h.get(part):
                    lines.append(f"  {check} [{part}]: baseline {w.get(part)}, now {h.get(part)}")
    if lines:
        pytest.fail(
            f"check outcomes differ from {CHECKS_FILE}:\n" + "\n".join(lines), pytrace=False
        )


# ---------------------------------------------------------------- recording


def record(out_dir: Path) -> None:
    """Run the sample with the code on the path and write both baseline files."""
    with tempfile.TemporaryDirectory(prefix="sample_digests_") as tmp:
        for run in sample_run_in(Path(tmp)):
            digests = lake_digests(run["pristine_lake"])
            outcomes = check_outcomes(run["report"].checks)
    print(f"recorded with {sys.modules['manufacturing_assets'].__file__}, {run['generator']}")
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, content in ((DIGESTS_FILE, digests), (CHECKS_FILE, outcomes)):
        (out_dir / name).write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")
        print(f"wrote {out_dir / name} ({len(content)} entries)")


SUITE_START_DATE = "2024-01-01"  # conftest.py's MA_START_DATE: marts/dim_date starts there


def main(argv: list[str] | None = None) -> int:
    if os.environ.get("MA_START_DATE") != SUITE_START_DATE:
        # the partitions (and so dim_date) are fixed at import: record with the suite's start
        args = sys.argv[1:] if argv is None else argv
        env = {**os.environ, "MA_START_DATE": SUITE_START_DATE}
        module = "manufacturing_assets_tests.test_sample_digests"
        os.execve(sys.executable, [sys.executable, "-m", module, *args], env)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="write the baseline files")
    parser.add_argument("--out-dir", type=Path, default=DATA, help=f"default: {DATA}")
    args = parser.parse_args(argv)
    if not args.record:
        parser.print_help()
        return 2
    record(args.out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
