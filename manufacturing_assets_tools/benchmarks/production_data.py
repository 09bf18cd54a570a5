"""Fast path for the production benchmark: one plant-day of shots, machine events and
quality inspections plus the master data they need, vectorised (numpy + Polars).

No per-row Python: columns are numpy arrays, rendered to JSON lines / CSV by Polars.
Layout: data contract section 2; records: section 3 (shots ``content`` is a JSON string).
Every record is valid; about 10% of the shots carry no ``mold_id`` (resolved from
``mold_assignments``). Deterministic for a seed.
"""

from __future__ import annotations

import gzip
import io
from datetime import date as date_type
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from manufacturing_assets.contract import REFERENCE_ENTITIES

if TYPE_CHECKING:
    from manufacturing_assets.resources.landing_zone import LandingZone

STATES = np.array(["RUNNING", "IDLE", "DOWN", "SETUP", "PLANNED_STOP"])
STATE_WEIGHTS = np.array([0.6, 0.15, 0.1, 0.1, 0.05])
TS_FORMAT = "%Y-%m-%dT%H:%M:%S%.3f%:z"


def _local_ts(us: pl.Expr, tz: str) -> pl.Expr:
    return (
        pl.from_epoch(us, time_unit="us")
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone(tz)
        .dt.strftime(TS_FORMAT)
    )


def _id_col(prefix: str, numbers: pl.Expr, width: int = 3) -> pl.Expr:
    return pl.lit(prefix) + numbers.cast(pl.String).str.zfill(width)


