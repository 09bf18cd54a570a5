"""Sums and means of doubles that do not depend on the order of the rows.

A floating-point sum depends on the order its terms are added in, and neither engine fixes
that order: Polars adds per thread chunk, Spark per partition and then the partial sums,
and the rows arrive in whatever order the Delta files and joins produce. A gold value
then differs in its last bits from run to run (``gold/loss_daily.scrap_cost`` did) and
between Polars and Spark.

:func:`exact_sum` adds integers instead, which is exact in any order. Every finite value
``x`` with ``|x| < 2**60`` is split, without rounding, into four 30-bit limbs::

    x = a * 2**30 + b + c * 2**-30 + d * 2**-60 + (bits below 2**-60, dropped)

(integer parts are taken with a cast, which truncates toward zero on both engines; the
remainders are exact in IEEE arithmetic because they are made of bits of ``x`` itself, and
multiplying by a power of two is exact). The limbs are summed as Int64 (exact; |limb| <
2**30, so up to 2**33 rows per group) and the four integer sums are put together in one
fixed order. The result is within a few units in the last place of
the exact sum of the values, the same on every run, for every row order and on both
engines. Values that cannot be split (|x| >= 2**60, inf, NaN) are added as doubles on
their own: absent in practice, and ``inf``/``NaN`` still propagate.

Nulls add nothing (a group of nulls sums to 0.0), as ``fill_null(0.0).sum()`` did.
"""

from __future__ import annotations

import narwhals as nw

_LIMB = 2.0**30
_SPLIT_LIMIT = 2.0**60


def _limbs(x: nw.Expr) -> list[nw.Expr]:
    """``[a, b, c, d]`` (Int64) with ``x = a*2**30 + b + c*2**-30 + d*2**-60`` (+ what is
    below 2**-60), for ``|x| < 2**60``. Casts truncate toward zero; ``trunc(x)`` and
    ``x - trunc(x)`` are exact in IEEE arithmetic, and so is scaling by a power of two."""
    a = (x * (1.0 / _LIMB)).cast(nw.Int64())
    whole = x.cast(nw.Int64())
    b = whole - a * (1 << 30)
    fraction = (x - whole.cast(nw.Float64())) * _LIMB  # |fraction| < 2**30
    c = fraction.cast(nw.Int64())
    d = ((fraction - c.cast(nw.Float64())) * _LIMB).cast(nw.Int64())
    return [a, b, c, d]


def exact_sum(expr: nw.Expr) -> nw.Expr:
    """Sum of ``expr`` as Float64 (an aggregation), independent of the row order."""
    x = expr.cast(nw.Float64())
    splittable = x.abs() < _SPLIT_LIMIT  # False for inf and NaN, null for null
    small = nw.when(splittable).then(x).otherwise(nw.lit(0.0))
    large = nw.when(splittable).then(nw.lit(0.0)).otherwise(x).fill_null(0.0)
    a, b, c, d = (limb.fill_null(0).sum().cast(nw.Float64()) for limb in _limbs(small))
    # smallest first; the order of these five additions is fixed, so is the result
    return (((d * 2.0**-60 + c * 2.0**-30) + b) + a * _LIMB) + large.sum().cast(nw.Float64())


def exact_mean_parts(expr: nw.Expr, name: str) -> list[nw.Expr]:
    """Aggregations ``<name>__sum`` (:func:`exact_sum`) and ``<name>__n`` (non-null count);
    :func:`exact_mean` turns them into the mean after the group-by."""
    return [
        exact_sum(expr).alias(f"{name}__sum"),
        expr.count().cast(nw.Int64()).alias(f"{name}__n"),
    ]


def exact_mean(name: str) -> nw.Expr:
    """The mean from :func:`exact_mean_parts`' columns (null when there is no value),
    aliased ``name``. Divides by null instead of 0 (Spark in ANSI mode)."""
    n = nw.col(f"{name}__n")
    return (nw.col(f"{name}__sum") / nw.when(n != 0).then(n.cast(nw.Float64()))).alias(name)
