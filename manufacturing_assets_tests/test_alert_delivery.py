"""Alerts reach people exactly once: the alert sensor (``sensors/check_alerts.py``) against
real channels started here: a local HTTP server standing in for the Slack Web API
(``dagster-slack``'s client pointed at it), a webhook server that fails its first attempts,
and an SMTP sink (``aiosmtpd``). The instance is a real one under a temporary DAGSTER_HOME
(on /dev/shm when there is one: SQLite writes each event in its own transaction), holding
1,000 failed evaluations of one check, 3 failed WARN evaluations of another and a failed run.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from dagster import (
    AssetCheckEvaluation,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    DagsterInstance,
    Definitions,
    SensorResult,
    SkipReason,
    asset,
    build_sensor_context,
    materialize,
)

from manufacturing_assets.partitions import PLANT_DIMENSION, plant_date_partitions
from manufacturing_assets.resources.notifier import Notifier
from manufacturing_assets.sensors.check_alerts import evaluate_alerts

MANY = 1000
UI = "http://dagster.test:3000"
PLANTS = 10


def many_partition(i: int) -> str:
    """1,000 distinct plant-days: 10 plants x 100 days."""
    day = 1 + i // PLANTS
    return f"2024-{1 + (day - 1) // 28:02d}-{1 + (day - 1) % 28:02d}|P{i % PLANTS:02d}"


@asset(key=["silver", "x"], check_specs=[AssetCheckSpec("range", asset=["silver", "x"])])
def silver_x():
    return None


@asset(key=["marts", "z"], check_specs=[AssetCheckSpec("share", asset=["marts", "z"])])
def marts_z():
    return None


@asset(key=["gold", "y"], partitions_def=plant_date_partitions)
def gold_y() -> None:
    raise RuntimeError("disk full while writing gold/y")


REPO = Definitions(assets=[silver_x, marts_z, gold_y]).get_repository_def()


def failed(asset_key: list[str], check: str, partition: str, severity: AssetCheckSeverity, **meta):
    return AssetCheckEvaluation(
        asset_key=AssetKey(asset_key),
        check_name=check,
        passed=False,
        partition=partition,
        severity=severity,
        metadata=meta,
        description=meta.pop("description", None),
    )


def home_dir(tmp: Path) -> tempfile.TemporaryDirectory:
    shm = Path("/dev/shm")
    return tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else tmp)


@pytest.fixture(scope="module")
def failures(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A DAGSTER_HOME holding the failures (read-only for the tests: the sensor is called
    directly, its observations are returned, not stored)."""
    with (
        home_dir(tmp_path_factory.mktemp("alerts")) as home,
        DagsterInstance.local_temp(home) as instance,
    ):
        for i in range(MANY):
            instance.report_runless_asset_event(
                failed(
                    ["silver", "x"], "range", many_partition(i), AssetCheckSeverity.ERROR,
                    failures=i + 1, rows=100,
                )
            )  # fmt: skip
        for plant, share in (("P02", 0.125), ("P03", 0.25), ("P04", 0.5)):
            instance.report_runless_asset_event(
                failed(
                    ["marts", "z"], "share", f"2024-03-04|{plant}", AssetCheckSeverity.WARN,
                    description=f"{share:.2%} of the plant-day's records were quarantined",
                    quarantine_share=share, threshold=0.05, quarantined=int(share * 40),
                )
            )  # fmt: skip
        instance.add_dynamic_partitions(PLANT_DIMENSION, ["P01"])
        run = materialize(
            [gold_y], partition_key="2024-03-04|P01", instance=instance, raise_on_error=False
        )
        assert not run.success
        yield {"home": home, "run_id": run.run_id}


# ---------------------------------------------------------------- channels


@dataclass
class Recorder:
    """A local HTTP server: records POST bodies; ``fail`` decides per attempt (1-based)."""

    fail: Any = lambda attempt: False
    received: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""


