"""Kafka ingestion: factory topics -> landing zone, exactly once (docs/kafka.md).

- ``settings.py``: topics, consumer group and client configuration (``KafkaSettings``);
- ``files.py``: names of the data, dead-letter and offsets-ledger keys;
- ``routing.py``: message -> plant and production date, from pinned master data;
- ``records.py``: message -> landed JSON line or dead-letter line, file bytes;
- ``offsets.py``: the per-partition offsets ledger (``Pending``, ``OffsetsLedger``);
- ``lander.py``: one bounded landing pass and its protocol (``run_landing_pass``);
- ``job.py``: the Dagster job ``kafka_landing_job``;
- ``__main__.py``: the same pass from a shell (``python -m manufacturing_assets.kafka``).
"""
