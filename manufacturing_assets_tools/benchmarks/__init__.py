"""Benchmarks: timed runs of the platform's stages (outside the Dagster code location)."""
