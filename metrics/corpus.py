"""Corpus-level BLEU and chrF through sacrebleu, with a bootstrap interval over sentences.

Unlike the per-sample `bleu` (EvalScope's sentence BLEU, averaged), these pool n-gram counts over
the whole corpus as `sacrebleu.corpus_bleu` / `corpus_chrf` do, on sacrebleu's 0-100 scale, and
report sacrebleu's signature so a number can be reproduced exactly. BLEU's tokenizer is `zh` for
Chinese references and `13a` otherwise (or as given); chrF uses character 6-grams (sacrebleu's
defaults). The 95% interval resamples sentences 1,000 times (seeded) and recomputes the corpus
score from the summed per-sentence statistics, as sacrebleu's own bootstrap does.

>>> s = corpus_score("sacrebleu", ["the cat sat on the mat"], ["the cat sat on the mat"])
>>> round(s.value, 1), s.signature.split("|")[3]
(100.0, 'tok:13a')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.metrics.tokenize import has_cjk

__all__ = ["CORPUS_METRICS", "CorpusScore", "corpus_score", "default_tokenizer"]

CORPUS_METRICS = ("sacrebleu", "chrf")
RESAMPLES = 1000


@dataclass(frozen=True)
class CorpusScore:
    """A corpus score (0-100), its 95% bootstrap interval, the number of sentences, and sacrebleu's signature."""

    value: float
    ci_low: float
    ci_high: float
    n: int
    signature: str


def default_tokenizer(references: Sequence[str]) -> str:
    """`zh` when at least a third of the references hold CJK text, else `13a` (sacrebleu's default)."""
    sample = [r for r in references[:200] if r.strip()]
    return "zh" if sample and sum(has_cjk(r) for r in sample) * 3 >= len(sample) else "13a"


def _metric(name: str, references: Sequence[str], tokenize: str | None) -> object:
    from sacrebleu.metrics.bleu import BLEU
    from sacrebleu.metrics.chrf import CHRF

    if name == "sacrebleu":
        return BLEU(tokenize=tokenize or default_tokenizer(references))
    if name == "chrf":
        return CHRF()
    raise ValueError(f"unknown corpus metric {name!r} (known: {', '.join(CORPUS_METRICS)})")


def corpus_score(
    name: str, predictions: Sequence[str], references: Sequence[str], *, tokenize: str | None = None, seed: int = 0
) -> CorpusScore:
    """The corpus score of `predictions` against one reference each, with its interval."""
    metric = _metric(name, references, tokenize)
    if not predictions:
        return CorpusScore(0.0, 0.0, 0.0, 0, str(metric.get_signature()))  # type: ignore[attr-defined]
    stats = np.asarray(metric._extract_corpus_statistics(list(predictions), [list(references)]), dtype=np.float64)  # type: ignore[attr-defined]

    def score(rows: np.ndarray) -> float:
        totals = rows.sum(axis=0)
        return float(metric._compute_score_from_stats([int(x) if float(x).is_integer() else float(x) for x in totals]).score)  # type: ignore[attr-defined]

    value = score(stats)
    rng = np.random.default_rng(seed)
    draws = [score(stats[rng.integers(0, len(stats), len(stats))]) for _ in range(RESAMPLES)]
    low, high = np.percentile(draws, [2.5, 97.5])
    return CorpusScore(value, float(low), float(high), len(predictions), str(metric.get_signature()))  # type: ignore[attr-defined]
