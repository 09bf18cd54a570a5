"""Kafka landing benchmark: produce N sensor readings, then land them (docs/kafka.md).

    python -m manufacturing_assets_tools.benchmarks.kafka_landing [n_events] [bootstrap]

Without ``bootstrap`` a throwaway Tansu broker is started (``manufacturing_assets_tools.brokers``).
From Python::

    from manufacturing_assets_tools.benchmarks.kafka_landing import benchmark_kafka_landing
    from manufacturing_assets_tools.brokers import local_broker
    with local_broker() as bootstrap:                 # a Tansu broker (dev/test only)
        print(benchmark_kafka_landing(bootstrap, 1_000_000))

The events are valid contract sensor readings (two plants, 20 machines each, one day),
keyed by machine_id, produced in batches by one idempotent producer into a fresh topic;
the landing pass then consumes them with a fresh consumer group into a temporary landing
zone (master data included) exactly as ``kafka_landing_job`` does: routing, files, ledger,
commits. Reported rates exclude the consumer-group join and the idle timeout that ends
the pass (``land_wall_s`` includes them).
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from manufacturing_assets.kafka.lander import LandingOptions, run_landing_pass
from manufacturing_assets.kafka.settings import KafkaSettings
from manufacturing_assets.resources.landing_zone import LandingZone
from manufacturing_assets_tools.brokers import local_broker

BENCH_PLANTS = {"P01": "Europe/Berlin", "P02": "America/Chicago"}
MACHINES_PER_PLANT = 20


def sensor_events(n: int, seed: int = 7) -> tuple[list[bytes], list[bytes]]:
    """(keys, values): ``n`` valid sensor readings as contract JSON, vectorised."""
    rng = np.random.default_rng(seed)
    idx = np.arange(n, dtype=np.int64)
    plants = list(BENCH_PLANTS)
    plant_ix = idx % len(plants)
    machine_no = (idx // len(plants)) % MACHINES_PER_PLANT + 1
    offsets = {"P01": "+01:00", "P02": "-06:00"}  # 2024-03-04: CET and CST
    start = np.datetime64("2024-03-04T00:00:00.000")
    ms = (idx * 86_400_000) // max(n, 1)  # spread over the plant-local day, unique ts
    frame = pl.DataFrame(
        {
            "plant": np.array(plants)[plant_ix],
            "m": machine_no,
            "local": (start + ms.astype("timedelta64[ms]")),
            "temperature_c": np.round(rng.normal(72, 2.5, n), 1),
            "humidity_pct": np.round(rng.normal(45, 4, n), 1),
            "pressure_bar": np.round(rng.normal(5.5, 0.6, n), 2),
            "vibration_mm_s": np.round(np.abs(rng.normal(4.0, 0.8, n)), 2),
        }
    )
    machine = pl.col("plant") + pl.lit("-M") + pl.col("m").cast(pl.String).str.zfill(3)
    frame = frame.select(
        machine.alias("key"),
        (machine + pl.lit("-T1")).alias("device_id"),
        pl.col("plant").alias("plant_id"),
        machine.alias("machine_id"),
        (
            pl.col("local").dt.strftime("%Y-%m-%dT%H:%M:%S%.3f")
            + pl.col("plant").replace_strict(offsets)
        ).alias("ts"),
        pl.lit("2.5.0").alias("firmware"),
        pl.lit("active").alias("status"),
        pl.struct("temperature_c", "humidity_pct", "pressure_bar", "vibration_mm_s").alias(
            "metrics"
        ),
    )
    values = frame.drop("key").select(pl.struct(pl.all()).struct.json_encode().alias("v"))["v"]
    keys = [k.encode() for k in frame["key"].to_list()]
    return keys, [v.encode() for v in values.to_list()]


def write_bench_reference(landing: LandingZone) -> None:
    plants = "plant_id,plant_name,region,country,timezone\n" + "".join(
        f"{p},Plant {p},R,XX,{tz}\n" for p, tz in BENCH_PLANTS.items()
    )
    machines = "machine_id,plant_id,line_id,machine_type,tonnage\n" + "".join(
        f"{p}-M{m:03d},{p},{p}-L1,hydraulic,300\n"
        for p in BENCH_PLANTS
        for m in range(1, MACHINES_PER_PLANT + 1)
    )
    landing.write_bytes("reference/plants/snapshot_date=2024-03-01/plants.csv", plants.encode())
    landing.write_bytes(
        "reference/machines/snapshot_date=2024-03-01/machines.csv", machines.encode()
    )


def benchmark_kafka_landing(
    bootstrap: str,
    n_events: int = 1_000_000,
    *,
    partitions: int = 3,
    workdir: str | None = None,
    compression: str = "none",
    flush_messages: int = 100_000,
    session_timeout_ms: int = 6000,
    log: Any = print,
) -> dict[str, Any]:
    """Produce ``n_events`` sensor readings into a fresh topic, then land them.

    Returns events, produce/land seconds and events/s (``land_events_per_s``: from the
    assignment to the last commit; ``end_to_end_events_per_s``: produce + land), the
    files and bytes written, and the landing report's counts.
    """
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = f"bench-sensor-readings-{uuid.uuid4().hex[:8]}"
    settings = KafkaSettings(
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid.uuid4().hex[:8]}",
        topics={topic: "sensor_readings"},
        session_timeout_ms=session_timeout_ms,
    )
    admin = AdminClient(settings.admin_config())
    admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[
        topic
    ].result(timeout=30)
    del admin

    t0 = time.perf_counter()
    keys, values = sensor_events(n_events)
    render_s = time.perf_counter() - t0
    log(f"kafka bench: {n_events} events rendered in {render_s:.1f} s; producing ...")

    producer = Producer(
        settings.producer_config()
        | {"linger.ms": 20, "batch.num.messages": 10_000, "queue.buffering.max.messages": 500_000}
    )
    t0 = time.perf_counter()
    for key, value in zip(keys, values, strict=True):
        while True:
            try:
                producer.produce(topic, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.01)
    undelivered = producer.flush(120)
    produce_s = time.perf_counter() - t0
    if undelivered:
        raise RuntimeError(f"{undelivered} events not delivered")
    del keys, values, producer
    log(f"kafka bench: produced in {produce_s:.1f} s ({n_events / produce_s:,.0f}/s); landing ...")

    tmp = workdir or tempfile.mkdtemp(prefix="ma-kafka-bench-")
    landing = LandingZone(root=str(Path(tmp) / "landing"))
    write_bench_reference(landing)
    marks: dict[str, float] = {}

    def hook(stage: str, _info: dict[str, Any]) -> None:
        now = time.perf_counter()
        if stage == "assigned":
            marks.setdefault("assigned", now)
        elif stage == "committed":
            marks["committed"] = now

    try:
        t0 = time.perf_counter()
        report = run_landing_pass(
            settings,
            landing,
            LandingOptions(
                idle_timeout_s=3.0,
                max_seconds=None,
                flush_messages=flush_messages,
                flush_interval_s=60.0,
                compression=compression,
            ),
            hooks=hook,
        )
        land_wall_s = time.perf_counter() - t0
        files = [o for o in landing.list_objects("raw/")]
        land_s = marks.get("committed", t0) - marks.get("assigned", t0)
        result = {
            "events": n_events,
            "partitions": partitions,
            "compression": compression,
            "produce_s": round(produce_s, 2),
            "produce_events_per_s": round(n_events / produce_s),
            "land_s": round(land_s, 2),
            "land_events_per_s": round(n_events / land_s) if land_s > 0 else None,
            "land_wall_s": round(land_wall_s, 2),
            "end_to_end_events_per_s": round(n_events / (produce_s + land_s)),
            "landed": report.landed,
            "dead_letters": report.dead_letters,
            "chunks": report.chunks,
            "files": len(files),
            "bytes": sum(o.size for o in files),
        }
        if report.landed != n_events:
            raise RuntimeError(f"landed {report.landed} of {n_events} events: {result}")
        log(
            f"kafka bench: landed in {land_s:.1f} s ({result['land_events_per_s']:,}/s), "
            f"{result['files']} files, {result['bytes'] / 1e6:.0f} MB"
        )
        return result
    finally:
        if workdir is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":  # [n_events] [bootstrap]
    import json
    import sys

    n_events = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    if len(sys.argv) > 2:
        print(json.dumps(benchmark_kafka_landing(sys.argv[2], n_events), indent=2, default=str))
    else:
        with local_broker() as bootstrap:
            print(json.dumps(benchmark_kafka_landing(bootstrap, n_events), indent=2, default=str))
