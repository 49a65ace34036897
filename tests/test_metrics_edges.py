"""Hand-computed edge cases for BLEU, ROUGE and the short-answer metrics."""

from __future__ import annotations

import math

import pytest

from harness.metrics import contains, exact_match, numeric_match
from harness.metrics.bleu import bleu_scores
from harness.metrics.intervals import bootstrap_mean, wilson
from harness.metrics.rouge import rouge_scores
from harness.metrics.tokenize import has_cjk


def test_empty_prediction_and_reference():
    assert set(bleu_scores("", "a b c").values()) == {0.0}
    assert set(bleu_scores("a b c", "").values()) == {0.0}
    assert set(rouge_scores("", "a b").values()) == {0.0}
    assert set(rouge_scores("a b", "").values()) == {0.0}


def test_prediction_longer_than_reference_has_no_brevity_penalty():
    # pred 4 tokens, ref 3 tokens, 3 unigram matches: p1 = 3/4, BP = 1.
    s = bleu_scores("the cat sat down", "the cat sat")
    assert s["bleu-1"] == pytest.approx(0.75)
    # bigrams: the-cat, cat-sat match of 3 -> 2/3
    assert s["bleu-2"] == pytest.approx(2 / 3)


def test_shorter_prediction_gets_brevity_penalty():
    # pred 2 tokens, ref 4 tokens: BP = exp(1 - 4/2) = e^-1; p1 = 1
    assert bleu_scores("the cat", "the cat sat down")["bleu-1"] == pytest.approx(math.exp(-1))


def test_single_token():
    s = bleu_scores("cat", "cat")
    assert s["bleu-1"] == 1.0 and s["bleu-2"] == 0.0
    r = rouge_scores("cat", "cat")
    assert r["Rouge-1-F"] == 1.0 and r["Rouge-2-F"] == 0.0 and r["Rouge-L-F"] == 1.0


def test_punctuation_only():
    # Treebank keeps punctuation as tokens for BLEU; rouge-score drops non-alphanumerics.
    assert bleu_scores("!!", "!!")["bleu-1"] == 1.0
    assert set(rouge_scores("!!", "!!").values()) == {0.0}


def test_case_insensitive_english_rouge():
    # EvalScope splits on spaces and is case sensitive: recall 0.5 here; rouge-score gives 5/6.
    assert rouge_scores("The Cat sat on the mat.", "the cat sat on a mat")["Rouge-1-R"] == pytest.approx(5 / 6)


def test_mixed_chinese_english_uses_jieba_and_distinct_ngrams():
    # jieba: ["Python", "是", "语言"] vs ["Python", "是", "一种", "语言"] -> tokens split on spaces.
    r = rouge_scores("Python是语言", "Python是一种语言")
    assert r["Rouge-1-R"] == pytest.approx(3 / 4)
    assert r["Rouge-1-P"] == pytest.approx(1.0)
    assert r["Rouge-1-F"] == pytest.approx(2 * 0.75 / (1.75 + 1e-8))
    # ROUGE-N on CJK counts distinct n-grams (rouge_chinese sets): 北京 x3 vs 北京 -> P = 1,
    # where counted n-grams would give 1/3.
    assert rouge_scores("北京 北京 北京", "北京")["Rouge-1-P"] == pytest.approx(1.0)


def test_cjk_detection_covers_extension_blocks():
    assert has_cjk("\u9fa6")  # beyond EvalScope's U+9FA5 bound
    assert has_cjk("\U00020000") and has_cjk("\u3400")
    assert not has_cjk("ｆｕｌｌ ｗｉｄｔｈ")


def test_short_answer_metrics():
    assert exact_match("  Ｂｅｉｊｉｎｇ。", "beijing") == 1.0
    assert exact_match("Beijing city", "beijing") == 0.0
    assert contains("The answer is: Beijing!", "beijing") == 1.0
    assert contains("anything", "") == 0.0
    assert numeric_match("so the total is ３，５００.0 apples", "3500") == 1.0
    assert numeric_match("first 12 then 13", "12") == 0.0
    assert numeric_match("x = -0.5", "-.5") == 1.0
    assert numeric_match("no number", "1") == 0.0


def test_wilson_and_bootstrap():
    low, high = wilson(8, 10)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    assert wilson(0, 0) == (0.0, 0.0)
    values = [0.0, 1.0] * 50
    a, b = bootstrap_mean(values, seed=3), bootstrap_mean(values, seed=3)
    assert a == b and a[0] < 0.5 < a[1]
    # A known case: the bootstrap interval of a constant is that constant.
    assert bootstrap_mean([0.25] * 10) == (0.25, 0.25)
