"""Every regex that reads model output (MCQ letter extraction, GSM8K strict/flexible, the judge's reply and the answer it
grades) is linear in the output, and finds what its plain, backtracking-prone form finds.

Two checks per pattern:
- equal: hypothesis draws text from the characters the patterns care about, short enough that the plain forms
  (the ones before harness 0.2's rewrite, kept here as the reference) answer at once, and both must agree;
- linear: a 1,000,000-character hostile output (whitespace runs, newlines, digit runs, repeated labels). A
  quadratic pattern needs minutes there; the linear ones milliseconds. The alarm is a hang guard with a
  margin of thousands, not a timing assertion (speeds are in benchmarks/output_regexes.py).
"""

from __future__ import annotations

import signal
import sys
from contextlib import contextmanager

import pytest
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.engine import extract, verdicts
from harness.metrics import gsm8k

# The plain forms, as they were (the reference semantics), live with the benchmark that times them.
sys.path.insert(0, str(ROOT / "benchmarks"))

from output_regexes import (  # noqa: E402
    PLAIN_DIRECTIVE,
    PLAIN_MARKERS,
    PLAIN_RATIONALE,
    PLAIN_SCORE_LINE,
    plain_clean,
    plain_extract,
)

PIECES = [" ", "  ", "\n", "\n\n", "\t", "A", "B", "C", "K", "a", ",", "，", "和", "答案", "是", "为", ":", "：", "ANSWER", "answer is",
          "IS", "选", "择", "项", "(", ")", ".", "。", "$", "*", "score", "Score", "rationale", "Rationale", "=", "7", "12", "-",
          "#### ", "####", "1,000", "give", "out of", "/", "BEGIN", "END", "QUESTION", "ignore", "rubric", '"score"', "{", "}"]  # fmt: skip
TEXT = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)


@given(TEXT)
@settings(max_examples=600)
def test_letter_extraction_equals_the_plain_patterns(text):
    assert extract.extract_letters(text, "ABCD") == plain_extract(text, "ABCD")


@given(TEXT)
@settings(max_examples=600)
def test_gsm8k_cleaning_equals_lm_evals_regexes(text):
    assert gsm8k._clean(text) == plain_clean(text)


@given(TEXT)
@settings(max_examples=600)
def test_judge_reply_and_answer_flags_equal_the_plain_patterns(text):
    assert verdicts._SCORE_LINE.findall(text) == PLAIN_SCORE_LINE.findall(text)
    plain = PLAIN_RATIONALE.search(text)
    assert verdicts._rationale(text) == (plain.group(1) if plain else None)
    assert bool(verdicts._ADDRESSES_JUDGE["score directive"].search(text)) == bool(PLAIN_DIRECTIVE.search(text))
    assert bool(verdicts._ADDRESSES_JUDGE["block markers"].search(text)) == bool(PLAIN_MARKERS.search(text))


@contextmanager
def hang_guard(seconds: int):
    def stop(signum, frame):
        raise AssertionError(f"still running after {seconds} s on 1,000,000 characters: a pattern is not linear")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


N = 1_000_000
HOSTILE = {
    "spaces after a tag": "ANSWER: A" + " " * N + "x",
    "spaces after 答案": "答案" + " " * N,
    "spaces after 选": "选" + " " * N,
    "bare with trailing spaces": "A" + " " * N + "x",
    "newlines": "\n" * N,
    "newlines then a letter": "\n" * N + "B.",
    "score then spaces": "Score:" + " " * N,
    "score labels": "score: \n" * (N // 8),
    "rationale and newlines": "Rationale:" + "\n" * N,
    "rationale and labels": "Rationale: x" + " \n score" * (N // 9),
    "digits and commas": "1,2" * (N // 3),
    "digits": "#### " + "1" * N,
    "give and digits": "give " + "1" * N,
    "hashes": "####" * (N // 4),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_every_output_pattern_is_linear_on_hostile_output(name):
    text = HOSTILE[name]
    with hang_guard(60):
        extract.extract_letters(text, "ABCD")
        gsm8k.strict_match(text, "#### 5")
        gsm8k.flexible_extract(text, "#### 5")
        verdicts.parse_reply(text, 1, 10)
        verdicts.judge_flags(text)
