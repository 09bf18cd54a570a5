"""A local Snowflake emulator for tests and benchmarks: a fakesnow server in its own process.

``fakesnow -s`` serves Snowflake's HTTP protocol from an in-memory DuckDB; the real
``snowflake-connector-python`` talks to it with ``host``/``port``/``protocol=http``. It runs
in a process group of its own (its memory is not the client's; stopping it stops all of it).

Known limits of fakesnow 0.12 met by the warehouse code (real Snowflake has none of them):
an error inside ``COPY`` or a ``MERGE`` inside an explicit transaction returns HTTP 500,
which the connector retries until its network timeout; table comments with a quote break
(descriptions are written with typographic apostrophes); ``COPY`` cannot load a temporary
table (dimensions are loaded through a transient table).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class FakesnowServer:
    host: str
    port: int
    pid: int
    log: Path

    def env(self, database: str, **extra: str) -> dict[str, str]:
        """The environment selecting the Snowflake warehouse on this server
        (``environment.py``); the credentials are fakesnow's (any value signs in)."""
        return {
            "MA_WAREHOUSE": "snowflake",
            "SNOWFLAKE_ACCOUNT": "fakesnow",
            "SNOWFLAKE_USER": "fake",
            "SNOWFLAKE_PASSWORD": "snow",
            "SNOWFLAKE_DATABASE": database,
            "SNOWFLAKE_HOST": self.host,
            "SNOWFLAKE_PORT": str(self.port),
            "SNOWFLAKE_PROTOCOL": "http",
            "SNOWFLAKE_NETWORK_TIMEOUT": "30",
            **extra,
        }

    def peak_rss_mb(self) -> float | None:
        """The server process's peak resident memory (Linux), MB."""
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None


@contextlib.contextmanager
def fakesnow_server(
    workdir: Path, host: str = "127.0.0.1", port: int | None = None, timeout_s: float = 30.0
) -> Iterator[FakesnowServer]:
    """Start ``fakesnow -s`` on a free port; stop its process group on exit."""
    port = port or free_port(host)
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"fakesnow-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fakesnow", "-s", "-p", str(port), "--host", host],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"fakesnow exited ({proc.returncode}): {log.read_text()[-2000:]}"
                )
            with contextlib.closing(socket.socket()) as sock:
                if sock.connect_ex((host, port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"fakesnow did not listen on {host}:{port} in {timeout_s} s")
            time.sleep(0.1)
        yield FakesnowServer(host, port, proc.pid, log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
