"""One Kafka landing pass from a shell (tests, operators), outside Dagster::

    python -m manufacturing_assets.kafka --bootstrap HOST:PORT --landing-root DIR
        [--group G] [--topic topic=stream ...] [--idle-timeout S] [--progress]

``--crash-after STAGE:N`` is a fault-injection switch for tests (SIGKILL after a stage).
"""

import argparse
import json
import logging
import os
import signal
import sys
from typing import Any

from manufacturing_assets.kafka.files import FORMATS
from manufacturing_assets.kafka.lander import LandingOptions, run_landing_pass
from manufacturing_assets.kafka.settings import KafkaSettings
from manufacturing_assets.resources.landing_zone import LandingZone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m manufacturing_assets.kafka", description="One Kafka landing pass."
    )
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--landing-root", required=True)
    parser.add_argument("--group", default=None)
    parser.add_argument(
        "--topic", action="append", default=None, help="topic=stream (repeatable; default contract)"
    )
    parser.add_argument("--session-timeout-ms", type=int, default=45_000)
    parser.add_argument("--max-messages", type=int, default=None)
    parser.add_argument("--idle-timeout", type=float, default=10.0)
    parser.add_argument("--max-seconds", type=float, default=900.0)
    parser.add_argument("--flush-messages", type=int, default=50_000)
    parser.add_argument("--flush-interval", type=float, default=30.0)
    parser.add_argument("--compression", choices=sorted(FORMATS), default="none")
    parser.add_argument("--poll-batch", type=int, default=10_000)
    parser.add_argument("--progress", action="store_true", help="print one JSON line per stage")
    parser.add_argument(
        "--crash-after",
        metavar="STAGE:N",
        help="fault injection for tests: SIGKILL this process right after the N-th STAGE "
        "(intent, file_written, durable, committed)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    kwargs: dict[str, Any] = {
        "bootstrap_servers": args.bootstrap,
        "session_timeout_ms": args.session_timeout_ms,
    }
    if args.group:
        kwargs["group_id"] = args.group
    if args.topic:
        kwargs["topics"] = dict(t.split("=", 1) for t in args.topic)
    settings = KafkaSettings(**kwargs)

    crash_stage, _, crash_n = (args.crash_after or "").partition(":")
    seen: dict[str, int] = {}

    def progress(stage: str, info: dict[str, Any]) -> None:
        if args.progress:
            print(json.dumps({"stage": stage, **info}, default=str), flush=True)
        seen[stage] = seen.get(stage, 0) + 1
        if stage == crash_stage and seen[stage] == int(crash_n or 1):
            os.kill(os.getpid(), signal.SIGKILL)

    report = run_landing_pass(
        settings,
        LandingZone(root=args.landing_root),
        LandingOptions(
            max_messages=args.max_messages,
            idle_timeout_s=args.idle_timeout,
            max_seconds=args.max_seconds,
            flush_messages=args.flush_messages,
            flush_interval_s=args.flush_interval,
            compression=args.compression,
            poll_batch=args.poll_batch,
        ),
        hooks=progress if args.progress or args.crash_after else None,
    )
    if not args.progress:
        print(json.dumps(report.summary(), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
