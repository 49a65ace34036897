"""Per-sample scores -> the score rows of results.json and of every report table.

Rows: one per (metric, subset), one per (metric, subset, category) when the data has a
category column, and, with two or more subsets, OVERALL rows: micro (pooled over all samples)
and macro (mean of subset scores). Each row has n and a 95% interval.
Failed samples (no answer from an API) have no score: they are left out of n and counted in
each row's `failed`. A sample without some metric counts 0 for it; one whose score is None for a
metric (a failed judgement) is left out of that metric's n. A row whose n would be 0 (every sample
failed, or every judgement) is not written: a mean of nothing is not a score, and never a 0.

Scores are accumulated one sample at a time into arrays of floats (8 bytes a value), so a run
of any size is aggregated without holding its records.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.metrics.aggregate import Score, summarize, summarize_macro
from harness.runs.results_file import ScoreRow

__all__ = ["ScoreAccumulator", "score_rows"]


@dataclass
class _Group:
    """Scores of one subset (or one category in it), in sample order."""

    n: int = 0
    failed: int = 0
    values: dict[str, array[float]] = field(default_factory=dict)
    categories: dict[str, _Group] = field(default_factory=dict)

    def add(self, scores: Mapping[str, float | None]) -> None:
        for name in scores:
            if name not in self.values:
                self.values[name] = array("d", bytes(8 * self.n))  # earlier samples lacked it: 0
        for name, column in self.values.items():
            value = scores.get(name, 0.0)
            if value is not None:  # None: this sample has no such score (a failed judgement), so it is left out
                column.append(float(value))
        self.n += 1

    def column(self, metric: str) -> array[float]:
        # A metric this group has seen (even with no value yet: every judgement failed) keeps its own, maybe
        # empty, column; one it never saw counts 0 for each sample.
        return self.values[metric] if metric in self.values else array("d", bytes(8 * self.n))


class ScoreAccumulator:
    """Collects (subset, category, failed, scores) per sample; `rows` gives the score rows."""

    def __init__(self) -> None:
        """No samples yet."""
        self.metrics: list[str] = []
        self.subsets: dict[str, _Group] = {}

    def add(self, subset: str, category: str | None, failed: bool, scores: Mapping[str, Any]) -> None:
        """One sample."""
        for name in scores:
            if name not in self.metrics:
                self.metrics.append(name)
        group = self.subsets.setdefault(subset, _Group())
        cat = group.categories.setdefault(category, _Group()) if category else None
        if failed:
            group.failed += 1
            if cat is not None:
                cat.failed += 1
            return
        group.add(scores)
        if cat is not None:
            cat.add(scores)

    def rows(self, task: str, seed: int = 0) -> list[ScoreRow]:
        """The score rows, metrics in first-seen order, subsets and categories in data order."""
        out: list[ScoreRow] = []
        total_failed = sum(g.failed for g in self.subsets.values())
        for metric in self.metrics:
            columns = []
            for subset, group in self.subsets.items():
                column = group.column(metric)
                columns.append(column)
                if column:  # no sample with a value (all failed, or every judgement failed): no row, never a 0
                    out.append(_row(task, metric, subset, "-", summarize(column, seed), "micro", group.failed))
                for category, cat in group.categories.items():
                    if cat.column(metric):
                        out.append(_row(task, metric, subset, category, summarize(cat.column(metric), seed), "micro", cat.failed))
            scored = [c for c in columns if c]
            if len(columns) > 1 and scored:
                pooled = [v for column in scored for v in column]
                out.append(_row(task, metric, "OVERALL", "-", summarize(pooled, seed), "micro", total_failed))
                out.append(_row(task, metric, "OVERALL", "-", summarize_macro(scored, seed), "macro", total_failed))
        return out


def _row(task: str, metric: str, subset: str, category: str, score: Score, aggregation: str, failed: int = 0) -> ScoreRow:
    return {
        "failed": failed,
        "task": task,
        "metric": metric,
        "subset": subset,
        "category": category,
        "aggregation": aggregation,
        "n": score.n,
        "score": score.value,
        "ci_low": score.ci_low,
        "ci_high": score.ci_high,
    }


def score_rows(task: str, records: Iterable[Mapping[str, Any]], seed: int = 0) -> list[ScoreRow]:
    """Aggregate `records[i]["scores"]` into rows (see the module docstring)."""
    acc = ScoreAccumulator()
    for rec in records:
        acc.add(rec["subset"], rec.get("category"), bool(rec.get("failed")), rec["scores"])
    return acc.rows(task, seed)
