"""Per-sample scores -> the score rows of results.json and of every report table.

Rows: one per (metric, subset), one per (metric, subset, category) when the data has a
category column, and, with two or more subsets, OVERALL rows: micro (pooled over all samples)
and macro (mean of subset scores). Each row has n and a 95% interval.
Failed samples (no answer from an API) have no score: they are left out of n and counted in
each row's `failed`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from metrics.aggregate import Score, summarize, summarize_macro

__all__ = ["score_rows"]


def _row(task: str, metric: str, subset: str, category: str, score: Score, aggregation: str, failed: int = 0) -> dict[str, Any]:
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


def score_rows(task: str, records: Sequence[dict[str, Any]], seed: int = 0) -> list[dict[str, Any]]:
    """Aggregate `records[i]["scores"]` into rows, metrics in first-seen order."""
    metrics: list[str] = []
    failed: dict[str, int] = defaultdict(int)
    failed_cat: dict[tuple[str, str], int] = defaultdict(int)
    for rec in records:
        if rec.get("failed"):
            failed[rec["subset"]] += 1
            if rec.get("category"):
                failed_cat[(rec["subset"], rec["category"])] += 1
        for name in rec["scores"]:
            if name not in metrics:
                metrics.append(name)
    rows: list[dict[str, Any]] = []
    for metric in metrics:
        by_subset: dict[str, list[float]] = defaultdict(list)
        by_category: dict[tuple[str, str], list[float]] = defaultdict(list)
        for rec in records:
            # Subsets (and categories) are created even when all their samples failed, so their rows show it.
            values = by_subset[rec["subset"]]
            cat_values = by_category[(rec["subset"], rec["category"])] if rec.get("category") else []
            if rec.get("failed"):
                continue
            value = float(rec["scores"].get(metric, 0.0))
            values.append(value)
            cat_values.append(value)
        for subset, values in by_subset.items():
            rows.append(_row(task, metric, subset, "-", summarize(values, seed), "micro", failed[subset]))
            for (sub, category), cat_values in by_category.items():
                if sub == subset:
                    rows.append(_row(task, metric, subset, category, summarize(cat_values, seed), "micro", failed_cat[(sub, category)]))
        groups = list(by_subset.values())
        pooled = [v for g in groups for v in g]
        if len(groups) > 1:
            total_failed = sum(failed.values())
            rows.append(_row(task, metric, "OVERALL", "-", summarize(pooled, seed), "micro", total_failed))
            rows.append(_row(task, metric, "OVERALL", "-", summarize_macro(groups, seed), "macro", total_failed))
    return rows
