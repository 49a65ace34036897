"""The per-sample QA metrics: name -> scoring function returning named scores (described in harness.metrics.registry).

`bleu` and `rouge` are EvalScope's general_qa defaults; `exact_match`, `contains` and
`numeric_match` serve short references (numbers, names, options).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from harness.metrics import gsm8k, match
from harness.metrics.bleu import bleu_scores
from harness.metrics.registry import DEFAULT_QA_METRICS
from harness.metrics.rouge import rouge_scores

__all__ = ["DEFAULT_QA_METRICS", "QA_METRICS", "score_pair"]

QA_METRICS: dict[str, Callable[[str, str], dict[str, float]]] = {
    "bleu": bleu_scores,
    "rouge": rouge_scores,
    "exact_match": lambda p, r: {"exact_match": match.exact_match(p, r)},
    "contains": lambda p, r: {"contains": match.contains(p, r)},
    "numeric_match": lambda p, r: {"numeric_match": match.numeric_match(p, r)},
    "strict_match": lambda p, r: {"strict_match": gsm8k.strict_match(p, r)},
    "flexible_extract": lambda p, r: {"flexible_extract": gsm8k.flexible_extract(p, r)},
}


def score_pair(prediction: str, reference: str, metrics: Sequence[str] = DEFAULT_QA_METRICS) -> dict[str, float]:
    """Every named score of one pair; a failed (None) prediction is scored as the empty string.

    >>> score_pair("是木星", "是木星", ["exact_match"])
    {'exact_match': 1.0}
    """
    out: dict[str, float] = {}
    for name in metrics:
        out.update(QA_METRICS[name](prediction, reference))
    return out
