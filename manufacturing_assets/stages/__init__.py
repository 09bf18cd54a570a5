"""Stages: what each asset computes, as plain functions of frames (no Dagster, no storage).

An asset body is its decorator plus one call into a stage (through ``assets/runner.py``,
which runs the stage once per plant of a run); ``manufacturing-assets run``, the
benchmarks and the tests call the same functions. Stages hand Polars frames to the
engine (Polars or Spark) and the Narwhals transformations in ``transforms/``.
"""
