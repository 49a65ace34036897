"""Time to read one hostile 100,000-character model output, per extraction, beside the plain (pre-0.2) patterns.

Each row: the harness's extraction on 100,000 characters, and the plain pattern on 10,000 and 20,000 characters
(it is quadratic: 100,000 would take minutes), so the ratio column shows the growth. Target: under 50 ms per
100,000-character answer for every row. Run: `python benchmarks/output_regexes.py`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_output_regexes import PLAIN_MARKERS, PLAIN_SCORE_LINE, plain_clean, plain_extract  # noqa: E402

from harness.engine import extract, verdicts  # noqa: E402
from harness.metrics import gsm8k  # noqa: E402

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
