"""Sentence BLEU-n as EvalScope's general_qa defines it, then averaged over samples.

Per sample: NLTK `sentence_bleu(references=[ref_tokens], hypothesis=pred_tokens,
weights=w)` with the *individual* n-gram weight (bleu-2 uses (0, 1, 0, 0)), no smoothing,
brevity penalty included. That is `BP * p_n`, where `p_n` is the clipped n-gram precision
and `BP = 1` if the prediction is longer than the reference, else `exp(1 - r/c)`.
NLTK returns 0 when no unigram matches and about 2e-308 (not 0) when `p_n` is zero but
unigrams match; we return 0.0 for both. An empty prediction or reference scores 0.
Tokens come from `harness.metrics.tokenize.bleu_tokens`.

>>> round(sentence_bleu_n("the cat sat on the mat", "the cat sat on a mat", 1), 4)
0.8333
>>> sentence_bleu_n("", "the cat", 1)
0.0
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from harness.metrics.tokenize import bleu_tokens

__all__ = ["bleu_scores", "bleu_scores_tokens", "sentence_bleu_n"]


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def bleu_scores_tokens(pred: Sequence[str], ref: Sequence[str], max_n: int = 4) -> dict[str, float]:
    """`bleu-1`..`bleu-{max_n}` for already tokenized texts."""
    out = {f"bleu-{n}": 0.0 for n in range(1, max_n + 1)}
    c, r = len(pred), len(ref)
    if c == 0 or r == 0:
        return out
    brevity = 1.0 if c > r else math.exp(1 - r / c)
    for n in range(1, max_n + 1):
        hyp = _ngrams(pred, n)
        if not hyp:
            break
        refs = _ngrams(ref, n)
        matched = sum(min(count, refs[g]) for g, count in hyp.items())
        if matched == 0:
            if n == 1:
                break
            continue
        out[f"bleu-{n}"] = brevity * matched / sum(hyp.values())
    return out


def bleu_scores(prediction: str, reference: str, max_n: int = 4) -> dict[str, float]:
    """`bleu-1`..`bleu-4` for one pair of texts (EvalScope's `bleu_ngram_one_sample`)."""
    return bleu_scores_tokens(bleu_tokens(prediction), bleu_tokens(reference), max_n)


def sentence_bleu_n(prediction: str, reference: str, n: int) -> float:
    """BLEU-n of one pair."""
    return bleu_scores(prediction, reference, max_n=n)[f"bleu-{n}"]
