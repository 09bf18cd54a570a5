"""The landing zone as an asset of its own, and its check ``unroutable_files`` (WARN).

``landing_zone`` is an external asset (nothing materializes it): the factories write it,
the landing sensor reads it. Its check counts the delivered files the platform cannot route
(``ingest/routing.py``: unknown stream folders, plant or date folders that do not parse,
files outside ``raw/<stream>/plant=/date=/`` and ``reference/<entity>/snapshot_date=/``,
landing dates before the first date partition). It is evaluated

- by the landing sensor, whenever the list of such files changes
  (``SensorResult(asset_events=[AssetCheckEvaluation(...)])``, ``sensors/landing.py``);
- on demand from the UI (*Execute*), or by ``manufacturing-assets run`` through
  :func:`report_unroutable_files` (a runless evaluation in the instance).

It warns (never blocks: the routable files are processed) and lists every file with the
reason in its metadata.
"""

from __future__ import annotations

from dagster import (
    AssetCheckEvaluation,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    AssetSpec,
    DagsterInstance,
    MetadataValue,
    asset_check,
)

from manufacturing_assets.ingest.routing import (
    PLANT_ID_PATTERN,
    RAW_LAYOUT,
    REFERENCE_LAYOUT,
    unroutable_files,
)
from manufacturing_assets.partitions import START_DATE
from manufacturing_assets.resources.landing_zone import LandingZone

LANDING_ZONE_KEY = AssetKey("landing_zone")
UNROUTABLE_FILES = "unroutable_files"
SEVERITY = AssetCheckSeverity.WARN
LISTED = 200  # files named in the metadata (all are counted)

landing_zone_spec = AssetSpec(
    LANDING_ZONE_KEY,
    group_name="landing",
    owners=["team:manufacturing-data"],
    description=(
        "The landing zone the factories deliver to (a folder or s3://): "
        f"`{RAW_LAYOUT}` and `{REFERENCE_LAYOUT}`. Read by the landing sensor, which records "
        "every object in its ledger and reports files it cannot route in the check "
        "`unroutable_files`."
    ),
)


def _metadata(unroutable: list[tuple[str, str]]) -> dict[str, MetadataValue]:
    reasons: dict[str, int] = {}
    for _key, reason in unroutable:
        kind = reason.split(" (", 1)[0] if reason.startswith("unknown") else reason
        reasons[kind] = reasons.get(kind, 0) + 1
    return {
        "unroutable_files": MetadataValue.int(len(unroutable)),
        "files": MetadataValue.json(dict(unroutable[:LISTED])),
        "reasons": MetadataValue.json(reasons),
        "expected_layout": MetadataValue.md(
            f"`{RAW_LAYOUT}` (plant id: `{PLANT_ID_PATTERN}`) or `{REFERENCE_LAYOUT}`"
        ),
    }


def _description(unroutable: list[tuple[str, str]]) -> str:
    if not unroutable:
        return "every delivered file can be routed"
    first_key, first_reason = unroutable[0]
    return (
        f"{len(unroutable)} delivered file(s) cannot be routed and are not processed, "
        f"e.g. {first_key}: {first_reason}"
    )


def unroutable_files_evaluation(unroutable: list[tuple[str, str]]) -> AssetCheckEvaluation:
    """The check's evaluation for the landing zone's unroutable files ``(key, reason)``."""
    return AssetCheckEvaluation(
        asset_key=LANDING_ZONE_KEY,
        check_name=UNROUTABLE_FILES,
        passed=not unroutable,
        severity=SEVERITY,
        metadata=_metadata(unroutable),
        description=_description(unroutable),
    )


def report_unroutable_files(
    instance: DagsterInstance, landing: LandingZone
) -> list[tuple[str, str]]:
    """List the landing zone's unroutable files, record the check's evaluation in
    ``instance`` (runless, as the sensor does) and return them (for a summary)."""
    unroutable = unroutable_files(landing, START_DATE)
    instance.report_runless_asset_event(unroutable_files_evaluation(unroutable))
    return unroutable


@asset_check(
    asset=LANDING_ZONE_KEY,
    name=UNROUTABLE_FILES,
    description=(
        "Delivered files the platform cannot route (unknown stream or entity folder, plant or "
        "date folder that does not parse, file outside the layout, landing date before "
        "MA_START_DATE): counted and listed with the reason. Warns; evaluated by the landing "
        "sensor when the list changes."
    ),
    metadata={"severity": SEVERITY.value},
)
def unroutable_files_check(landing: LandingZone) -> AssetCheckResult:
    unroutable = unroutable_files(landing, START_DATE)
    return AssetCheckResult(
        passed=not unroutable,
        severity=SEVERITY,
        metadata=_metadata(unroutable),
        description=_description(unroutable),
    )
