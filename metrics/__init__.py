"""Pure metric functions: no I/O, no network, no torch.

Each module's docstring names the exact variant (tokenizer, smoothing, averaging).
"""

from metrics.accuracy import is_correct, macro, micro
from metrics.aggregate import Score, summarize, summarize_macro
from metrics.bleu import bleu_scores
from metrics.match import contains, exact_match, normalize, numeric_match
from metrics.qa import DEFAULT_QA_METRICS, QA_METRICS, score_pair
from metrics.rouge import ROUGE_KEYS, rouge_scores

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
