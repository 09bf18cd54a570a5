"""What every benchmark shares: the plant-day it runs on and the timed report line.

Each stage prints rows, seconds, rows per second and the peak resident memory of the
process so far. Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from datetime import date
from typing import Any

PLANT = "P01"
DAY = date(2024, 3, 4)
TZ = "Europe/Berlin"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, rows: Callable[[Any], int], fn: Callable[[], Any], report: list) -> Any:
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    n = rows(out)
    report.append((label, n, seconds))
    print(
        f"{label:<28} {n:>12,} rows {seconds:8.2f} s {n / seconds if seconds else 0:>14,.0f} rows/s   peak RSS {peak_rss_mb():,.0f} MB",
        flush=True,
    )
    return out
