"""ROUGE-1, ROUGE-2 and ROUGE-L: recall, precision and F1 per sample, then the mean over samples.

Two exact variants, chosen per pair so each matches the reference users already trust:

- A pair where either text holds CJK ideographs follows EvalScope's general_qa
  (`rouge_chinese.Rouge` on jieba tokens joined by spaces): each text with CJK is jieba-segmented,
  other text split on whitespace; ROUGE-N counts *distinct* n-grams (rouge_chinese's
  `exclusive=True` sets); ROUGE-L is the LCS of the whole token sequences; F = 2PR / (P + R + 1e-8).
- Any other pair follows Google's `rouge-score` (`RougeScorer(["rouge1", "rouge2", "rougeL"])`):
  lowercase alphanumeric tokens, no stemming, n-gram *counts*, F = 2PR / (P + R).

An empty prediction or reference scores 0 on every key and stays in the mean (EvalScope drops
empty predictions from its ROUGE mean, which inflates it).

>>> s = rouge_scores("The Cat sat on the mat.", "the cat sat on a mat")
>>> round(s["Rouge-1-R"], 4), round(s["Rouge-1-P"], 4), round(s["Rouge-L-F"], 4)
(0.8333, 0.8333, 0.8333)
>>> rouge_scores("", "x")["Rouge-1-F"]
0.0
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from harness.metrics.tokenize import has_cjk, jieba_tokens, rouge_score_tokens

__all__ = ["ROUGE_KEYS", "lcs_length", "rouge_scores"]

ROUGE_KEYS = tuple(f"Rouge-{n}-{s}" for n in ("1", "2", "L") for s in ("R", "P", "F"))

# rouge_chinese's sentence splitter; kept so whitespace handling is identical to it.
_SENT = [
    (re.compile("([。！？?])([^”’])"), r"\1\n\2"),
    (re.compile(r"(\.{6})([^”’])"), r"\1\n\2"),
    (re.compile("(…{2})([^”’])"), r"\1\n\2"),
    (re.compile("([。！？?][”’])([^，。！？?])"), r"\1\n\2"),
]


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (two-row dynamic programme).

    >>> lcs_length("abcbdab", "bdcaba")
    4
    """
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, start=1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def _zero() -> dict[str, float]:
    return dict.fromkeys(ROUGE_KEYS, 0.0)


def _zh_tokens(text: str) -> list[str]:
    joined = " ".join(jieba_tokens(text)) if has_cjk(text) else text
    for pattern, repl in _SENT:
        joined = pattern.sub(repl, joined)
    return [w for sentence in joined.rstrip().split("\n") for w in sentence.split()]


def _ngram_set(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def _ngram_counts(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _put(out: dict[str, float], key: str, overlap: float, pred_n: int, ref_n: int, eps: float) -> None:
    p = overlap / pred_n if pred_n else 0.0
    r = overlap / ref_n if ref_n else 0.0
    # rouge_chinese adds eps to the denominator; rouge-score guards the zero case instead.
    f = 2.0 * (p * r / (p + r + eps)) if eps else (2 * p * r / (p + r) if p + r > 0 else 0.0)
    out[f"Rouge-{key}-R"], out[f"Rouge-{key}-P"], out[f"Rouge-{key}-F"] = r, p, f


def _rouge_zh(pred: list[str], ref: list[str]) -> dict[str, float]:
    out = _zero()
    for n in (1, 2):
        hyp, gold = _ngram_set(pred, n), _ngram_set(ref, n)
        _put(out, str(n), len(hyp & gold), len(hyp), len(gold), 1e-8)
    _put(out, "L", lcs_length(pred, ref), len(pred), len(ref), 1e-8)
    return out


def _rouge_en(pred: list[str], ref: list[str]) -> dict[str, float]:
    out = _zero()
    for n in (1, 2):
        hyp, gold = _ngram_counts(pred, n), _ngram_counts(ref, n)
        overlap = sum(min(c, gold[g]) for g, c in hyp.items())
        _put(out, str(n), overlap, sum(hyp.values()), sum(gold.values()), 0.0)
    _put(out, "L", lcs_length(pred, ref), len(pred), len(ref), 0.0)
    return out


def rouge_scores(prediction: str, reference: str) -> dict[str, float]:
    """ROUGE-1/2/L R, P, F of one pair under EvalScope's key names (`Rouge-1-R` ... `Rouge-L-F`)."""
    if has_cjk(prediction) or has_cjk(reference):
        pred, ref = _zh_tokens(prediction), _zh_tokens(reference)
        return _rouge_zh(pred, ref) if pred and ref else _zero()
    pred, ref = rouge_score_tokens(prediction), rouge_score_tokens(reference)
    return _rouge_en(pred, ref) if pred and ref else _zero()
