"""Asset checks: pandera models run per partition (blocking on silver)."""

import pandera.polars as pa
import polars as pl
from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from manufacturing_assets.checks.models import GoldSensorHourly, SilverSensorReadings
from manufacturing_assets.partitions import plant_date_partitions


def validate(model: type[pa.DataFrameModel], frame: pl.DataFrame) -> tuple[bool, dict]:
    """Run a pandera model over a frame; (passed, metadata with the failure cases)."""
    if frame.width == 0:
        return True, {"rows": 0}
    try:
        model.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = pl.DataFrame(exc.failure_cases)
        lines = [
            f"- `{r.get('column')}` {r.get('check')}: {r.get('failure_case')}"
            for r in cases.head(20).iter_rows(named=True)
        ]
        return False, {
            "rows": frame.height,
            "failures": cases.height,
            "failure_cases": MetadataValue.md("\n".join(lines)),
        }
    return True, {"rows": frame.height}


def pandera_check(
    asset_key: list[str], model: type[pa.DataFrameModel], blocking: bool
) -> AssetChecksDefinition:
    severity = AssetCheckSeverity.ERROR if blocking else AssetCheckSeverity.WARN
    name = f"pandera_{model.__name__}"

    @asset_check(
        asset=AssetKey(asset_key),
        name=name,
        blocking=blocking,
        partitions_def=plant_date_partitions,
        description=(
            f"Validates the partition against the pandera model `{model.__name__}` "
            f"({'blocking: a failure stops downstream assets' if blocking else 'warning'})."
        ),
    )
    def _check(data: pl.DataFrame) -> AssetCheckResult:
        passed, metadata = validate(model, data)
        return AssetCheckResult(passed=passed, severity=severity, metadata=metadata)

    return _check


quality_checks = [
    pandera_check(["silver", "sensor_readings"], SilverSensorReadings, blocking=True),
    pandera_check(["gold", "sensor_hourly"], GoldSensorHourly, blocking=False),
]
