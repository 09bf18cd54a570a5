"""Bad input: every kind the contract names, added in seeded, counted amounts.

Each defective record has exactly ONE defect so the counts can be checked independently.
Only valid records are ever *modified* (value-level kinds, skew, offsets, plant,
mold_id); records that silver must quarantine are *extra* records cloned from a valid
one with a fresh key, so the clean truth is unchanged by bad input. Keys of extra
records never collide with real ones, so deduplication never has to choose between a
valid record and a quarantined one. Kinds (manifest names, per stream; the lists are
``config.RECORD_KINDS`` and ``config.FILE_KINDS``):

record kinds (counted in records):
  malformed_record    line is not JSON (``truncated_json``) or a JSON array (``json_array``)
  missing_machine_id  machine_id absent / null / blank ("") / empty CSV cell / parquet null
  missing_device_id   (sensor_readings) same variants
  missing_shot_id     (shots) absent / null / blank
  missing_part_id     (quality_inspections) empty CSV cell / parquet null / blank
  missing_ts          ts (hour_start for inspections) missing, same variants
  unparseable_ts      ts present but not ISO-8601
  out_of_window       ts more than one day from the folder date (``past`` / ``future``)
  midnight_skew       valid record in the neighbouring day's folder (``previous_day``:
                      its ts belongs to the day before the folder, ``next_day``: after)
  ts_without_offset   valid record, ts plant-local without offset (``plain``; ``dst_gap``:
                      an extra reading whose wall time falls in a spring-forward gap)
  plant_mismatch      record plant_id is another plant than the plant= folder
  duplicate_record    exact re-delivery: a record's line repeated in another file of the
                      same folder (listed in ``redelivered_records``)
  numeric_string      (sensor) a metric sent as a JSON string of a decimal ("71.3")
  unparseable         (sensor) a metric sent as a non-numeric string ("n/a", "71,3")
  temperature_f       (sensor) firmware 3.1.0 sends temperature_f instead of temperature_c
  unknown_metric      (sensor) extra metric key (spindle_rpm, oil_level_pct)
  invalid_status      (sensor) status not active/idle/faulty
  sentinel            (sensor) a metric is 9999, -9999 or -999
  out_of_range        (sensor) a metric outside its valid range (not a sentinel)
  missing_mold_id     (shots) mold_id absent / null / blank; resolvable from mold_assignments
  unresolved_mold     (shots) extra purge shots without mold_id while no mold is mounted
  invalid_state       (machine_events) state not in RUNNING/IDLE/DOWN/SETUP/PLANNED_STOP
  invalid_count       (quality_inspections) negative (csv/parquet) or non-integer (csv) count

file kinds (counted in files, listed in ``bad_files``):
  duplicate_file      a whole batch re-delivered under another name (same bytes;
                      listed in ``redelivered_files``)
  corrupt_gzip        a .jsonl.gz whose deflate stream is invalid (nothing readable)
  not_json_file       a .jsonl that is an HTML error page (one line)
  empty_partition     a partition folder with no files (listed in ``empty_partitions``)

Modules: :mod:`.inject` (the plan and its order), :mod:`.picking` (choosing, marking,
cloning records), :mod:`.extra_records`, :mod:`.modified_records`,
:mod:`.sensor_values`, :mod:`.shot_molds`, :mod:`.redeliveries`; the file kinds are
written by :mod:`..files`.
"""

from .inject import inject_bad_input

__all__ = ["inject_bad_input"]
