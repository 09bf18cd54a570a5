"""Automation conditions: when the automation sensor materializes each kind of asset.

- plant x date assets (silver, quarantine, gold, facts): :func:`plant_day_automation_condition`;
- SCD2 dimensions: eager on their master data; ``dim_date``: once a day.

The sensor that evaluates them is ``sensors/automation.py``; the landing sensor starts the
bronze runs they follow (``docs/ingestion.md``).
"""

from __future__ import annotations

from dagster import AssetSelection, AutomationCondition

# Unpartitioned context the plant x date assets read: master data and the SCD2 dimensions.
CONTEXT_ASSETS = AssetSelection.groups("reference") | AssetSelection.from_string(
    'key:"marts/dim_*"'
)


def plant_day_automation_condition() -> AutomationCondition:
    """``AutomationCondition.eager()`` for plant x date assets that also reaches old dates.

    ``eager()`` only looks at the latest time window and waits while any dependency partition
    is missing; here a late file for an old date must recompute that date, and a neighbouring
    landing day with no files (a never-materialized bronze partition) is normal. So, per
    partition: run when a plant x date dependency updated since the partition was last
    requested or materialized, unless a dependency or the partition itself is in progress or
    an unpartitioned context input (master data, dimensions) is missing. Updates of that
    context (a new daily snapshot) do not recompute every date ever processed: a fact keeps
    the keys it was built with until its partition is rematerialized, and its
    `referential_integrity` check reports keys a rebuilt dimension no longer has.
    """
    return (
        AutomationCondition.any_deps_updated().ignore(CONTEXT_ASSETS).since_last_handled()
        & ~AutomationCondition.any_deps_missing().allow(CONTEXT_ASSETS)
        & ~AutomationCondition.any_deps_in_progress()
        & ~AutomationCondition.in_progress()
    ).with_label("eager (any date)")


def dimension_automation_condition() -> AutomationCondition:
    """Rebuild a dimension when its master data (`reference/*`) was re-read."""
    return AutomationCondition.eager()


def calendar_automation_condition() -> AutomationCondition:
    """`dim_date` follows the calendar: once a day (its range grows with the partitions)."""
    return AutomationCondition.on_cron("10 0 * * *")
