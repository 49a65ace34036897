"""Scoring stored answers: the per-sample QA metrics, computed from each record's prediction and reference.

Answers are stored as they arrive (harness.engine.scorers) without their QA scores; the scores are
computed here when the run is finalized, from the stored records. So a metric that fails, or one that is
added or changed later, never costs an answer: the next run scores the stored answers again and calls
no backend (harness.engine.identity's scoring digest says when). The judge's verdict, which is a remote
model's answer about an answer, is kept as it was judged.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.metrics.qa import score_pair
from harness.metrics.registry import JUDGE_METRIC, names_of
from harness.runs.record import SampleRecord

__all__ = ["score_answer"]


def score_answer(record: SampleRecord, metrics: Sequence[str]) -> SampleRecord:
    """The record of a QA answer with its per-sample scores for `metrics` (a failed request keeps no score)."""
    if record.get("failed") or record.get("prediction") is None:
        return record
    previous = record["scores"]
    computed = score_pair(str(record["prediction"]), str(record.get("reference", "")), names_of(metrics, "sample"))
    scores: dict[str, float | None] = dict(computed)
    if JUDGE_METRIC in previous:
        scores[JUDGE_METRIC] = previous[JUDGE_METRIC]
    record["scores"] = scores
    return record
