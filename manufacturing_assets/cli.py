"""`manufacturing-assets`: generate sample data, run the graph, benchmark, simulate Kafka,
replay dead letters and quarantine."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from pathlib import Path


def _settings(args: argparse.Namespace):
    if getattr(args, "data_dir", None):
        os.environ["MA_DATA_DIR"] = str(Path(args.data_dir).resolve())
    from manufacturing_assets.environment import Settings

    return Settings.from_env()


def cmd_generate(args: argparse.Namespace) -> int:
    from manufacturing_assets.resources.landing_zone import LandingZone
    from manufacturing_assets_tools.generator import GeneratorConfig, generate_landing_zone

    settings = _settings(args)
    root = args.out or settings.landing_root
    config = GeneratorConfig(
        seed=args.seed, start_date=date.fromisoformat(args.start), days=args.days
    )
    landing = settings.landing_zone() if not args.out else LandingZone(root=root)
    manifest = generate_landing_zone(landing, config)
    print(f"landing zone written to {root}")
    print(json.dumps(manifest.get("bad_input", {}), indent=2, default=str))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from manufacturing_assets.pipeline import dagster_instance, format_summary, run_pipeline

    settings = _settings(args)
    landing = settings.landing_zone()
    if args.generate and not landing.exists("manifest.json"):
        from manufacturing_assets_tools.generator import GeneratorConfig, generate_landing_zone

        print(f"generating a sample landing zone in {settings.landing_root} ...")
        generate_landing_zone(landing, GeneratorConfig())
    instance = dagster_instance(settings)
    report = run_pipeline(settings, instance)
    print(format_summary(settings, report))
    return 1 if report.failed_steps else 0


def cmd_benchmark(args: argparse.Namespace) -> int:
    from manufacturing_assets_tools.benchmarks.command import run_benchmark

    run_benchmark(args)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from manufacturing_assets_tools.simulator import run_simulate_command

    _settings(args)
    return run_simulate_command(args)


def cmd_replay(args: argparse.Namespace) -> int:
    from manufacturing_assets.ops.replay import Selection, parse_set_fields, replay
    from manufacturing_assets.resources.replay_ledger import ReplayLedger

    settings = _settings(args)
    selection = Selection(
        streams=args.stream or None,
        plants=args.plant or None,
        dates=[date.fromisoformat(d) for d in args.date or []] or None,
        reasons=args.reason or None,
    )
    ledger = ReplayLedger(lake_root=settings.lake_root, s3=settings._s3_for(settings.lake_root))
    report = replay(
        args.kind,
        settings.landing_zone(),
        ledger,
        selection,
        parse_set_fields(args.set or []),
        dry_run=args.dry_run,
    )
    print(json.dumps(report.summary(), default=str) if args.json else report.format())
    return 0


def main(argv: list[str] | None = None) -> int:
    import warnings

    warnings.filterwarnings("ignore", message=".*(preview|beta|deprecat).*", module="dagster.*")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    parser = argparse.ArgumentParser(prog="manufacturing-assets", description=__doc__)
    parser.add_argument("--data-dir", help="data folder (default $MA_DATA_DIR or ./data)")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser(
        "generate", help="write a sample landing zone (all streams, master data, bad input)"
    )
    gen.add_argument("--out", help="landing root (default $MA_LANDING_ROOT)")
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument(
        "--start", default="2024-03-30", help="first date (default includes a DST day)"
    )
    gen.add_argument("--days", type=int, default=3)
    gen.set_defaults(func=cmd_generate)

    run = sub.add_parser(
        "run", help="generate sample data if absent and materialize every partition"
    )
    run.add_argument("--no-generate", dest="generate", action="store_false")
    run.set_defaults(func=cmd_run)

    bench = sub.add_parser(
        "benchmark", help="time bronze, silver and gold; print rows/s and peak memory"
    )
    bench.add_argument("--readings", type=int, default=10_000_000)
    bench.add_argument("--files", type=int, default=20)
    bench.add_argument(
        "--engine",
        choices=("polars", "spark"),
        default="polars",
        help="sensor-readings benchmark on Spark (issue 14; master: MA_SPARK_MASTER, default "
        "local[2]): seconds per stage, driver and JVM peak memory",
    )
    bench.add_argument("--workdir", help="scratch folder (default: a temporary folder)")
    bench.add_argument(
        "--production",
        action="store_true",
        help="issue 3: 1M shots + machine events + inspections of one plant-day, landing -> "
        "facts (skips the sensor-readings benchmark)",
    )
    bench.add_argument(
        "--real-path",
        action="store_true",
        help="issue 10: `run --no-generate` on N readings of one plant-day, through Dagster",
    )
    bench.add_argument(
        "--backfill",
        action="store_true",
        help="issue 10: 3 plants x --days days of the sample, the whole graph; s per plant-day",
    )
    bench.add_argument("--days", type=int, default=60, help="days of --backfill")
    bench.add_argument(
        "--profile",
        action="store_true",
        help="with --real-path or --backfill: print where each asset's time went (read, "
        "parse, transform, checks, write), from the run's materialization metadata",
    )
    bench.add_argument(
        "--warehouse",
        action="store_true",
        help="issue 11: publish 1M marts/fact_shot rows from Delta to DuckDB and to a fakesnow "
        "(Snowflake emulator) server; rows/s and peak memory",
    )
    bench.set_defaults(func=cmd_benchmark)

    sim = sub.add_parser(
        "simulate", help="produce sample events into the Kafka topics at a rate (docs/kafka.md)"
    )
    from manufacturing_assets_tools.simulator import add_simulate_arguments

    add_simulate_arguments(sim)
    sim.set_defaults(func=cmd_simulate)

    rep = sub.add_parser(
        "replay",
        help="re-land dead-lettered Kafka records or quarantined rows after a fix, once each "
        "(docs/playbooks/replay.md)",
    )
    rep.add_argument("kind", choices=["quarantine", "deadletters"])
    rep.add_argument("--stream", action="append", help="stream (repeatable; default all)")
    rep.add_argument("--plant", action="append", help="plant id (repeatable; default all)")
    rep.add_argument("--date", action="append", help="landing date YYYY-MM-DD (repeatable)")
    rep.add_argument("--reason", action="append", help="quarantine reason (repeatable)")
    rep.add_argument(
        "--set",
        action="append",
        metavar="FIELD=VALUE",
        help="the fix: set FIELD on every selected record (VALUE as JSON if it parses)",
    )
    rep.add_argument("--dry-run", action="store_true", help="show what would be re-landed")
    rep.add_argument("--json", action="store_true", help="print the report as JSON")
    rep.set_defaults(func=cmd_replay)

    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
