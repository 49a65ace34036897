"""The QA metric registry: name -> per-sample scoring function returning named scores.

`bleu` and `rouge` are EvalScope's general_qa defaults; `exact_match`, `contains` and
`numeric_match` serve short references (numbers, names, options).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from harness.metrics import gsm8k, match
from harness.metrics.bleu import bleu_scores
from harness.metrics.rouge import rouge_scores

__all__ = ["DEFAULT_QA_METRICS", "METRIC_INFO", "QA_METRICS", "score_pair"]

QA_METRICS: dict[str, Callable[[str, str], dict[str, float]]] = {
    "bleu": bleu_scores,
    "rouge": rouge_scores,
    "exact_match": lambda p, r: {"exact_match": match.exact_match(p, r)},
    "contains": lambda p, r: {"contains": match.contains(p, r)},
    "numeric_match": lambda p, r: {"numeric_match": match.numeric_match(p, r)},
    "strict_match": lambda p, r: {"strict_match": gsm8k.strict_match(p, r)},
    "flexible_extract": lambda p, r: {"flexible_extract": gsm8k.flexible_extract(p, r)},
}
DEFAULT_QA_METRICS = ("bleu", "rouge")
METRIC_INFO = {
    "bleu": "BLEU-1..4 per sample, EvalScope's variant (jieba words for Chinese, nltk sentence_bleu, no smoothing)",
    "rouge": "ROUGE-1/2/L recall, precision, F1 per sample (rouge_chinese on jieba words for CJK, Google rouge-score otherwise)",
    "exact_match": "1 when the normalised prediction equals the reference",
    "contains": "1 when the normalised prediction contains the reference",
    "numeric_match": "1 when the last number in the prediction equals the reference's last number",
    "strict_match": "GSM8K: the first '#### N' of the answer equals the reference's, as lm-eval's strict-match",
    "flexible_extract": "GSM8K: the last number in the answer equals the reference's '#### N', as lm-eval's flexible-extract",
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