@contextmanager
def http_server(recorder: Recorder) -> Iterator[Recorder]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with recorder.lock:
                recorder.attempts += 1
                refuse = recorder.fail(recorder.attempts)
                if not refuse:
                    recorder.received.append(
                        {
                            "path": self.path,
                            "auth": self.headers.get("Authorization"),
                            "body": json.loads(body),
                        }
                    )
            reply = b'{"ok": true, "channel": "C1", "ts": "1.0"}'
            self.send_response(500 if refuse else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()


class Sink:
    def __init__(self) -> None:
        self.mails: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.mails.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def tick(home: str, notifier: Notifier, cursor: str | None, now: float = 1000.0):
    """One evaluation of the sensor on the instance under ``home`` (opened for the tick)."""
    with DagsterInstance.local_temp(home) as instance:  # the same storage, opened again
        context = build_sensor_context(
            instance=instance, cursor=cursor, repository_def=REPO, resources={}
        )
        result = evaluate_alerts(context, notifier, now=now)
        return result, context.cursor


def webhook_alerts(recorder: Recorder) -> list[dict[str, Any]]:
    return [a for r in recorder.received for a in r["body"]["alerts"]]


EXPECTED_MESSAGES = MANY // 50 + 1 + 1  # silver/x in parts of 50, marts/z, the run


def test_each_failure_is_sent_once_to_every_channel_across_ticks_and_a_restart(
    failures: dict[str, Any], smtp: tuple[Sink, int]
) -> None:
    sink, port = smtp
    with (
        http_server(Recorder()) as slack,
        http_server(Recorder(fail=lambda attempt: attempt <= 2)) as hook,
    ):
        notifier = Notifier(
            kind="log,webhook,slack,email",
            webhook_url=f"{hook.url}/hook",
            slack_token="xoxb-test-token",
            slack_base_url=f"{slack.url}/api/",
            slack_channels={"ERROR": "#plant-data-alerts", "WARN": "#plant-data-warn"},
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_from="dagster@factory.example",
            smtp_to=["oncall@factory.example"],
            backoff_s=0,
            ui_base_url=UI,
        )
        home = failures["home"]
        # tick 1: Slack and e-mail take everything; the webhook refuses its first attempt
        result, cursor = tick(home, notifier, None)
        assert isinstance(result, SensorResult)
        assert len(slack.received) == len(sink.mails) == EXPECTED_MESSAGES
        assert (hook.attempts, hook.received) == (1, [])  # a channel down waits for next tick
        # tick 2: the webhook refuses again; nothing else is sent again
        _, cursor = tick(home, notifier, cursor)
        assert (hook.attempts, hook.received) == (2, [])
        assert len(slack.received) == len(sink.mails) == EXPECTED_MESSAGES
        # the daemon restarts (a new instance object on the same storage, the stored cursor)
        _, cursor = tick(home, notifier, cursor)
        assert len(hook.received) == EXPECTED_MESSAGES
        result, cursor = tick(home, notifier, cursor)
        assert isinstance(result, SkipReason)
        assert len(slack.received) == len(sink.mails) == len(hook.received) == EXPECTED_MESSAGES

    # every failure exactly once per channel
    expected = {many_partition(i) for i in range(MANY)}
    hooked = [a["partition"] for a in webhook_alerts(hook) if a["asset"] == "silver/x"]
    assert len(hooked) == MANY and set(hooked) == expected
    slack_text = "\n".join(r["body"]["text"] for r in slack.received)
    mail_text = "\n".join(m.get_content() for m in sink.mails)
    for i in (0, 1, 499, 999):
        plant, day = many_partition(i).split("|")[1], many_partition(i).split("|")[0]
        line = f"- [ERROR] check range [plant {plant}, {day}] | failed: failures={i + 1}, rows=100"
        assert slack_text.count(line + " | no run") == 1
        assert mail_text.count(line + " | no run") == 1

    # Slack: one channel per severity, the bot token, the WARN message as people read it
    assert {r["path"] for r in slack.received} == {"/api/chat.postMessage"}
    assert {r["auth"] for r in slack.received} == {"Bearer xoxb-test-token"}
    [warn] = [r["body"] for r in slack.received if r["body"]["channel"] == "#plant-data-warn"]
    assert warn["text"] == (
        "*[WARN] 3 failed check(s) (share) on marts/z [3 plant-days]*\n"
        "- [WARN] check share [plant P02, 2024-03-04] | 12.50% of the plant-day's records were "
        "quarantined | failed: quarantine_share=0.125, quarantined=5 | no run\n"
        "- [WARN] check share [plant P03, 2024-03-04] | 25.00% of the plant-day's records were "
        "quarantined | failed: quarantine_share=0.25, quarantined=10 | no run\n"
        "- [WARN] check share [plant P04, 2024-03-04] | 50.00% of the plant-day's records were "
        "quarantined | failed: quarantine_share=0.5, quarantined=20 | no run"
    )

    # the failed run: one message naming asset, plant, date, step, error and the run link
    run_id = failures["run_id"]
    [run_mail] = [m for m in sink.mails if "gold/y" in m["Subject"]]
    assert run_mail["Subject"] == "[ERROR] 1 failed run(s) on gold/y [plant P01, 2024-03-04]"
    assert run_mail["To"] == "oncall@factory.example"
    body = run_mail.get_content()
    assert "run failed at gold__y [plant P01, 2024-03-04]" in body
    assert (
        "job __ephemeral_asset_job__: gold__y: RuntimeError: disk full while writing gold/y" in body
    )
    assert f"{UI}/runs/{run_id}" in body
    [run_alert] = [a for a in webhook_alerts(hook) if a["kind"] == "run"]
    assert (run_alert["plant_id"], run_alert["production_date"]) == ("P01", "2024-03-04")
    assert run_alert["run_url"] == f"{UI}/runs/{run_id}"
    # each message has a stable id (receivers can drop a repeat); the ids are distinct
    assert len({r["body"]["id"] for r in hook.received}) == EXPECTED_MESSAGES


def test_a_channel_failing_halfway_through_a_tick_loses_and_repeats_nothing(
    failures: dict[str, Any],
) -> None:
    state = {"down": False}

    def fail(attempt: int) -> bool:
        if attempt == 6:
            state["down"] = True  # the 6th request finds the server down
        return state["down"]

    with http_server(Recorder(fail=fail)) as hook:
        notifier = Notifier(kind="webhook", webhook_url=f"{hook.url}/hook", backoff_s=0)
        result, cursor = tick(failures["home"], notifier, None)
        assert len(hook.received) == 5 and hook.attempts == 6
        assert isinstance(result, SensorResult)
        # delivered: the run's message (ERROR, gold/y sorts first) and 4 x 50 check failures
        # of silver/x, each recorded on its plant-day as delivered; nothing else
        assert [r["body"]["asset"] for r in hook.received] == ["gold/y"] + ["silver/x"] * 4
        delivered = {o.partition for o in result.asset_events}
        assert len(delivered) == len(result.asset_events) == 4 * 50 and all(
            o.metadata["delivery"].value == "delivered" for o in result.asset_events
        )
        state["down"] = False
        _, cursor = tick(failures["home"], notifier, cursor)
        _, cursor = tick(failures["home"], notifier, cursor)
    ids = [r["body"]["id"] for r in hook.received]
    assert len(ids) == len(set(ids)) == EXPECTED_MESSAGES
    alerts = webhook_alerts(hook)
    assert len(alerts) == MANY + 3 + 1
    assert len({a["key"] for a in alerts}) == len(alerts)


def test_a_channel_that_stays_down_is_retried_with_back_off_then_undelivered(
    tmp_path: Path,
) -> None:
    with home_dir(tmp_path) as home, http_server(Recorder(fail=lambda attempt: True)) as hook:
        with DagsterInstance.local_temp(home) as instance:
            instance.report_runless_asset_event(
                failed(
                    ["silver", "x"], "range", "2024-03-04|P01", AssetCheckSeverity.ERROR, failures=2
                )
            )
        notifier = Notifier(
            kind="webhook,log", webhook_url=f"{hook.url}/hook", max_attempts=3, backoff_s=60
        )
        first, cursor = tick(home, notifier, None, now=1000)
        assert hook.attempts == 1
        # the log channel delivered at once; the webhook is pending, not undelivered yet
        [logged] = first.asset_events
        assert logged.metadata["notifier"].value == "log"
        assert json.loads(cursor)["pending"][0]["next_at"] == 1060
        _, cursor = tick(home, notifier, cursor, now=1059)  # back-off: not yet
        assert hook.attempts == 1
        _, cursor = tick(home, notifier, cursor, now=1060)  # 2nd attempt; next wait doubles
        assert hook.attempts == 2 and json.loads(cursor)["pending"][0]["next_at"] == 1180
        _, cursor = tick(home, notifier, cursor, now=1179)
        assert hook.attempts == 2
        last, cursor = tick(home, notifier, cursor, now=1180)  # 3rd and last attempt
        assert hook.attempts == 3 and json.loads(cursor)["pending"] == []
        [given_up] = last.asset_events
        meta = {k: v.value for k, v in given_up.metadata.items()}
        assert meta["notifier"] == "webhook"
        assert meta["delivery"].startswith("undelivered: HTTPError: HTTP Error 500")
        assert (given_up.partition, meta["plant_id"], meta["check"]) == (
            "2024-03-04|P01",
            "P01",
            "range",
        )
        result, _ = tick(home, notifier, cursor, now=5000)
        assert isinstance(result, SkipReason) and hook.attempts == 3


def test_an_evaluation_of_a_run_still_going_is_read_once_it_lands() -> None:
    """Execution records are created when a run plans a check and updated when it is
    evaluated: a record planned by a running run holds the watermark back, the evaluations
    above it are remembered, and the late one is read once when it lands."""
    from types import SimpleNamespace

    from dagster import AssetCheckKey, AssetCheckSeverity
    from dagster._core.storage.asset_check_execution_record import (
        AssetCheckExecutionRecordStatus as Status,
    )

    from manufacturing_assets.ops.feed import new_evaluations

    key = AssetCheckKey(AssetKey(["silver", "x"]), "range")

    def record(i: int, status: Status, run: str) -> SimpleNamespace:
        evaluation = failed(["silver", "x"], "range", f"2024-03-0{i}|P01", AssetCheckSeverity.ERROR)
        event = SimpleNamespace(
            dagster_event=SimpleNamespace(event_specific_data=evaluation), timestamp=1.0
        )
        return SimpleNamespace(id=i, status=status, run_id=run, partition=None, event=event)

    records = {1: record(1, Status.FAILED, "a"), 2: record(2, Status.PLANNED, "b")}
    records[3] = record(3, Status.FAILED, "c")
    runs = {"b": SimpleNamespace(is_finished=False)}

    def history(check_key, limit, cursor=None):
        ids = sorted((i for i in records if cursor is None or i < cursor), reverse=True)
        return [records[i] for i in ids[:limit]]

    instance = SimpleNamespace(
        event_log_storage=SimpleNamespace(get_asset_check_execution_history=history),
        get_run_by_id=lambda run_id: runs.get(run_id),
    )
    got, cursor = new_evaluations(instance, [key], {})
    assert [e.id for e in got] == [1, 3]
    assert cursor == {"silver/x:range": {"w": 1, "done": [3]}}
    got, cursor = new_evaluations(instance, [key], cursor)
    assert got == []  # run b still going: nothing read twice
    records[2] = record(2, Status.FAILED, "b")  # run b evaluates its check
    runs["b"] = SimpleNamespace(is_finished=True)
    got, cursor = new_evaluations(instance, [key], cursor)
    assert [e.id for e in got] == [2]
    assert cursor == {"silver/x:range": {"w": 3, "done": []}}
    assert new_evaluations(instance, [key], cursor)[0] == []
