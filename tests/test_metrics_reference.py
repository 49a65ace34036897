"""Metrics against independent references: EvalScope's recorded values, rouge-score, NLTK, sacrebleu."""

from __future__ import annotations

import json
import random
import warnings

import pytest
from conftest import TEST_DATA

from harness.metrics.bleu import bleu_scores, bleu_scores_tokens
from harness.metrics.rouge import ROUGE_KEYS, rouge_scores
from harness.metrics.tokenize import bleu_tokens

KEYS = ("bleu-1", "bleu-2", "bleu-3", "bleu-4", *ROUGE_KEYS)


def test_chinese_parity_with_evalscope_all_400_pairs():
    pairs = [json.loads(line) for line in (TEST_DATA / "evalscope_zh_pairs.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(pairs) == 400
    worst = 0.0
    for pair in pairs:
        ours = {**bleu_scores(pair["prediction"], pair["reference"]), **rouge_scores(pair["prediction"], pair["reference"])}
        for key in KEYS:
            worst = max(worst, abs(ours[key] - pair[key]))
    assert worst <= 1e-6


def _english_pairs(n: int = 400) -> list[tuple[str, str]]:
    rng = random.Random(1234)
    refs = [json.loads(line)["reference"] for line in (TEST_DATA / "arc_easy_references.jsonl").read_text(encoding="utf-8").splitlines()]
    extra = ["the", "a", "water", "energy", "is", "not", "Plants", "cells,", "(heat)", "it's"]
    pairs = []
    for ref in refs[:n]:
        words = ref.split()
        op = rng.randrange(6)
        if op == 0:
            words = words[::-1]
        elif op == 1 and len(words) > 1:
            del words[rng.randrange(len(words))]
        elif op == 2:
            words.insert(rng.randrange(len(words) + 1), rng.choice(extra))
        elif op == 3:
            words = [w.upper() if rng.random() < 0.3 else w for w in words] + words[:2]
        elif op == 4:
            rng.shuffle(words)
        pairs.append((" ".join(words) + rng.choice(["", ".", "!", " ?"]), ref))
    return pairs


def test_english_rouge_equals_google_rouge_score():
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
    pairs = _english_pairs()
    assert len(pairs) >= 300
    for pred, ref in pairs:
        ref_scores = scorer.score(target=ref, prediction=pred)
        ours = rouge_scores(pred, ref)
        for n, name in (("1", "rouge1"), ("2", "rouge2"), ("L", "rougeL")):
            expected = ref_scores[name]
            assert ours[f"Rouge-{n}-R"] == pytest.approx(expected.recall, abs=1e-12)
            assert ours[f"Rouge-{n}-P"] == pytest.approx(expected.precision, abs=1e-12)
            assert ours[f"Rouge-{n}-F"] == pytest.approx(expected.fmeasure, abs=1e-12)


def test_english_bleu_equals_nltk_sentence_bleu_on_treebank_tokens():
    from nltk.translate.bleu_score import sentence_bleu

    weights = [(1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1)]
    nonzero = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for pred, ref in _english_pairs():
            p, r = bleu_tokens(pred), bleu_tokens(ref)
            ours = bleu_scores_tokens(p, r)
            for n, w in enumerate(weights, start=1):
                expected = sentence_bleu([r], p, weights=w)
                assert ours[f"bleu-{n}"] == pytest.approx(expected, abs=1e-12)
                nonzero += expected > 0
    assert nonzero > 500


def test_treebank_tokenizer_needs_no_nltk_data():
    assert bleu_tokens("Don't stop, it's 3.5 km.") == ["Do", "n't", "stop", ",", "it", "'s", "3.5", "km", "."]


def test_empty_prediction_scores_zero_and_is_kept_in_the_mean():
    from harness.metrics import summarize

    full = rouge_scores("中国的首都是北京", "中国的首都是北京")["Rouge-1-F"]
    empty = rouge_scores("", "中国的首都是北京")["Rouge-1-F"]
    assert empty == 0.0
    assert summarize([full, empty]).value == pytest.approx(full / 2)
