"""The unit a stage works on: one plant, its time zone and the production dates of a run."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

import narwhals as nw
import polars as pl

from manufacturing_assets.ingest.routing import plant_id_problem


class Engine(Protocol):
    """Turns Polars frames into the engine's lazy frames and collects results back
    (``resources/engine.py``: Polars or Spark)."""

    def lazy(self, frame: pl.DataFrame | pl.LazyFrame) -> nw.LazyFrame[Any]: ...

    def collect(self, frame: nw.LazyFrame[Any]) -> pl.DataFrame: ...


class UnknownPlantError(ValueError):
    """A partition names a plant that master data gives no time zone."""


class UnsafePlantIdError(ValueError):
    """A partition names a plant id that cannot be a landing folder (path characters ...)."""


def require_safe_plant_ids(plants: Iterable[str]) -> None:
    """Raise :class:`UnsafePlantIdError` naming every plant id that does not match
    ``ingest/routing.PLANT_ID_PATTERN``; call it before building a landing path from a
    partition, so no partition value can make a reader leave the landing root."""
    bad = {p: plant_id_problem(p) for p in plants if plant_id_problem(p)}
    if bad:
        raise UnsafePlantIdError(
            "refusing partition(s) with unsafe plant ids: "
            + "; ".join(f"{p!r}: {why}" for p, why in sorted(bad.items()))
            + " (remove the dynamic partition; master data with such ids is refused)"
        )


@dataclass(frozen=True)
class PlantDays:
    """One plant of a run: its IANA time zone and the production dates to compute."""

    plant: str
    timezone: str
    dates: tuple[date, ...]


def plant_days(
    targets: Mapping[str, Sequence[date]], timezones: Mapping[str, str]
) -> list[PlantDays]:
    """``{plant: dates}`` (a run's partitions) -> one :class:`PlantDays` per plant.

    Raises :class:`UnsafePlantIdError` for a plant id that could not be a partition, and
    :class:`UnknownPlantError` naming every plant without a time zone.
    """
    require_safe_plant_ids(targets)
    unknown = [p for p in targets if p not in timezones]
    if unknown:
        raise UnknownPlantError(
            f"plant(s) {', '.join(unknown)} have no timezone in master data `reference/plants`; "
            "land a plants snapshot naming them and materialize reference/plants first"
        )
    return [PlantDays(p, timezones[p], tuple(sorted(d))) for p, d in sorted(targets.items())]


def rows_of_plant(
    frame: pl.DataFrame, plant: str, columns: Iterable[str] | None = None
) -> pl.DataFrame:
    """The plant's rows (``plant_id``), optionally only ``columns``."""
    rows = frame.filter(pl.col("plant_id") == plant)
    return rows.select(list(columns)) if columns is not None else rows


def stack(frames: Sequence[pl.DataFrame], empty: pl.DataFrame) -> pl.DataFrame:
    """Concatenate per-plant results (``empty`` when there are none)."""
    return pl.concat(frames, how="diagonal_relaxed") if frames else empty
