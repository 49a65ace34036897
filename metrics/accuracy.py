"""Accuracy for multiple-choice answers.

A sample is correct when the set of chosen letters equals the set of correct letters exactly
(single-answer questions are the one-letter case). Aggregates:

- micro: correct samples / all samples, pooled over subsets (each question weighs the same);
- macro: the unweighted mean of per-subset accuracies (each subset weighs the same).

Per-subset and per-category figures are micro within the group.

>>> is_correct({"A", "C"}, ("C", "A")), is_correct({"A"}, ("A", "C"))
(1.0, 0.0)
>>> micro([[1.0, 0.0], [1.0, 1.0, 1.0, 1.0]]), macro([[1.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
(0.8333333333333334, 0.75)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["is_correct", "macro", "micro"]


def is_correct(chosen: Iterable[str], answer: Iterable[str]) -> float:
    """1.0 when the chosen letters are exactly the correct letters; no letter chosen is wrong."""
    picked = set(chosen)
    return float(bool(picked) and picked == set(answer))


def micro(groups: Sequence[Sequence[float]]) -> float:
    """Pooled mean over every sample of every group."""
    total = sum(len(g) for g in groups)
    return sum(sum(g) for g in groups) / total if total else 0.0


def macro(groups: Sequence[Sequence[float]]) -> float:
    """Mean of the per-group means, skipping empty groups."""
    means = [sum(g) / len(g) for g in groups if len(g)]
    return sum(means) / len(means) if means else 0.0
