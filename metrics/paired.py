"""Paired tests for "did the new run get worse?" on the samples two runs share.

- Exact McNemar for 0/1 metrics (accuracy, exact match): with b samples right only in the base
  and c right only in the new run, the two-sided p-value is that of a binomial test of
  min(b, c) successes in b + c trials at p = 1/2 (statsmodels' `mcnemar(exact=True)`).
- Paired bootstrap for other metrics (BLEU, ROUGE): resample sample indices, 10,000 times,
  seeded; the p-value is the share of resampled mean differences, centred on zero, at least as
  far from zero as the observed one ((k + 1) / (B + 1), never 0).
- The 95% interval of the difference is the paired bootstrap percentile interval in both cases.

>>> round(mcnemar_exact(12, 3), 4)
0.0352
>>> round(mcnemar_exact(5, 5), 4)
1.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["PairedResult", "mcnemar_exact", "paired_bootstrap", "paired_compare"]

RESAMPLES = 10_000


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return float(min(1.0, 2 * tail))


def paired_bootstrap(diffs: Sequence[float], seed: int = 0, resamples: int = RESAMPLES) -> tuple[float, float, float]:
    """(ci_low, ci_high, p_value) of the mean of paired differences."""
    d = np.asarray(diffs, dtype=float)
    if d.size == 0:
        return (0.0, 0.0, 1.0)
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // d.size)
    means = np.concatenate(
        [d[rng.integers(0, d.size, size=(min(chunk, resamples - s), d.size))].mean(axis=1) for s in range(0, resamples, chunk)]
    )
    observed = d.mean()
    low, high = np.percentile(means, [2.5, 97.5])
    extreme = int(np.sum(np.abs(means - observed) >= abs(observed) - 1e-12)) if observed != 0 else resamples
    return (float(low), float(high), (extreme + 1) / (resamples + 1))


class PairedResult:
    """Base and new means on shared samples, their difference, interval and p-value."""

    __slots__ = ("base", "ci_high", "ci_low", "delta", "n", "new", "p_value", "test")

    def __init__(self, base: float, new: float, n: int, ci: tuple[float, float], p_value: float, test: str) -> None:
        """Store the figures."""
        self.base, self.new, self.n = base, new, n
        self.delta = new - base
        self.ci_low, self.ci_high = ci
        self.p_value, self.test = p_value, test


def paired_compare(base: Sequence[float], new: Sequence[float], seed: int = 0) -> PairedResult:
    """Compare two runs' per-sample scores, aligned by sample."""
    n = len(base)
    diffs = [y - x for x, y in zip(base, new, strict=True)]
    low, high, p_boot = paired_bootstrap(diffs, seed)
    mean_base = sum(base) / n if n else 0.0
    mean_new = sum(new) / n if n else 0.0
    if all(v in (0.0, 1.0) for v in (*base, *new)):
        b = sum(1 for x, y in zip(base, new, strict=True) if x == 1.0 and y == 0.0)
        c = sum(1 for x, y in zip(base, new, strict=True) if x == 0.0 and y == 1.0)
        return PairedResult(mean_base, mean_new, n, (low, high), mcnemar_exact(b, c), "mcnemar")
    return PairedResult(mean_base, mean_new, n, (low, high), p_boot, "bootstrap")
