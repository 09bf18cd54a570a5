"""Silver: parsed, validated, deduplicated, conformed. Partition = plant x production date.

Silver for date D reads bronze D-1..D+1 (records cross midnight) and keeps the records
whose production date is D; rejected records go to `quarantine/<stream>` with a reason.
"""

from collections.abc import Iterator

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetOut,
    BackfillPolicy,
    MetadataValue,
    Output,
    multi_asset,
)

from manufacturing_assets.assets.common import (
    OWNERS,
    PARTITION_EXPR,
    QUARANTINE_SCHEMA,
    model_table_schema,
)
from manufacturing_assets.automation import plant_day_automation_condition
from manufacturing_assets.checks.models import SilverSensorReadings
from manufacturing_assets.ingest.readers import bronze_columns
from manufacturing_assets.ingest.reference import plant_timezones
from manufacturing_assets.io_managers.delta import FrameChunks
from manufacturing_assets.partitions import (
    neighbouring_days,
    plant_date_partitions,
    plants_and_dates,
)
from manufacturing_assets.resources.engine import EngineResource
from manufacturing_assets.transforms.sensor_readings import silver_sensor_readings

QUARANTINE_WARN_SHARE = 0.05
SILVER_SENSOR = AssetKey(["silver", "sensor_readings"])


def quarantine_share_check(
    asset_key: AssetKey, silver_rows: int, quarantine: pl.DataFrame
) -> AssetCheckResult:
    total = silver_rows + quarantine.height
    share = quarantine.height / total if total else 0.0
    reasons = quarantine.group_by("reason").len().sort("reason") if quarantine.height else None
    return AssetCheckResult(
        asset_key=asset_key,
        check_name="quarantine_share",
        passed=share <= QUARANTINE_WARN_SHARE,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "quarantine_share": round(share, 6),
            "threshold": QUARANTINE_WARN_SHARE,
            "quarantined": quarantine.height,
            "by_reason": MetadataValue.json(
                dict(reasons.iter_rows()) if reasons is not None else {}
            ),
        },
        description=f"{share:.2%} of the partition's records were quarantined (warn above 5%).",
    )


def require_timezones(plants: pl.DataFrame, plant_ids: list[str]) -> dict[str, str]:
    tzs = plant_timezones(plants)
    unknown = [p for p in plant_ids if p not in tzs]
    if unknown:
        raise ValueError(
            f"plant(s) {', '.join(unknown)} have no timezone in master data `reference/plants`; "
            "land a plants snapshot naming them and materialize reference/plants first"
        )
    return tzs


@multi_asset(
    outs={
        "silver": AssetOut(
            key=SILVER_SENSOR,
            group_name="silver",
            automation_condition=plant_day_automation_condition(),
            owners=OWNERS,
            tags={"layer": "silver", "stream": "sensor_readings"},
            kinds={"polars", "delta"},
            metadata={
                "partition_expr": PARTITION_EXPR,
                "dagster/column_schema": model_table_schema(SilverSensorReadings),
            },
            description=(
                "Validated sensor readings, one row per (device_id, ts) instant: metrics as numbers "
                "(numeric strings parsed, Fahrenheit converted, sentinels nulled), `is_valid` false when "
                "a metric is out of range, `flags` naming every issue, unknown metrics kept as extra "
                "columns, lineage to the landed file and line. Contract 3.1, 5, 7."
            ),
        ),
        "quarantine": AssetOut(
            key=["quarantine", "sensor_readings"],
            group_name="quarantine",
            automation_condition=plant_day_automation_condition(),
            owners=OWNERS,
            tags={"layer": "quarantine", "stream": "sensor_readings"},
            kinds={"polars", "delta"},
            metadata={"partition_expr": PARTITION_EXPR, "dagster/column_schema": QUARANTINE_SCHEMA},
            description=(
                "Sensor-reading records rejected by silver, with the reason (first rule of contract "
                "section 7 that applies), a detail naming the field, the source and the raw payload."
            ),
        ),
    },
    ins={
        "bronze": AssetIn(key=["bronze", "sensor_readings"], partition_mapping=neighbouring_days),
        "plants": AssetIn(key=["reference", "plants"]),
    },
    partitions_def=plant_date_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    check_specs=[
        AssetCheckSpec(
            "quarantine_share",
            asset=SILVER_SENSOR,
            description="WARN when more than 5% of a partition's records are quarantined.",
        )
    ],
    name="silver_sensor_readings",
)
def silver_sensor_readings_asset(
    context: AssetExecutionContext,
    engine: EngineResource,
    bronze: pl.LazyFrame,
    plants: pl.DataFrame,
):
    targets = plants_and_dates(context.partition_keys)
    tzs = require_timezones(plants, list(targets))
    quarantines: list[pl.DataFrame] = []
    totals = {"rows": 0, "invalid": 0, "flagged": 0, "duplicates": 0}
    extra: set[str] = set()

    def silver_chunks() -> Iterator[pl.DataFrame]:
        """Per plant, and per device bucket in a big partition (re-deliveries share a
        device, so buckets de-duplicate independently): bounded memory on any day."""
        for plant, dates in targets.items():
            # lazy: only the columns and partitions the transformation needs are read
            has_columns = bool(bronze.collect_schema().names())
            rows = bronze.filter(pl.col("plant_id") == plant) if has_columns else bronze
            n_rows = rows.select(pl.len()).collect().item() if has_columns else 0
            if n_rows == 0:
                context.log.warning(f"no bronze sensor readings for plant {plant} around {dates}")
                rows = pl.LazyFrame(schema=bronze_columns("sensor_readings"))
            buckets = device_buckets(n_rows)
            for k in range(buckets):
                part = rows.filter(device_bucket(buckets) == k) if buckets > 1 else rows
                result = silver_sensor_readings(engine.lazy(part), tzs[plant], dates)
                silver = engine.collect(result.silver)
                quarantines.append(engine.collect(result.quarantine))
                extra.update(result.extra_metrics)
                totals["rows"] += silver.height
                if silver.height:
                    totals["invalid"] += int((~silver["is_valid"]).sum())
                    totals["flagged"] += int((silver["flags"] != "").sum())
                    totals["duplicates"] += int(silver["deliveries"].sum() - silver.height)
                yield silver

    def silver_metadata() -> dict:
        if extra:
            context.log.warning(f"schema changed: unknown metrics kept as columns: {sorted(extra)}")
        return {
            "unknown_metrics": MetadataValue.json(sorted(extra)),
            "invalid_rows": totals["invalid"],
            "flagged_rows": totals["flagged"],
            "duplicates_removed": totals["duplicates"],
        }

    # the IO manager writes (and so computes) the silver chunks when this output is yielded
    yield Output(FrameChunks(silver_chunks(), {}, silver_metadata), output_name="silver")
    quarantine = pl.concat(quarantines, how="diagonal_relaxed") if quarantines else pl.DataFrame()
    yield Output(quarantine, output_name="quarantine")
    yield quarantine_share_check(SILVER_SENSOR, totals["rows"], quarantine)


SILVER_BUCKET_ROWS = 2_500_000  # bronze rows per silver pass; bigger partitions are split


def device_buckets(n_rows: int, bucket_rows: int | None = None) -> int:
    return max(1, -(-n_rows // (bucket_rows or SILVER_BUCKET_ROWS)))


def device_bucket(buckets: int) -> pl.Expr:
    """A stable bucket per device (rows without a device share bucket of the empty id)."""
    return pl.col("device_id").fill_null("").hash(seed=7) % buckets
