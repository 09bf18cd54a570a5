"""Operations: what the people on call read (docs/operations.md).

- ``feed.py``: every asset-check evaluation and every run failure recorded in the Dagster
  instance, read once each through a cursor (alerts and the data-quality history);
- ``alerts.py``: failures -> alerts -> messages grouped per asset, with run links;
- ``quality_history.py``: the ``ops/data_quality_results`` Delta table;
- ``health.py``: health rules (silent devices, landing backlog, stall, late plant-days);
- ``freshness.py``: the freshness policies of gold and marts.

No module here imports ``assets`` or ``sensors``.
"""
