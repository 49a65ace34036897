"""Time to read one hostile 100,000-character model output, per extraction, beside the plain (pre-0.2) patterns.

Each row: the harness's extraction on 100,000 characters, and the plain pattern on 10,000 and 20,000 characters
(it is quadratic: 100,000 would take minutes), so the ratio column shows the growth. Target: under 50 ms per
100,000-character answer for every row. Run: `python benchmarks/output_regexes.py`.
"""

from __future__ import annotations

import re
import time

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
    """The harness's rule order and selection, on the plain patterns: only the regexes differ."""
    return extract.apply_rules(text, letters, PLAIN_RULES, PLAIN_LEADING, _L)


CASES = {
    "GSM8K: digits and commas": (
        lambda t: (gsm8k.strict_match(t, "#### 5"), gsm8k.flexible_extract(t, "#### 5")),
        lambda t: plain_clean(t),
        lambda n: "1,2" * (n // 3),
    ),  # fmt: skip
    "GSM8K: digits, no ####": (lambda t: gsm8k.flexible_extract(t, "#### 5"), plain_clean, lambda n: "1" * n),
    "MCQ letter: spaces after ANSWER:": (
        lambda t: extract.extract_letters(t, "ABCD"),
        lambda t: plain_extract(t, "ABCD"),
        lambda n: "ANSWER: A" + " " * n + "x",
    ),  # fmt: skip
    "MCQ letter: newlines": (lambda t: extract.extract_letters(t, "ABCD"), lambda t: plain_extract(t, "ABCD"), lambda n: "\n" * n),
    "judge reply: Score: and spaces": (lambda t: verdicts.parse_reply(t, 1, 10), PLAIN_SCORE_LINE.findall, lambda n: "Score:" + " " * n),
    "judged answer: newlines": (verdicts.judge_flags, PLAIN_MARKERS.search, lambda n: "\n" * n),
}


def best(fn, text: str, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn(text)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    print("| output | harness, 100k chars (ms) | plain, 10k (ms) | plain, 20k (ms) | plain 20k / 10k |")
    print("|---|---:|---:|---:|---:|")
    for name, (ours, plain, make) in CASES.items():
        mine = best(ours, make(100_000))
        p10, p20 = best(plain, make(10_000), 1), best(plain, make(20_000), 1)
        print(f"| {name} | {1000 * mine:.1f} | {1000 * p10:.0f} | {1000 * p20:.0f} | {p20 / p10:.1f}x |")


if __name__ == "__main__":
    main()