def _csv(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_csv(buf)
    return buf.getvalue()


def _ndjson(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_ndjson(buf)
    return buf.getvalue()


def generate_production_benchmark(
    landing: LandingZone,
    plant_id: str = "P01",
    date: date_type | str = "2024-03-04",
    n_shots: int = 1_000_000,
    *,
    machines: int = 200,
    events_per_machine: int = 36,
    shot_files: int = 10,
    gz_every: int = 4,
    timezone: str = "Europe/Berlin",
    seed: int = 11,
) -> dict:
    """Write one plant-day of production data and a master-data snapshot of that day.

    Returns ``{"shots", "machine_events", "quality_inspections", "reference"}`` row counts
    (reference: total rows over the eight entities) and ``"files"`` (keys written).
    """
    day = date_type.fromisoformat(date) if isinstance(date, str) else date
    rng = np.random.default_rng(seed)
    zone = ZoneInfo(timezone)
    start_us = int(datetime.combine(day, time(0), tzinfo=zone).timestamp()) * 1_000_000
    end_us = (
        int(datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).timestamp()) * 1_000_000
    )
    span_us = end_us - start_us
    d = day.isoformat()
    files: list[str] = []

    def write(key: str, data: bytes) -> None:
        landing.write_bytes(key, data)
        files.append(key)

    # ---------------------------------------------------------------- master data
    n_lines = max(1, machines // 20)
    m_no = np.arange(1, machines + 1)
    cavities = rng.choice(np.array([1, 2, 4, 8]), machines)
    ideal = np.round(rng.uniform(12.0, 17.0, machines), 2)  # shots come every ~17.3 s
    cost = np.round(rng.uniform(0.05, 2.0, machines), 2)
    price = np.round(cost * rng.uniform(1.2, 2.0, machines), 2)
    mounted_from = datetime.combine(day - timedelta(days=3), time(6), tzinfo=zone)
    reference = {
        "plants": pl.DataFrame(
            {
                "plant_id": [plant_id],
                "plant_name": [f"Plant {plant_id}"],
                "region": ["EMEA"],
                "country": ["DE"],
                "timezone": [timezone],
            }
        ),
        "lines": pl.DataFrame({"n": np.arange(1, n_lines + 1)}).select(
            _id_col(f"{plant_id}-L", pl.col("n"), 2).alias("line_id"),
            pl.lit(plant_id).alias("plant_id"),
            _id_col("Line ", pl.col("n"), 2).alias("line_name"),
        ),
        "machines": pl.DataFrame(
            {"n": m_no, "t": rng.choice([150, 250, 350, 500], machines)}
        ).select(
            _id_col(f"{plant_id}-M", pl.col("n")).alias("machine_id"),
            pl.lit(plant_id).alias("plant_id"),
            _id_col(f"{plant_id}-L", (pl.col("n") - 1) % n_lines + 1, 2).alias("line_id"),
            pl.lit("injection_moulding").alias("machine_type"),
            pl.col("t").cast(pl.String).alias("tonnage"),
        ),
        "molds": pl.DataFrame({"n": m_no, "c": cavities, "i": ideal}).select(
            _id_col("MD-", pl.col("n")).alias("mold_id"),
            pl.col("c").cast(pl.String).alias("cavities"),
            pl.col("i").cast(pl.String).alias("ideal_cycle_time_s"),
            _id_col("S", (pl.col("n") - 1) % 5 + 1, 2).alias("supplier_id"),
        ),
        "parts": pl.DataFrame({"n": m_no, "c": cost, "p": price}).select(
            _id_col("PT-", pl.col("n")).alias("part_id"),
            _id_col("Part ", pl.col("n")).alias("part_name"),
            pl.col("c").round(2).cast(pl.String).alias("unit_cost"),
            pl.col("p").round(2).cast(pl.String).alias("unit_price"),
            _id_col("C", (pl.col("n") - 1) % 5 + 1, 2).alias("customer_id"),
        ),
        "mold_parts": pl.DataFrame({"n": m_no}).select(
            _id_col("MD-", pl.col("n")).alias("mold_id"),
            _id_col("PT-", pl.col("n")).alias("part_id"),
        ),
        "mold_assignments": pl.DataFrame({"n": m_no}).select(
            _id_col(f"{plant_id}-M", pl.col("n")).alias("machine_id"),
            _id_col("MD-", pl.col("n")).alias("mold_id"),
            pl.lit(mounted_from.isoformat()).alias("valid_from"),
            pl.lit(None, pl.String).alias("valid_to"),
        ),
        "companies": pl.concat(
            [
                pl.DataFrame({"n": np.arange(1, 6)}).select(
                    _id_col(kind[0].upper(), pl.col("n"), 2).alias("company_id"),
                    _id_col(f"{kind.title()} ", pl.col("n"), 2).alias("company_name"),
                    pl.lit(kind).alias("company_type"),
                )
                for kind in ("supplier", "customer")
            ]
        ),
    }
    ref_rows = 0
    for entity, frame in reference.items():
        frame = frame.select(REFERENCE_ENTITIES[entity])
        write(f"reference/{entity}/snapshot_date={d}/{entity}.csv", _csv(frame))
        ref_rows += frame.height

    # ---------------------------------------------------------------- machine events
    k = events_per_machine
    ev_us = np.sort(rng.integers(0, span_us, (machines, k)), axis=1)
    ev_us[:, 0] = 0  # every machine reports its state at local midnight
    ev_state = rng.choice(len(STATES), (machines, k), p=STATE_WEIGHTS)
    events = pl.DataFrame(
        {
            "n": np.repeat(m_no, k),
            "us": start_us + ev_us.ravel(),
            "s": STATES[ev_state.ravel()],
        }
    ).select(
        _id_col(f"{plant_id}-M", pl.col("n")).alias("machine_id"),
        pl.lit(plant_id).alias("plant_id"),
        _local_ts(pl.col("us"), timezone).alias("ts"),
        pl.col("s").alias("state"),
        pl.when(pl.col("s") == "DOWN")
        .then(pl.lit("E42"))
        .otherwise(pl.lit(None, pl.String))
        .alias("reason_code"),
    )
    write(
        f"raw/machine_events/plant={plant_id}/date={d}/events-{day:%Y%m%d}-0001.jsonl",
        _ndjson(events),
    )

    # ---------------------------------------------------------------- shots
    idx = np.arange(n_shots, dtype=np.int64)
    machine = idx % machines  # 0-based
    seq = idx // machines + 1
    per_machine = -(-n_shots // machines)
    shot_us = start_us + (seq - 1) * span_us // per_machine + machine * 1_000 + 500
    no_mold = rng.random(n_shots) < 0.1
    shots = pl.DataFrame(
        {
            "n": machine + 1,
            "seq": seq,
            "us": shot_us,
            "no_mold": no_mold,
            "cycle": np.round(ideal[machine] * rng.uniform(1.0, 1.15, n_shots), 2),
            "cushion": np.round(rng.normal(5.0, 0.3, n_shots), 2),
            "pressure": np.round(rng.normal(1450, 40, n_shots), 1),
            "melt": np.round(rng.normal(232, 2, n_shots), 1),
            "mold_t": np.round(rng.normal(55, 1.5, n_shots), 1),
            "weight": np.round(rng.normal(120, 1.0, n_shots), 2),
        }
    )
    machine_id = _id_col(f"{plant_id}-M", pl.col("n"))
    content = pl.concat_str(
        [
            pl.lit('{"cycle_time_s": '),
            pl.col("cycle").cast(pl.String),
            pl.lit(', "cushion_mm": '),
            pl.col("cushion").cast(pl.String),
            pl.lit(', "injection_pressure_bar": '),
            pl.col("pressure").cast(pl.String),
            pl.lit(', "melt_temp_c": '),
            pl.col("melt").cast(pl.String),
            pl.lit(', "mold_temp_c": '),
            pl.col("mold_t").cast(pl.String),
            pl.lit(', "shot_weight_g": '),
            pl.col("weight").cast(pl.String),
            pl.lit("}"),
        ]
    )
    shots = shots.select(
        (machine_id + pl.lit("-") + pl.col("seq").cast(pl.String).str.zfill(6)).alias("shot_id"),
        pl.lit(plant_id).alias("plant_id"),
        machine_id.alias("machine_id"),
        _local_ts(pl.col("us"), timezone).alias("ts"),
        pl.when(pl.col("no_mold"))
        .then(pl.lit(None, pl.String))
        .otherwise(_id_col("MD-", pl.col("n")))
        .alias("mold_id"),
        content.alias("content"),
    )
    size = -(-n_shots // shot_files)
    for i in range(shot_files):
        chunk = shots.slice(i * size, size)
        gz = gz_every > 0 and i % gz_every == 1 % gz_every
        data = _ndjson(chunk)
        if gz:
            data = gzip.compress(data, compresslevel=1, mtime=0)
        ext = "jsonl.gz" if gz else "jsonl"
        write(f"raw/shots/plant={plant_id}/date={d}/shots-{day:%Y%m%d}-{i + 1:04d}.{ext}", data)
    del shots

    # ---------------------------------------------------------------- quality inspections
    hours = span_us // 3_600_000_000
    h_machine = np.repeat(m_no, hours)
    h_index = np.tile(np.arange(hours), machines)
    inspected = (per_machine // hours) * cavities[h_machine - 1]
    rejected = rng.binomial(inspected, 0.02)
    inspections = pl.DataFrame(
        {
            "n": h_machine,
            "us": start_us + h_index * 3_600_000_000,
            "inspected": inspected,
            "rejected": rejected,
        }
    ).select(
        _id_col(f"{plant_id}-M", pl.col("n")).alias("machine_id"),
        pl.lit(plant_id).alias("plant_id"),
        _local_ts(pl.col("us"), timezone).alias("hour_start"),
        _id_col("PT-", pl.col("n")).alias("part_id"),
        pl.col("inspected").alias("inspected_count"),
        pl.col("rejected").alias("rejected_count"),
        pl.when(pl.col("rejected") > 0)
        .then(pl.lit("SHORT_SHOT"))
        .otherwise(pl.lit(None, pl.String))
        .alias("defect_code"),
    )
    write(
        f"raw/quality_inspections/plant={plant_id}/date={d}/inspections-{day:%Y%m%d}-0001.csv",
        _csv(inspections),
    )
    return {
        "plant_id": plant_id,
        "date": d,
        "shots": n_shots,
        "machine_events": events.height,
        "quality_inspections": inspections.height,
        "reference": ref_rows,
        "files": files,
    }
