"""Where a step's time goes: seconds per phase, recorded on every materialization.

The Delta IO manager times computing and writing the chunks of an output (``seconds_
compute``, ``seconds_write``); bronze adds reading the landed files and parsing them
(``seconds_read_files``, ``seconds_parse``); silver sensor readings adds the Polars plan
(parse, validate, de-duplicate: one fused plan, ``seconds_transform``) and the contract
checks (``seconds_checks``). The UI plots them per partition over time;
``manufacturing-assets benchmark --real-path --profile`` prints them after a run.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
PREFIX = "seconds_"


class Stopwatch:
    """Seconds accumulated per phase."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, phase: str, seconds: float) -> None:
        self.seconds[phase] = self.seconds.get(phase, 0.0) + seconds

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)

    def each(self, name: str, items: Iterable[T]) -> Iterator[T]:
        """``items``, with the time spent producing each one counted under ``name``."""
        iterator = iter(items)
        while True:
            start = time.perf_counter()
            try:
                item = next(iterator)
            except StopIteration:
                self.add(name, time.perf_counter() - start)
                return
            self.add(name, time.perf_counter() - start)
            yield item

    def metadata(self) -> dict[str, float]:
        return {PREFIX + k: round(v, 3) for k, v in self.seconds.items()}
