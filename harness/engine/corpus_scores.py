"""Scores over a whole set (sacrebleu's corpus BLEU and chrF, `evaluate:` modules) as results.json rows.

Computed by the metrics (harness.metrics.corpus, harness.metrics.hf_evaluate) from (prediction, reference)
pairs per subset, with OVERALL pooled when there are several; per-sample scores are aggregated apart
(harness.runs.score_rows). The engine's results builder and `harness score` both call these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from harness.runs.results_file import ScoreRow

__all__ = ["corpus_rows", "evaluate_rows"]


def corpus_rows(
    task: str, metric: str, pairs: Mapping[str, Sequence[tuple[str, str]]], *, tokenize: str | None = None, seed: int = 0
) -> tuple[list[ScoreRow], str]:
    """Rows of a corpus metric (sacrebleu, chrf) per subset, and OVERALL pooled when there are several; and its signature."""
    from harness.metrics.corpus import corpus_score

    rows: list[ScoreRow] = []
    signature = ""
    for subset, subset_pairs in _with_overall(pairs):
        result = corpus_score(metric, [p for p, _ in subset_pairs], [r for _, r in subset_pairs], tokenize=tokenize, seed=seed)
        signature = result.signature
        rows.append({"failed": 0, "task": task, "metric": metric, "subset": subset, "category": "-", "aggregation": "corpus",
                     "n": result.n, "score": result.value, "ci_low": result.ci_low, "ci_high": result.ci_high})  # fmt: skip
    return rows, signature


def _with_overall(pairs: Mapping[str, Sequence[tuple[str, str]]]) -> list[tuple[str, Sequence[tuple[str, str]]]]:
    groups = list(pairs.items())
    if len(groups) > 1:
        groups.append(("OVERALL", [p for subset_pairs in pairs.values() for p in subset_pairs]))
    return groups


def evaluate_rows(
    task: str, spec: str, pairs: Mapping[str, Sequence[tuple[str, str]]], *, seed: int = 0
) -> tuple[list[ScoreRow], dict[str, str]]:
    """Rows of an `evaluate:` module per subset (and OVERALL), one per value it returns; and what identifies the module."""
    from harness.metrics.hf_evaluate import evaluate_scores, load_module

    rows: list[ScoreRow] = []
    for subset, subset_pairs in _with_overall(pairs):
        for result in evaluate_scores(spec, [p for p, _ in subset_pairs], [r for _, r in subset_pairs], seed=seed):
            rows.append({"failed": 0, "task": task, "metric": result.metric, "subset": subset, "category": "-", "aggregation": "corpus",
                         "n": result.n, "score": result.value, "ci_low": result.ci_low, "ci_high": result.ci_high})  # fmt: skip
    return rows, load_module(spec).describe()
