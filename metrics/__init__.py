"""Pure metric functions: no I/O, no network, no torch.

Each module's docstring names the exact variant (tokenizer, smoothing, averaging). Names are
imported on first use (PEP 562), so `import harness.metrics.qa` does not load numpy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.metrics.accuracy import is_correct, macro, micro
    from harness.metrics.aggregate import Score, summarize, summarize_macro
    from harness.metrics.bleu import bleu_scores
    from harness.metrics.match import contains, exact_match, normalize, numeric_match
    from harness.metrics.qa import DEFAULT_QA_METRICS, QA_METRICS, score_pair
    from harness.metrics.rouge import ROUGE_KEYS, rouge_scores

_WHERE = {
    "is_correct": "harness.metrics.accuracy",
    "macro": "harness.metrics.accuracy",
    "micro": "harness.metrics.accuracy",
    "Score": "harness.metrics.aggregate",
    "summarize": "harness.metrics.aggregate",
    "summarize_macro": "harness.metrics.aggregate",
    "bleu_scores": "harness.metrics.bleu",
    "contains": "harness.metrics.match",
    "exact_match": "harness.metrics.match",
    "normalize": "harness.metrics.match",
    "numeric_match": "harness.metrics.match",
    "DEFAULT_QA_METRICS": "harness.metrics.qa",
    "QA_METRICS": "harness.metrics.qa",
    "score_pair": "harness.metrics.qa",
    "ROUGE_KEYS": "harness.metrics.rouge",
    "rouge_scores": "harness.metrics.rouge",
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
