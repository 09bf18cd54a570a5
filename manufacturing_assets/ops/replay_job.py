"""The Dagster job of a replay: ``replay_job`` (op ``replay_records``); logic in ``replay.py``.

Launch it from the UI (Launchpad: the run config below) after a fix; the landing sensor then
routes the re-landed files. The same as ``manufacturing-assets replay`` (``cli.py``).
"""

from datetime import date

from dagster import Config, MetadataValue, OpExecutionContext, Output, job, op
from pydantic import Field

from manufacturing_assets.ops.replay import Selection, parse_set_fields, replay
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets.resources.replay_ledger import ReplayLedger


class ReplayConfig(Config):
    """What to replay (run config of ``replay_job``)."""

    kind: str = Field(description="quarantine | deadletters")
    streams: list[str] = Field(default=[], description="streams (empty: all)")
    plants: list[str] = Field(default=[], description="plants (empty: all)")
    dates: list[str] = Field(default=[], description="landing dates YYYY-MM-DD (empty: all)")
    reasons: list[str] = Field(default=[], description="quarantine reasons (empty: all)")
    set_fields: list[str] = Field(
        default=[], description="FIELD=VALUE set on every selected record (the fix)"
    )
    dry_run: bool = False


@op(
    description=(
        "Re-land dead-lettered Kafka records or quarantined rows as new files in the landing "
        "zone (raw/<stream>/plant=/date=/replay-*.jsonl), once each (replay ledger)."
    ),
    tags={"kind": "replay"},
)
def replay_records(
    context: OpExecutionContext,
    config: ReplayConfig,
    landing: LandingZone,
    replay_ledger: ReplayLedger,
) -> Output[None]:
    selection = Selection(
        streams=config.streams or None,
        plants=config.plants or None,
        dates=[date.fromisoformat(d) for d in config.dates] or None,
        reasons=config.reasons or None,
    )
    report = replay(
        config.kind,
        landing,
        replay_ledger,
        selection,
        parse_set_fields(config.set_fields),
        dry_run=config.dry_run,
    )
    context.log.info(report.format())
    return Output(
        None,
        metadata={
            "selected": report.selected,
            "relanded": report.relanded,
            "already_replayed": report.already_replayed,
            "skipped": len(report.skipped),
            "skipped_records": MetadataValue.json(report.skipped[:200]),
            "counts": MetadataValue.json(report.counts),
            "files": MetadataValue.json(report.files[:200]),
            "dry_run": report.dry_run,
        },
    )


@job(
    description=(
        "Replay dead letters or quarantine after a fix: re-land the records as new files "
        "(idempotent: a record already replayed is not re-landed). docs/playbooks/replay.md"
    ),
    tags={"replay": "records"},
)
def replay_job() -> None:
    replay_records()
