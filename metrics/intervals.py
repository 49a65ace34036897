"""95% confidence intervals, so a reader can tell noise from change.

- Proportions (accuracy, exact match): Wilson score interval, z = 1.959964.
- Means of bounded per-sample scores (BLEU, ROUGE): percentile bootstrap over samples,
  2,000 resamples, seeded, so the same scores always give the same interval.
- Macro averages over subsets: the bootstrap resamples within each subset (stratified).

>>> [round(x, 4) for x in wilson(8, 10)]
[0.4902, 0.9433]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["Z95", "bootstrap_mean", "bootstrap_stratified_macro", "wilson"]

Z95 = 1.959963984540054
RESAMPLES = 2000


def wilson(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for `successes` out of `n`; (0, 0) for n == 0."""
    if n == 0:
        return (0.0, 0.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def bootstrap_mean(values: Sequence[float], seed: int = 0, resamples: int = RESAMPLES) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return (0.0, 0.0)
    rng = np.random.default_rng(seed)
    low, high = np.percentile(_resampled_means(rng, data, resamples), [2.5, 97.5])
    return (float(low), float(high))


def _resampled_means(rng: np.random.Generator, data: np.ndarray, resamples: int) -> np.ndarray:
    """Means of `resamples` bootstrap resamples, drawn in chunks to bound memory (~16 MB)."""
    chunk = max(1, 2_000_000 // data.size)
    parts = []
    for start in range(0, resamples, chunk):
        idx = rng.integers(0, data.size, size=(min(chunk, resamples - start), data.size))
        parts.append(data[idx].mean(axis=1))
    return np.concatenate(parts)


def bootstrap_stratified_macro(groups: Sequence[Sequence[float]], seed: int = 0, resamples: int = RESAMPLES) -> tuple[float, float]:
    """Interval of the mean of group means, resampling within each group."""
    groups = [g for g in groups if len(g)]
    if not groups:
        return (0.0, 0.0)
    rng = np.random.default_rng(seed)
    total = np.zeros(resamples)
    for group in groups:
        total += _resampled_means(rng, np.asarray(group, dtype=float), resamples)
    low, high = np.percentile(total / len(groups), [2.5, 97.5])
    return (float(low), float(high))
