"""Landing sensor hardening (issue 9, items 2 and 6), on a local folder and a moto S3 server.

- Late files are decided by key and content only: a file whose modification time is older
  than the last run of its partition (``rsync -a``, ``cp -p``, ``tar``, an S3 copy that keeps
  the source's metadata) leads to a run of its partition; a file already in bronze (same key,
  same ``file_hash``) does not, whatever its timestamp.
- Files the platform cannot route are recorded in the ledger with the reason, logged, and
  counted by the check ``landing_zone`` / ``unroutable_files``; ``unroutable_files(landing)``
  lists them for the CLI.
- A plant id that could not be a folder never becomes a partition or a landing path.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import polars as pl
from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckSeverity,
    AssetKey,
    AssetSelection,
    RunRequest,
    materialize,
)

from manufacturing_assets.assets.bronze import bronze_assets
from manufacturing_assets.checks.landing_zone import (
    LANDING_ZONE_KEY,
    UNROUTABLE_FILES,
    landing_zone_spec,
    report_unroutable_files,
    unroutable_files_check,
)
from manufacturing_assets.definitions import build_defs
from manufacturing_assets.environment import Settings, build_resources
from manufacturing_assets.ingest.routing import describe, list_landing_zone, unroutable_files
from manufacturing_assets.io_managers.delta import read_delta
from manufacturing_assets.partitions import START_DATE, partition_key
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets_tests import test_landing_sensor as sensor_tests
from manufacturing_assets_tests.test_landing_sensor import (
    PLANTS_P01_P02,
    QUIET,
    Store,
    bronze_request,
    ledger_rows,
    raw,
    readings_file,
    requested,
    run_request,
    tick,
)

# fixtures of test_landing_sensor.py: a local folder and a moto S3 server, an instance
moto_endpoint = sensor_tests.moto_endpoint
store = sensor_tests.store
instance = sensor_tests.instance

PLANTS_KEY = "reference/plants/snapshot_date=2024-03-01/plants.csv"
READINGS = AssetKey(["bronze", "sensor_readings"])


# ---------------------------------------------------------------- helpers


def s3_client(store: Store):
    return boto3.client(
        "s3",
        endpoint_url=store.settings.s3_endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def s3_location(store: Store, key: str) -> tuple[str, str]:
    bucket, _, prefix = store.settings.landing_root[len("s3://") :].partition("/")
    return bucket, f"{prefix.strip('/')}/{key}"


def set_mtime(store: Store, key: str, when: datetime) -> None:
    """Give a landed object the modification time ``when``, as a delivery that preserves
    timestamps does. S3 stamps every write with the time of the write, so the object is
    stored as an S3 copy tool stores it: copied with its metadata (``MetadataDirective=
    COPY``, the source's ``mtime`` in the user metadata) and with the source's
    LastModified (set in moto's backend, the one thing a client cannot set)."""
    if not store.landing.is_s3:
        os.utime(Path(store.landing.root) / key, (when.timestamp(), when.timestamp()))
        return
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    client = s3_client(store)
    bucket, full = s3_location(store, key)
    staging = full + ".staging"
    client.copy_object(
        Bucket=bucket,
        Key=staging,
        CopySource={"Bucket": bucket, "Key": full},
        Metadata={"mtime": str(int(when.timestamp()))},
        MetadataDirective="REPLACE",
    )
    client.copy_object(
        Bucket=bucket,
        Key=full,
        CopySource={"Bucket": bucket, "Key": staging},
        MetadataDirective="COPY",
    )
    client.delete_object(Bucket=bucket, Key=staging)
    assert client.head_object(Bucket=bucket, Key=full)["Metadata"] == {
        "mtime": str(int(when.timestamp()))
    }
    stored = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets[bucket].keys[full]
    stored.last_modified = when.astimezone(UTC).replace(tzinfo=None)


def delete(store: Store, key: str) -> None:
    if store.landing.is_s3:
        bucket, full = s3_location(store, key)
        s3_client(store).delete_object(Bucket=bucket, Key=full)
    else:
        (Path(store.landing.root) / key).unlink()


def listed_mtime(store: Store, key: str) -> datetime:
    listing = list_landing_zone(store.landing)
    return listing.filter(pl.col("key") == key)["last_modified"].item()


def bronze_sources(store: Store, stream: str = "sensor_readings") -> dict[str, int]:
    frame = read_delta(f"{store.settings.lake_root}/bronze/{stream}", store.ledger.storage_options)
    assert frame is not None
    return dict(frame.group_by("source").len().sort("source").iter_rows())


def last_run_start(instance) -> datetime:
    return datetime.fromtimestamp(max(r.start_time for r in instance.get_run_records()), UTC)


def run_all(instance, result, resources) -> None:
    """Execute a tick's run requests the way the daemon would (master data first)."""
    for req in sorted(
        result.run_requests, key=lambda r: r.asset_selection[0].path[0] != "reference"
    ):
        run_request(instance, req, resources)


# ---------------------------------------------------------------- item 2: late files


def test_late_file_with_an_old_timestamp_leads_to_a_run(store: Store, instance) -> None:
    landing = store.landing
    landing.write_bytes(PLANTS_KEY, PLANTS_P01_P02.encode())
    first_file = raw("sensor_readings", "P01", "2024-03-04", "b1.jsonl")
    landing.write_bytes(first_file, readings_file("2024-03-04", 3))
    first = tick(store, instance, None)
    assert requested(first) == {
        bronze_request("sensor_readings", "P01", "2024-03-04"),
        (("reference", "plants"), None),
    }
    run_all(instance, first, store.resources)
    ran_at = last_run_start(instance)

    # A late file for the same partition, delivered with a timestamp older than that run.
    late = raw("sensor_readings", "P01", "2024-03-04", "late-rsync.jsonl")
    landing.write_bytes(late, readings_file("2024-03-04", 2, device="P01-M002-T1"))
    set_mtime(store, late, ran_at - timedelta(days=1))
    assert listed_mtime(store, late) < ran_at  # the case the timestamp rule skipped for good

    second = tick(store, instance, first.cursor)
    assert requested(second) == {bronze_request("sensor_readings", "P01", "2024-03-04")}
    row = ledger_rows(store)[late]
    assert row["status"] == "new"
    assert row["run_key"] == second.run_requests[0].run_key
    run_all(instance, second, store.resources)
    assert bronze_sources(store) == {first_file: 3, late: 2}

    third = tick(store, instance, second.cursor)  # processed once, never again
    assert not third.run_requests
    assert ledger_rows(store)[late]["tick"] == row["tick"]


def test_switched_on_after_the_cli_files_are_recognized_by_content(store: Store, instance) -> None:
    """Processed before the sensor ran (as by `manufacturing-assets run`): whatever their
    timestamps, files bronze holds are `already_ingested`; a key whose content changed since,
    and a file bronze does not hold (even with an old timestamp), are processed."""
    landing = store.landing
    landing.write_bytes(PLANTS_KEY, PLANTS_P01_P02.encode())
    kept = raw("sensor_readings", "P01", "2024-03-04", "a.jsonl")
    rewritten = raw("sensor_readings", "P01", "2024-03-05", "b.jsonl")
    landing.write_bytes(kept, readings_file("2024-03-04", 3))
    landing.write_bytes(rewritten, readings_file("2024-03-05", 3))
    instance.add_dynamic_partitions("plant", ["P01", "P02"])
    run_request(
        instance, RunRequest(asset_selection=[AssetKey(["reference", "plants"])]), store.resources
    )
    for day in ("2024-03-04", "2024-03-05"):
        run_request(
            instance,
            RunRequest(asset_selection=[READINGS], partition_key=partition_key("P01", day)),
            store.resources,
        )
    ran_at = last_run_start(instance)

    set_mtime(store, kept, ran_at + timedelta(days=1))  # touched after the run: same content
    landing.write_bytes(rewritten, readings_file("2024-03-05", 4))  # new content, same key
    fresh = raw("sensor_readings", "P01", "2024-03-06", "c.jsonl")
    landing.write_bytes(fresh, readings_file("2024-03-06", 2))
    set_mtime(store, fresh, ran_at - timedelta(days=2))

    result = tick(store, instance, None)
    assert requested(result) == {
        bronze_request("sensor_readings", "P01", "2024-03-05"),
        bronze_request("sensor_readings", "P01", "2024-03-06"),
    }
    rows = ledger_rows(store)
    assert {k: (r["status"], r["detail"]) for k, r in rows.items()} == {
        PLANTS_KEY: (
            "already_ingested",
            "reference/plants already holds this content under this key (file_hash)",
        ),
        kept: (
            "already_ingested",
            "bronze/sensor_readings already holds this content under this key (file_hash)",
        ),
        rewritten: (
            "changed",
            "bronze/sensor_readings holds other content under this key: processed again",
        ),
        fresh: ("new", None),
    }
    run_all(instance, result, store.resources)
    assert bronze_sources(store) == {kept: 3, rewritten: 4, fresh: 2}


def test_a_local_file_touched_without_a_change_is_not_run_again(tmp_path, instance) -> None:
    settings = Settings.from_env({"MA_DATA_DIR": str(tmp_path)})
    store = Store(settings, build_resources(settings))
    landing = store.landing
    landing.write_bytes(PLANTS_KEY, PLANTS_P01_P02.encode())
    key = raw("shots", "P01", "2024-03-04", "s.jsonl")
    landing.write_bytes(key, b'{"shot_id": "S1"}\n')
    first = tick(store, instance, None)
    assert bronze_request("shots", "P01", "2024-03-04") in requested(first)

    set_mtime(store, key, datetime.now(UTC) + timedelta(hours=1))  # `touch`: etag changes
    second = tick(store, instance, first.cursor)
    assert not second.run_requests
    row = ledger_rows(store)[key]
    assert (row["status"], row["detail"]) == (
        "unchanged",
        "same content as already processed under this key",
    )
    assert not tick(store, instance, second.cursor).run_requests  # the new etag is known

    landing.write_bytes(key, b'{"shot_id": "S2"}\n')  # same size, new content
    third = tick(store, instance, second.cursor)
    assert requested(third) == {bronze_request("shots", "P01", "2024-03-04")}
    assert ledger_rows(store)[key]["status"] == "changed"


# ---------------------------------------------------------------- item 6: unroutable files

UNROUTABLE = {
    "raw/sensor_reading/plant=P01/date=2024-03-04/a.jsonl": (
        "unknown stream folder 'raw/sensor_reading/' (did you mean 'sensor_readings'?)"
    ),
    "raw/unknown_stream/plant=P01/date=2024-03-04/x.jsonl": (
        "unknown stream folder 'raw/unknown_stream/'"
    ),
    "raw/shots/plant=/date=2024-03-04/a.jsonl": "plant id is empty (folder 'plant=')",
    "raw/shots/plant=P01/date=2024-3-4/a.jsonl": (
        "date folder 'date=2024-3-4' is not date=<YYYY-MM-DD>"
    ),
    "raw/shots/plant=P01/date=2024-02-30/a.jsonl": (
        "date folder 'date=2024-02-30' is not a calendar date"
    ),
    "raw/shots/plant=..%2F..%2Fetc/date=2024-03-04/a.jsonl": (
        "plant id '..%2F..%2Fetc' does not match ^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$ "
        "(folder 'plant=..%2F..%2Fetc')"
    ),
    "raw/shots/plant=../x/date=2024-03-04/a.jsonl": (
        "not raw/<stream>/plant=<plant_id>/date=<YYYY-MM-DD>/<file>"
    ),
    "raw/shots/plant=P01/a.jsonl": "not raw/<stream>/plant=<plant_id>/date=<YYYY-MM-DD>/<file>",
    "raw/shots/plant=P01/date=2024-03-04/extra/a.jsonl": (
        "not raw/<stream>/plant=<plant_id>/date=<YYYY-MM-DD>/<file>"
    ),
    "raw/readme.txt": "not raw/<stream>/plant=<plant_id>/date=<YYYY-MM-DD>/<file>",
    "reference/plant/snapshot_date=2024-03-01/plants.csv": (
        "unknown master-data entity folder 'reference/plant/' (did you mean 'plants'?)"
    ),
    "reference/plants/snapshot_date=2024-3-1/plants.csv": (
        "snapshot_date folder 'snapshot_date=2024-3-1' is not snapshot_date=<YYYY-MM-DD>"
    ),
    "reference/plants/snapshot_date=2024-03-02/plants_v2.csv": (
        "a plants snapshot file is named plants.csv, found 'plants_v2.csv'"
    ),
    "reference/plants.csv": "not reference/<entity>/snapshot_date=<YYYY-MM-DD>/<entity>.csv",
    "Raw/shots/plant=P01/date=2024-03-04/a.jsonl": "not under raw/ or reference/ (did you mean 'raw'?)",
}


def test_unroutable_files_are_recorded_logged_and_counted(store: Store, instance, capsys) -> None:
    landing = store.landing
    landing.write_bytes(PLANTS_KEY, PLANTS_P01_P02.encode())
    good = raw("shots", "P01", "2024-03-04", "good.jsonl")
    landing.write_bytes(good, b'{"shot_id": "S1"}\n')
    for key in UNROUTABLE:
        landing.write_bytes(key, b'{"shot_id": "lost?"}\n')
    too_early = raw("shots", "P01", "2001-01-01", "old.jsonl")
    landing.write_bytes(too_early, b'{"shot_id": "S0"}\n')
    # not deliveries (never listed): a file at the landing root, the Kafka offsets ledger
    landing.write_bytes("manifest.json", b"{}")
    landing.write_bytes("ledger/kafka/shots/p0.json", b"{}")

    capsys.readouterr()
    first = tick(store, instance, None)
    logged = capsys.readouterr().err  # the sensor's log (Dagster's console logger)

    # the routable files run, nothing else does
    assert requested(first) == {
        bronze_request("shots", "P01", "2024-03-04"),
        (("reference", "plants"), None),
    }
    rows = ledger_rows(store)
    assert set(rows) == {PLANTS_KEY, good, too_early, *UNROUTABLE}
    for key, reason in UNROUTABLE.items():
        assert (rows[key]["status"], rows[key]["detail"], rows[key]["run_key"]) == (
            "ignored",
            reason,
            None,
        ), key
    early_reason = f"landing date before the first date partition {START_DATE} (MA_START_DATE)"
    assert (rows[too_early]["status"], rows[too_early]["detail"]) == ("out_of_range", early_reason)

    # logged, each with its reason
    assert f"{len(UNROUTABLE) + 1} new file(s) cannot be routed" in logged
    for key, reason in UNROUTABLE.items():
        assert f"{key}: {reason}" in logged

    # counted by the landing zone's check
    expected = dict(UNROUTABLE) | {too_early: early_reason}
    (evaluation,) = first.asset_events
    assert isinstance(evaluation, AssetCheckEvaluation)
    assert (evaluation.asset_key, evaluation.check_name) == (LANDING_ZONE_KEY, UNROUTABLE_FILES)
    assert not evaluation.passed
    assert evaluation.severity == AssetCheckSeverity.WARN
    assert evaluation.metadata["unroutable_files"].value == len(expected)
    assert evaluation.metadata["files"].value == expected
    assert unroutable_files(landing, START_DATE) == sorted(expected.items())  # for the CLI
    assert unroutable_files(landing) == sorted(UNROUTABLE.items())

    # the same files: no new evaluation; one file fewer: a new one
    second = tick(store, instance, first.cursor)
    assert not second.asset_events and not second.run_requests
    delete(store, "raw/readme.txt")
    third = tick(store, instance, second.cursor)
    (evaluation,) = third.asset_events
    assert evaluation.metadata["unroutable_files"].value == len(expected) - 1
    for key in UNROUTABLE:
        if key != "raw/readme.txt":
            delete(store, key)
    delete(store, too_early)
    (cleared,) = tick(store, instance, third.cursor).asset_events
    assert cleared.passed and cleared.metadata["unroutable_files"].value == 0


def test_unroutable_files_check_runs_from_the_code_location(tmp_path) -> None:
    settings = Settings.from_env({"MA_DATA_DIR": str(tmp_path)})
    resources = build_resources(settings)
    resources["landing"].write_bytes("raw/sensor_reading/plant=P01/date=2024-03-04/a.jsonl", b"{}")
    graph = build_defs(settings).resolve_asset_graph()
    assert LANDING_ZONE_KEY in graph.get_all_asset_keys()  # the landing zone is an asset
    assert AssetCheckKey(LANDING_ZONE_KEY, UNROUTABLE_FILES) in graph.asset_check_keys
    result = materialize(  # what *Execute* on the check does
        [landing_zone_spec, unroutable_files_check],
        selection=AssetSelection.checks(unroutable_files_check),
        resources={"landing": resources["landing"]},
        run_config=QUIET,
    )
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.metadata["files"].value == {
        "raw/sensor_reading/plant=P01/date=2024-03-04/a.jsonl": (
            "unknown stream folder 'raw/sensor_reading/' (did you mean 'sensor_readings'?)"
        )
    }


def test_the_cli_can_report_unroutable_files_without_a_run(tmp_path, instance) -> None:
    """``report_unroutable_files``: what `manufacturing-assets run` calls for its summary; the
    evaluation is recorded in the instance like the sensor's, so the UI shows it."""
    landing = LandingZone(root=str(tmp_path / "landing"))
    typo = "raw/sensor_reading/plant=P01/date=2024-03-04/a.jsonl"
    landing.write_bytes(typo, b"{}")
    unroutable = report_unroutable_files(instance, landing)
    reason = "unknown stream folder 'raw/sensor_reading/' (did you mean 'sensor_readings'?)"
    assert unroutable == [(typo, reason)]
    assert describe(unroutable) == [f"{typo}: {reason}"]
    key = AssetCheckKey(LANDING_ZONE_KEY, UNROUTABLE_FILES)
    record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
    assert record.status.value == "FAILED"
    assert record.event.dagster_event.event_specific_data.metadata["files"].value == {typo: reason}


def test_a_symbolic_link_is_reported_by_the_check(tmp_path, instance) -> None:
    """A local landing zone never reads through a link (``resources/landing_zone.py``); the
    link is not an object, so it is not in the ledger, but the check counts it."""
    settings = Settings.from_env({"MA_DATA_DIR": str(tmp_path)})
    store = Store(settings, build_resources(settings))
    store.landing.write_bytes(PLANTS_KEY, PLANTS_P01_P02.encode())
    secret = tmp_path / "secret.jsonl"
    secret.write_bytes(b'{"shot_id": "SECRET"}\n')
    link = raw("shots", "P01", "2024-03-04", "link.jsonl")
    (Path(store.landing.root) / link).parent.mkdir(parents=True)
    (Path(store.landing.root) / link).symlink_to(secret)

    result = tick(store, instance, None)
    assert link not in ledger_rows(store)
    assert requested(result) == {(("reference", "plants"), None)}
    (evaluation,) = result.asset_events
    files = evaluation.metadata["files"].value
    assert list(files) == [link]
    assert files[link].startswith("symbolic link")
    assert unroutable_files(store.landing) == [(link, files[link])]


# ---------------------------------------------------------------- unsafe plant ids


def test_unsafe_plant_ids_never_become_partitions_or_landing_paths(
    tmp_path, instance, capsys
) -> None:
    settings = Settings.from_env({"MA_DATA_DIR": str(tmp_path)})
    store = Store(settings, build_resources(settings))
    landing = store.landing
    # master data naming plants with path characters: the snapshot is refused as a whole
    landing.write_bytes(
        PLANTS_KEY,
        (PLANTS_P01_P02 + "../x,Evil,EMEA,DE,Europe/Berlin\n..%2F..,Evil2,EMEA,DE,UTC\n").encode(),
    )
    landing.write_bytes(raw("shots", "P01", "2024-03-04", "s.jsonl"), b'{"shot_id": "S1"}\n')
    capsys.readouterr()
    first = tick(store, instance, None)
    logged = capsys.readouterr().err
    assert instance.get_dynamic_partitions("plant") == []
    assert not first.dynamic_partitions_requests
    # the snapshot is still read by its asset (to report it); the file waits for master data
    assert requested(first) == {(("reference", "plants"), None)}
    assert "1 file(s) waiting: plant P01 not in master data" in logged
    assert (
        f"plants snapshot refused, no partitions added from it: {PLANTS_KEY} line 4, plant_id: "
        "plant id '../x' does not match"
    ) in logged

    # a partition added by hand with a path in it: bronze refuses it before building a path
    outside = tmp_path / "outside" / "date=2024-03-04"
    outside.mkdir(parents=True)
    (outside / "secret.jsonl").write_bytes(b'{"shot_id": "SECRET"}\n')
    evil = "x/../../../../outside"
    instance.add_dynamic_partitions("plant", [evil])
    shots = next(a for a in bronze_assets if AssetKey(["bronze", "shots"]) in a.keys)
    result = materialize(
        [shots],
        partition_key=str(partition_key(evil, "2024-03-04")),
        instance=instance,
        resources=store.resources,
        raise_on_error=False,
        run_config=QUIET,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    cause = failure.event_specific_data.error.cause
    assert cause.cls_name == "UnsafePlantIdError"
    assert cause.message.startswith(
        "manufacturing_assets.stages.plants.UnsafePlantIdError: refusing partition(s) with "
        "unsafe plant ids: 'x/../../../../outside': plant id 'x/../../../../outside' does not match"
    )
    assert read_delta(f"{settings.lake_root}/bronze/shots") is None  # nothing was written
