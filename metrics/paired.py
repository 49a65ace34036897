"""Paired tests for "did the new run get worse?" on the samples two runs share, each with its own interval.

One test per comparison: the interval shown is the interval of the test that gives the p-value, so the
interval excludes zero exactly when p < alpha (tested on planted and random pairs).

- 0/1 metrics (accuracy, exact match): exact McNemar. With b samples right only in the base and c right
  only in the new run (d = b + c discordant, n pairs), the two-sided p-value is that of a binomial test
  of min(b, c) successes in d trials at p = 1/2 (statsmodels' `mcnemar(exact=True)`). The interval is
  its inversion: the Clopper-Pearson interval [lo, hi] for the share of the discordant pairs that favour
  the new run, mapped to the accuracy difference as (d / n)(2 lo - 1) .. (d / n)(2 hi - 1) (conditional
  on d, as the test is).
- Other metrics (BLEU, ROUGE, judge): paired bootstrap of the mean difference, 10,000 resamples, seeded.
  The interval is the percentile interval at level 1 - alpha and the p-value is its inversion, the
  smallest alpha at which that interval excludes zero: 2 (min(#{m* <= 0}, #{m* >= 0}) + 1) / (B + 1).

>>> round(mcnemar_exact(12, 3), 4)
0.0352
>>> round(mcnemar_exact(5, 5), 4)
1.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["PairedResult", "clopper_pearson", "mcnemar_exact", "paired_bootstrap", "paired_compare"]

RESAMPLES = 10_000


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return float(min(1.0, 2 * tail))


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz), as in Numerical Recipes."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b) = P(X >= a) for X ~ Binomial(a + b - 1, x)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def _solve(f: object, target: float) -> float:
    """The p in (0, 1) where the increasing function f(p) crosses `target` (bisection to 1e-12)."""
    low, high = 0.0, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        if f(mid) < target:  # type: ignore[operator]
            low = mid
        else:
            high = mid
    return (low + high) / 2


def clopper_pearson(successes: int, trials: int, alpha: float = 0.05) -> tuple[float, float]:
    """The exact two-sided interval for a binomial proportion: the inversion of the central exact test.

    >>> [round(v, 4) for v in clopper_pearson(7, 10)]
    [0.3475, 0.9333]
    """
    if trials == 0:
        return (0.0, 1.0)
    k, n = successes, trials
    low = 0.0 if k == 0 else _solve(lambda p: _betainc(k, n - k + 1, p), alpha / 2)  # P(X >= k | p) = alpha/2
    high = 1.0 if k == n else _solve(lambda p: -(1.0 - _betainc(k + 1, n - k, p)), -alpha / 2)  # P(X <= k | p) = alpha/2
    return (low, high)


def paired_bootstrap(diffs: Sequence[float], seed: int = 0, resamples: int = RESAMPLES, alpha: float = 0.05) -> tuple[float, float, float]:
    """(ci_low, ci_high, p_value) of the mean of paired differences: percentile interval and its inversion."""
    d = np.asarray(diffs, dtype=float)
    if d.size == 0:
        return (0.0, 0.0, 1.0)
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // d.size)
    means = np.concatenate(
        [d[rng.integers(0, d.size, size=(min(chunk, resamples - s), d.size))].mean(axis=1) for s in range(0, resamples, chunk)]
    )
    # Rounding noise: a mean of equal differences should be that value exactly (0.2, not 0.19999999999999998).
    means = np.round(means, 12)
    ordered = np.sort(means)
    # The interval excludes 0 exactly when fewer than t resampled means fall on the other side of it, where
    # 2 (count + 1) / (B + 1) < alpha  <=>  count < t = alpha (B + 1) / 2 - 1: its ends are the ceil(t)-th
    # smallest and largest means.
    t = alpha * (resamples + 1) / 2 - 1
    k = min(max(math.ceil(t) - 1, 0), resamples - 1)
    low, high = float(ordered[k]), float(ordered[resamples - 1 - k])
    below, above = int(np.sum(means <= 0)), int(np.sum(means >= 0))
    p = min(1.0, 2 * (min(below, above) + 1) / (resamples + 1))
    if t <= 0:  # too few resamples for this alpha: the interval can never exclude 0, nor can p fall below alpha
        low, high = min(float(ordered[0]), 0.0), max(float(ordered[-1]), 0.0)
    return (low, high, p)


class PairedResult:
    """Base and new means on shared samples, their difference, interval and p-value."""

    __slots__ = ("base", "ci_high", "ci_low", "delta", "n", "new", "p_value", "test")

    def __init__(self, base: float, new: float, n: int, ci: tuple[float, float], p_value: float, test: str) -> None:
        """Store the figures."""
        self.base, self.new, self.n = base, new, n
        self.delta = new - base
        self.ci_low, self.ci_high = ci
        self.p_value, self.test = p_value, test


def paired_compare(base: Sequence[float], new: Sequence[float], seed: int = 0, alpha: float = 0.05) -> PairedResult:
    """Compare two runs' per-sample scores, aligned by sample; the interval is at level 1 - alpha."""
    n = len(base)
    mean_base = sum(base) / n if n else 0.0
    mean_new = sum(new) / n if n else 0.0
    if all(v in (0.0, 1.0) for v in (*base, *new)):
        b = sum(1 for x, y in zip(base, new, strict=True) if x == 1.0 and y == 0.0)
        c = sum(1 for x, y in zip(base, new, strict=True) if x == 0.0 and y == 1.0)
        if b + c == 0:
            return PairedResult(mean_base, mean_new, n, (0.0, 0.0), 1.0, "mcnemar")
        lo, hi = clopper_pearson(c, b + c, alpha)
        share = (b + c) / n
        return PairedResult(mean_base, mean_new, n, (share * (2 * lo - 1), share * (2 * hi - 1)), mcnemar_exact(b, c), "mcnemar")
    diffs = [y - x for x, y in zip(base, new, strict=True)]
    low, high, p = paired_bootstrap(diffs, seed, alpha=alpha)
    return PairedResult(mean_base, mean_new, n, (low, high), p, "bootstrap")
