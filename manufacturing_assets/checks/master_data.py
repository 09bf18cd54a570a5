"""The check of master data ``reference/<entity>``: ``valid_snapshots`` (ERROR, not blocking).

Evaluated inside the reference asset's step (the table is unpartitioned: one evaluation per
run, after the output). Every landed snapshot is validated as a whole when it is read
(``ingest/reference.validate_snapshot``: unique key, required fields, IANA time zones, safe
plant ids, numbers and timestamps that parse, allowed values); a refused snapshot is left out
of the table, so the previous accepted snapshot stays in force. The check fails while any
landed snapshot of the entity is refused and names the file, line and field of each problem;
the run itself never fails for bad master data.
"""

from __future__ import annotations

from typing import Any

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey, MetadataValue

from manufacturing_assets.ingest.reference import ReferenceSnapshots

VALID_SNAPSHOTS = "valid_snapshots"
SEVERITY = AssetCheckSeverity.ERROR
LISTED_PROBLEMS = 50  # problems named in the metadata (all are counted)


def master_data_check_spec(entity: str) -> AssetCheckSpec:
    return AssetCheckSpec(
        VALID_SNAPSHOTS,
        asset=AssetKey(["reference", entity]),
        description=(
            f"Every landed `{entity}` snapshot is accepted: the key is unique in the snapshot, "
            "required fields are present, time zones are IANA names, plant ids match the safe "
            "pattern, numbers and timestamps parse, values are in their list. A refused "
            "snapshot is left out of the table (the previous one stays in force) and fails "
            "this check with the file, line and field of each problem."
        ),
        metadata={"severity": SEVERITY.value},
    )


def refused_lines(snapshots: ReferenceSnapshots) -> list[str]:
    """One line per refused snapshot (for the log): key, problem count and the problems."""
    out = []
    for key, text in snapshots.errors().items():
        n = len(snapshots.refused[key])
        out.append(f"{key}: refused ({n} problem(s)); previous snapshot stays in force: {text}")
    return out


def master_data_check_result(snapshots: ReferenceSnapshots) -> AssetCheckResult:
    problems = [p for key in sorted(snapshots.refused) for p in snapshots.refused[key]]
    in_force = snapshots.in_force
    metadata: dict[str, Any] = {
        "accepted_snapshots": MetadataValue.int(len(snapshots.accepted)),
        "refused_snapshots": MetadataValue.int(len(snapshots.refused)),
        "problems": MetadataValue.int(len(problems)),
        "latest_accepted_snapshot": MetadataValue.text(
            in_force.isoformat() if in_force else "none"
        ),
        "refused": MetadataValue.json(snapshots.errors()),
    }
    if problems:
        metadata["details"] = MetadataValue.md(
            "\n".join(f"- {p}" for p in problems[:LISTED_PROBLEMS])
            + (
                f"\n- ... {len(problems) - LISTED_PROBLEMS} more"
                if len(problems) > LISTED_PROBLEMS
                else ""
            )
        )
    refused = sorted(snapshots.refused)
    return AssetCheckResult(
        check_name=VALID_SNAPSHOTS,
        passed=not refused,
        severity=SEVERITY,
        metadata=metadata,
        description=(
            f"{len(refused)} snapshot(s) refused, e.g. {problems[0] if problems else refused[0]}"
            if refused
            else "every snapshot accepted"
        ),
    )
