"""How fresh gold and marts must be: Dagster freshness policies (``FreshnessPolicy.time_window``).

Plant data arrives continuously and a plant-day is due ``MA_COMPLETE_AFTER_HOURS`` (6) after
the plant's local day ends (``ops/health.incomplete_plant_days`` names late plant-days), so a
gold or mart table not materialized for a day and a quarter is late: WARN after 26 h, FAIL
after 30 h without a materialization. Dagster evaluates the policies when the instance
enables freshness (``freshness: enabled: true`` in ``dagster.yaml``, a deployment setting)
and shows the state on the asset; no code here evaluates them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from dagster import AssetsDefinition, FreshnessPolicy

GOLD_AND_MARTS = FreshnessPolicy.time_window(
    fail_window=timedelta(hours=30), warn_window=timedelta(hours=26)
)


def with_freshness(
    assets: Iterable[AssetsDefinition], policy: FreshnessPolicy = GOLD_AND_MARTS
) -> list[AssetsDefinition]:
    """``assets`` with ``policy`` on every asset they define."""
    return [
        a.map_asset_specs(lambda spec: spec.replace_attributes(freshness_policy=policy))
        for a in assets
    ]
