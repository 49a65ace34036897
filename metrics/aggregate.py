"""Turn per-sample scores into reported scores: value, n and a 95% interval.

A metric whose per-sample values are all 0 or 1 (accuracy, exact match) gets a Wilson
interval; any other (BLEU, ROUGE) a seeded bootstrap. Macro averages get a stratified bootstrap.

>>> summarize([1.0, 0.0, 1.0, 1.0]).value
0.75
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.metrics import accuracy, intervals

__all__ = ["Score", "summarize", "summarize_macro"]


@dataclass(frozen=True)
class Score:
    """A reported figure with its sample count and 95% confidence interval."""

    value: float
    n: int
    ci_low: float
    ci_high: float


def _binary(values: Sequence[float]) -> bool:
    return all(v in (0.0, 1.0) for v in values)


def summarize(values: Sequence[float], seed: int = 0) -> Score:
    """Mean of `values` with n and its interval."""
    n = len(values)
    mean = sum(values) / n if n else 0.0
    if _binary(values):
        low, high = intervals.wilson(sum(values), n)
    else:
        low, high = intervals.bootstrap_mean(values, seed)
    return Score(mean, n, low, high)


def summarize_macro(groups: Sequence[Sequence[float]], seed: int = 0) -> Score:
    """Unweighted mean of group means, with a stratified bootstrap interval."""
    low, high = intervals.bootstrap_stratified_macro(groups, seed)
    return Score(accuracy.macro(groups), sum(len(g) for g in groups), low, high)
