"""Pure metric functions: no I/O, no network, no torch.

Each module's docstring names the exact variant (tokenizer, smoothing, averaging). Names are
imported on first use (PEP 562), so `import metrics.qa` does not load numpy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from metrics.accuracy import is_correct, macro, micro
    from metrics.aggregate import Score, summarize, summarize_macro
    from metrics.bleu import bleu_scores
    from metrics.match import contains, exact_match, normalize, numeric_match
    from metrics.qa import DEFAULT_QA_METRICS, QA_METRICS, score_pair
    from metrics.rouge import ROUGE_KEYS, rouge_scores

_WHERE = {
    "is_correct": "metrics.accuracy",
    "macro": "metrics.accuracy",
    "micro": "metrics.accuracy",
    "Score": "metrics.aggregate",
    "summarize": "metrics.aggregate",
    "summarize_macro": "metrics.aggregate",
    "bleu_scores": "metrics.bleu",
    "contains": "metrics.match",
    "exact_match": "metrics.match",
    "normalize": "metrics.match",
    "numeric_match": "metrics.match",
    "DEFAULT_QA_METRICS": "metrics.qa",
    "QA_METRICS": "metrics.qa",
    "score_pair": "metrics.qa",
    "ROUGE_KEYS": "metrics.rouge",
    "rouge_scores": "metrics.rouge",
}
__all__ = [
    "DEFAULT_QA_METRICS",
    "QA_METRICS",
    "ROUGE_KEYS",
    "Score",
    "bleu_scores",
    "contains",
    "exact_match",
    "is_correct",
    "macro",
    "micro",
    "normalize",
    "numeric_match",
    "rouge_scores",
    "score_pair",
    "summarize",
    "summarize_macro",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'metrics' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
