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

import re
import signal
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.engine import extract, verdicts
from harness.metrics import gsm8k

# The plain forms, as they were: the reference semantics.
_L = "[A-J]"
_MULTI = rf"({_L}(?:\s*[,，、和与&]?\s*{_L})*)"
PLAIN_RULES = (
    ("answer_tag_zh", re.compile(rf"答案\s*(?:是|为)?\s*[:：]?\s*{_MULTI}"), True),
    ("answer_tag", re.compile(rf"ANSWER\s*(?:IS)?\s*[:：]\s*\$?\(?{_MULTI}", re.IGNORECASE), True),
    ("xuan", re.compile(rf"选(?:择)?\s*(?:项)?\s*{_MULTI}"), True),
    ("bare", re.compile(rf"^\s*\(?{_MULTI}\)?\s*[.。]?\s*$"), False),
    ("paren", re.compile(rf"\(({_L})\)"), False),
)
PLAIN_LEADING = re.compile(rf"^\s*\(?({_L})[.。、:：)]", re.MULTILINE)
PLAIN_SCORE_LINE = re.compile(r"^\W*score\W{0,3}\s*[:：]\s*\**\s*(-?\d+(?:\.\d+)?)", re.IGNORECASE | re.MULTILINE)
PLAIN_RATIONALE = re.compile(r"rationale\s*[:：]\s*(.*?)(?=\n\s*score\s*[:：]|\Z)", re.IGNORECASE | re.DOTALL)
PLAIN_DIRECTIVE = re.compile(
    r"(\bscore\b\W{0,3}\s*[:：=]\s*\**\s*-?\d|\"score\"\s*:|\b(give|rate|grade|score|award)\b[^.\n]{0,40}\b\d+\s*(/|out of)\s*\d+)", re.I
)
PLAIN_MARKERS = re.compile(r"^\s*(BEGIN|END)\s+(QUESTION|REFERENCE|ANSWER)\b", re.I | re.M)


def plain_clean(text: str) -> str:
    for pattern in (",", "\\$", "(?s).*#### ", "\\.$"):
        text = re.sub(pattern, "", text)
    return text.lower()


def plain_extract(text: str, letters: str):
    for name, pattern, last in PLAIN_RULES:
        matches = list(pattern.finditer(text))
        if not matches:
            continue
        groups = [m.group(1) for m in matches]
        found = groups[-1] if last else groups[0]
        picked = tuple(sorted(set(re.findall(_L, found.upper() if name == "answer_tag" else found))))
        if picked and all(c in letters for c in picked):
            return picked, name
    starts = [m.group(1) for m in PLAIN_LEADING.finditer(text)]
    if len(starts) == 1 and starts[0] in letters:
        return (starts[0],), "leading"
    return (), None


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
