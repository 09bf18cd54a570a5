"""Star-schema invariants as plain Polars functions (used by the mart checks)."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from manufacturing_assets.transforms.dimensions import DimensionSpec


def current_version_violations(
    dim: pl.DataFrame, reference: pl.DataFrame, spec: DimensionSpec
) -> pl.DataFrame:
    """Natural keys breaking "exactly one current row per key of the latest snapshot, none
    for keys that are not in it": ``key``, ``current_rows``, ``in_latest_snapshot``."""
    key = spec.key
    if dim.width == 0:
        dim = pl.DataFrame(schema={key: pl.String, "is_current": pl.Boolean})
    latest: set[str] = set()
    if reference.height:
        last = reference["snapshot_date"].max()
        latest = set(
            reference.filter(pl.col("snapshot_date") == last)[key]
            .cast(pl.String)
            .str.strip_chars()
            .drop_nulls()
            .to_list()
        ) - {""}
    current = dim.group_by(key).agg(pl.col("is_current").cast(pl.Int64).sum().alias("current_rows"))
    expected = pl.DataFrame({key: sorted(latest)}, schema={key: pl.String})
    return (
        current.join(
            expected.with_columns(pl.lit(True).alias("in_latest_snapshot")),
            on=key,
            how="full",
            coalesce=True,
        )
        .with_columns(
            pl.col("current_rows").fill_null(0),
            pl.col("in_latest_snapshot").fill_null(False),
        )
        .filter(
            pl.when(pl.col("in_latest_snapshot"))
            .then(pl.col("current_rows") != 1)
            .otherwise(pl.col("current_rows") != 0)
        )
        .sort(key)
    )


def overlapping_versions(dim: pl.DataFrame, key: str) -> pl.DataFrame:
    """Versions whose interval overlaps the previous version of the same key (or follow
    an open one): ``key``, ``valid_from``, ``previous_valid_to``."""
    if dim.height == 0:
        return pl.DataFrame(
            schema={key: pl.String, "valid_from": pl.Date, "previous_valid_to": pl.Date}
        )
    ordered = dim.sort(key, "valid_from").with_columns(
        pl.col("valid_to").shift(1).over(key).alias("previous_valid_to"),
        pl.col("valid_from").rank("ordinal").over(key).alias("_n"),
    )
    return ordered.filter(
        (pl.col("_n") > 1)
        & (
            pl.col("previous_valid_to").is_null()
            | (pl.col("previous_valid_to") > pl.col("valid_from"))
        )
    ).select(key, "valid_from", "previous_valid_to")


def referential_violations(
    fact: pl.DataFrame, dims: Mapping[str, pl.DataFrame], references: Mapping[str, tuple[str, str]]
) -> dict[str, dict[str, int]]:
    """Per surrogate key column of ``fact``: rows whose key is not in the dimension
    (``dangling``), whose natural key has no key (``missing``: master data as of the date
    does not list it), and whose key is a version not valid on the row's production date
    (``not_valid_on_date``; contract 7, a date before the first snapshot takes the version
    in that snapshot)."""
    out: dict[str, dict[str, int]] = {}
    for sk, (dim_name, natural) in references.items():
        dim = dims[dim_name]
        dim_sk = f"{dim_name}_sk"
        counts = {"dangling": 0, "missing": 0, "not_valid_on_date": 0}
        if fact.height == 0:
            out[sk] = counts
            continue
        known = dim[dim_sk] if dim.width else pl.Series(dim_sk, [], pl.Int64)
        counts["dangling"] = fact.filter(
            pl.col(sk).is_not_null() & ~pl.col(sk).is_in(known.implode())
        ).height
        counts["missing"] = fact.filter(pl.col(natural).is_not_null() & pl.col(sk).is_null()).height
        if dim.width and "valid_from" in dim.columns:
            versions = dim.select(
                pl.col(dim_sk).alias(sk),
                "valid_from",
                "valid_to",
                pl.col("valid_from").min().alias("_first"),  # the first snapshot
            )
            d = pl.col("production_date")
            valid = (
                (pl.col("valid_from") <= d)
                | ((d < pl.col("_first")) & (pl.col("valid_from") == pl.col("_first")))
            ) & (pl.col("valid_to").is_null() | (d < pl.col("valid_to")))
            counts["not_valid_on_date"] = (
                fact.select(sk, "production_date").join(versions, on=sk).filter(~valid).height
            )
        out[sk] = counts
    return out
