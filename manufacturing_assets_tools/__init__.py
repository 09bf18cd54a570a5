"""Tooling outside the Dagster code location: data generator, benchmarks, Kafka simulator and
local test brokers. ``manufacturing_assets.definitions`` never imports this package; only the
command line (``manufacturing_assets/cli.py``) and the tests do."""
