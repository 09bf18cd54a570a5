"""Landing sensor benchmark: time sensor ticks over many new files (docs/ingestion.md).

    python -m manufacturing_assets_tools.benchmarks.landing_sensor [n_files]   # 10,000

Writes ``n_files`` distinct small files (4 streams x 5 plants x dates x 5 batches), then times
a first tick (everything new), an idle tick and a tick with one late file, through the real
``landing_sensor`` (``manufacturing_assets/sensors/landing.py``), on a local folder and on S3
(a ``moto`` server in its own process; landing zone and ledger on it).
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

from dagster import SensorResult

from manufacturing_assets.contract import STREAMS
from manufacturing_assets.ingest.landing_plan import list_landing_zone
from manufacturing_assets.partitions import PLANT_DIMENSION
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets.resources.ledger import LandingLedger, ledger_uri
from manufacturing_assets.sensors.landing import landing_sensor


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on 127.0.0.1:{port}") from None
            time.sleep(0.1)


def _bench_files(n_files: int, plants: Sequence[str]) -> list[tuple[str, bytes]]:
    """``n_files`` small distinct files over 4 streams x plants x dates x 5 batches."""
    out = []
    per_day = len(STREAMS) * len(plants) * 5
    for i in range(n_files):
        day = date.fromordinal(date(2024, 1, 1).toordinal() + i // per_day).isoformat()
        rest = i % per_day
        stream = STREAMS[rest % len(STREAMS)]
        plant = plants[(rest // len(STREAMS)) % len(plants)]
        batch = rest // (len(STREAMS) * len(plants))
        body = json.dumps({"machine_id": f"{plant}-M001", "ts": f"{day}T00:00:00", "i": i})
        out.append((f"raw/{stream}/plant={plant}/date={day}/b{batch:02d}.jsonl", body.encode()))
    return out


def _bench_one(landing: LandingZone, ledger: LandingLedger, n_files: int) -> dict[str, Any]:
    from dagster import build_sensor_context, instance_for_test

    plants = ["P01", "P02", "P03", "P04", "P05"]
    files = _bench_files(n_files, plants)
    t0 = time.perf_counter()
    if landing.is_s3:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda kv: landing.write_bytes(*kv), files))
    else:  # plain writes: LandingZone.write_bytes fsyncs every file (slow, not what is measured)
        for key, data in files:
            path = os.path.join(landing.root, key)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(data)
    write_s = time.perf_counter() - t0
    with instance_for_test() as instance:
        instance.add_dynamic_partitions(PLANT_DIMENSION, plants)
        resources = {"landing": landing, "landing_ledger": ledger}

        def tick(cursor: str | None) -> tuple[SensorResult, float]:
            ctx = build_sensor_context(instance=instance, cursor=cursor, resources=resources)
            start = time.perf_counter()
            result = landing_sensor(ctx)
            return result, time.perf_counter() - start

        t0 = time.perf_counter()
        listed = sum(1 for _ in landing.list_objects("raw/"))
        list_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        list_landing_zone(landing)
        listing_s = time.perf_counter() - t0
        first, first_s = tick(None)
        second, second_s = tick(first.cursor)
        landing.write_bytes("raw/shots/plant=P01/date=2024-01-02/late.jsonl", b'{"late": 1}\n')
        third, third_s = tick(second.cursor)
    return {
        "files": n_files,
        "write_s": round(write_s, 2),
        "list_raw_sequential_s": round(list_s, 2),
        "list_parallel_s": round(listing_s, 2),  # what a tick spends listing
        "listed": listed,
        "first_tick_s": round(first_s, 2),
        "first_tick_run_requests": len(first.run_requests or []),
        "idle_tick_s": round(second_s, 2),
        "idle_tick_run_requests": len(second.run_requests or []),
        "late_file_tick_s": round(third_s, 2),
        "late_file_tick_run_requests": len(third.run_requests or []),
    }


def benchmark_landing_sensor(
    n_files: int = 10_000, backends: Sequence[str] = ("local", "s3")
) -> dict[str, dict[str, Any]]:
    """Time landing-sensor ticks over ``n_files`` new objects, on a local folder and moto S3.

    Per backend: the first tick (every file new), an idle tick (nothing new) and a tick with
    one late file. The S3 run starts a ``moto`` server process on a free 127.0.0.1 port (landing zone
    and ledger on it) and stops it afterwards.
    """
    results: dict[str, dict[str, Any]] = {}
    if "local" in backends:
        with tempfile.TemporaryDirectory() as tmp:
            landing = LandingZone(root=os.path.join(tmp, "landing"))
            ledger = LandingLedger(uri=ledger_uri(os.path.join(tmp, "lake")))
            results["local"] = _bench_one(landing, ledger, n_files)
    if "s3" in backends:
        import subprocess
        import sys

        import boto3

        from manufacturing_assets.resources.s3 import S3Connection

        # moto in its own process (as S3 would be), not sharing this interpreter's GIL.
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_for_port(port)
            endpoint = f"http://127.0.0.1:{port}"
            creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
            boto3.client(
                "s3", endpoint_url=endpoint, region_name="us-east-1", **creds
            ).create_bucket(Bucket="bench")
            s3 = S3Connection(endpoint_url=endpoint, region_name="us-east-1", **creds)
            landing = LandingZone(root="s3://bench/landing", s3=s3)
            ledger = LandingLedger(uri=ledger_uri("s3://bench/lake"), s3=s3)
            results["s3"] = _bench_one(landing, ledger, n_files)
        finally:
            server.terminate()
            server.wait(timeout=30)
    return results


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m manufacturing_assets_tools.benchmarks.landing_sensor",
        description="Time landing-sensor ticks over n new files (local folder and moto S3).",
    )
    parser.add_argument("n_files", type=int, nargs="?", default=10_000)
    parser.add_argument(
        "--backends", default="local,s3", help="comma-separated: local, s3 (default: both)"
    )
    args = parser.parse_args(argv)
    backends = tuple(b.strip() for b in args.backends.split(",") if b.strip())
    print(json.dumps(benchmark_landing_sensor(args.n_files, backends), indent=2))


if __name__ == "__main__":
    main()
