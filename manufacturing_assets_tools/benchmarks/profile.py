"""`benchmark --profile`: where each asset's time went in the run just measured.

Reads the seconds per phase that every materialization records (``manufacturing_assets/
profiling.py``) from the run's own Dagster instance, summed over the run's
materializations of each asset (one per run step, not per partition), and prints them with
the rows written.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from dagster import AssetKey, DagsterInstance

from manufacturing_assets.profiling import PREFIX

PHASES = ("read_files", "parse", "transform", "checks", "compute", "write")


def _step_metadata(
    instance: DagsterInstance, key: AssetKey, run_ids: Collection[str] | None
) -> list[dict]:
    """Metadata of each step's materialization of ``key`` (the first partition's: every
    partition of a step carries the same output metadata)."""
    records = []
    cursor = None
    while True:  # page by page (Dagster returns at most 10,000 records per call)
        page = instance.fetch_materializations(key, limit=10_000, cursor=cursor)
        records.extend(page.records)
        if not page.has_more:
            break
        cursor = page.cursor
    seen: set[tuple[str, str | None]] = set()
    out = []
    for record in records:
        entry = record.event_log_entry
        step = (entry.run_id, entry.step_key)
        materialization = entry.asset_materialization
        if run_ids is not None and entry.run_id not in run_ids:
            continue
        if step in seen or materialization is None:
            continue
        seen.add(step)
        out.append({k: v.value for k, v in materialization.metadata.items()})
    return out


def print_profile(dagster_home: Path, run_ids: Collection[str] | None = None) -> None:
    """Print seconds per phase and rows of every materialized asset (of ``run_ids`` only,
    when given)."""
    instance = DagsterInstance.from_config(str(dagster_home))
    rows: list[tuple[str, float, dict[str, float], int]] = []
    for key in sorted(instance.get_asset_keys(), key=lambda k: k.to_user_string()):
        steps = _step_metadata(instance, key, run_ids)
        if not steps:
            continue
        phases: dict[str, float] = {}
        written = 0
        for md in steps:
            for name, value in md.items():
                if name.startswith(PREFIX) and isinstance(value, int | float):
                    phases[name[len(PREFIX) :]] = phases.get(name[len(PREFIX) :], 0.0) + value
            total = md.get("run_total_rows", md.get("dagster/row_count", 0))
            written += int(total) if isinstance(total, int | float) else 0
        rows.append((key.to_user_string(), sum(phases.values()), phases, written))
    print(
        "profile: seconds per phase (compute = producing the chunks the IO manager writes; "
        "it includes read_files, parse, transform and checks)"
    )
    header = f"{'asset':<36}{'rows':>12}" + "".join(f"{p:>11}" for p in PHASES)
    print(header)
    for name, _, phases, written in sorted(
        rows, key=lambda r: -r[2].get("write", 0) - r[2].get("compute", 0)
    ):
        cells = "".join(f"{phases[p]:>11.2f}" if p in phases else f"{'':>11}" for p in PHASES)
        print(f"{name:<36}{written:>12,}{cells}")
