"""Checks of the (unpartitioned) star-schema dimensions, severity ERROR, not blocking: a
failure is reported and alerted on, it never fails the run that built the dimension.

- ``pandera_<Dim>``: the catalogue contract (``checks/contracts.py``);
- ``one_current_version``: exactly one current row per natural key of the latest
  master-data snapshot, none for keys that left it;
- ``no_overlapping_versions``: the validity intervals of a key's versions do not overlap.
"""

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetIn,
    AssetKey,
    MetadataValue,
    asset_check,
)

from manufacturing_assets.catalogue.marts import DIM_DATE, DIMENSION_TABLES
from manufacturing_assets.checks.contracts import contract_asset_check
from manufacturing_assets.checks.marts_logic import current_version_violations, overlapping_versions
from manufacturing_assets.transforms.dimensions import DIMENSIONS, DimensionSpec

SEVERITY = AssetCheckSeverity.ERROR


def _examples(frame: pl.DataFrame) -> MetadataValue:
    if frame.height == 0:
        return MetadataValue.md("none")
    return MetadataValue.md(
        "\n".join(
            "- " + ", ".join(f"{k}={v}" for k, v in row.items())
            for row in frame.head(20).iter_rows(named=True)
        )
    )


def _violations(bad: pl.DataFrame) -> AssetCheckResult:
    return AssetCheckResult(
        passed=bad.height == 0,
        severity=SEVERITY,
        metadata={"violations": bad.height, "examples": _examples(bad)},
    )


def one_current_version_check(spec: DimensionSpec) -> AssetChecksDefinition:
    @asset_check(
        metadata={"severity": "ERROR"},
        asset=AssetKey(["marts", spec.table]),
        name="one_current_version",
        additional_ins={"reference": AssetIn(key=["reference", spec.entity])},
        description=(
            f"Exactly one current row per `{spec.key}` present in the latest `{spec.entity}` "
            "snapshot, and none for keys that left master data (closed, not deleted)."
        ),
    )
    def _check(data: pl.DataFrame, reference: pl.DataFrame) -> AssetCheckResult:
        return _violations(current_version_violations(data, reference, spec))

    return _check


def no_overlap_check(spec: DimensionSpec) -> AssetChecksDefinition:
    @asset_check(
        metadata={"severity": "ERROR"},
        asset=AssetKey(["marts", spec.table]),
        name="no_overlapping_versions",
        description=f"The validity intervals of the versions of each `{spec.key}` do not overlap.",
    )
    def _check(data: pl.DataFrame) -> AssetCheckResult:
        return _violations(overlapping_versions(data, spec.key))

    return _check


def dimension_checks() -> list[AssetChecksDefinition]:
    checks = [contract_asset_check(DIM_DATE)]
    for name, spec in DIMENSIONS.items():
        checks += [
            contract_asset_check(DIMENSION_TABLES[name]),
            one_current_version_check(spec),
            no_overlap_check(spec),
        ]
    return checks
