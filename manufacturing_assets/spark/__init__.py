"""The Spark engine (``MA_ENGINE=spark``): the session, Delta slices read by the executors,
Parquet written by the executors and committed to the Delta log, and the stages as Spark
plans. Nothing here collects a partition's rows to the driver; only counts and file
metadata come back.
"""
