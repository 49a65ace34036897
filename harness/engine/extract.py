r"""Extract the chosen letter(s) from generated MCQ answers, recording which rule matched.

Rules are tried in order; the first that matches wins and its name is stored per sample.
An output no rule recognises is "no answer": wrong, counted in the report, never guessed.
The explicit forms ("答案：B", "ANSWER: B") take their last occurrence, since templates ask
for the answer on the last line.

>>> extract_letters("The answer is clear.\nANSWER: B", "ABCD")
(('B',), 'answer_tag')
>>> extract_letters("选C", "ABCD"), extract_letters("I think (D) fits", "ABCD")
((('C',), 'xuan'), (('D',), 'paren'))
>>> extract_letters("B. Paris", "ABCD"), extract_letters("答案：B", "ABCD")
((('B',), 'leading'), (('B',), 'answer_tag_zh'))
>>> extract_letters("A) Paris\nB) Rome", "ABCD")
((), None)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

__all__ = ["RULES", "apply_rules", "extract_letters"]

# Every pattern runs on model output, so each is written to take time linear in it: no two unbounded runs that
# can trade characters (`\s*x?\s*` is written `\s*(?:x\s*)?`), and `^` under MULTILINE is followed by
# `[^\S\n]*`, never `\s*` (which would rescan every later line from each line start). The matches are the
# ones of the plain forms (tests/test_output_regexes.py checks both on random text).
_L = "[A-J]"  # up to 10 options, as EvalScope's general_mcq; a data set with more gets the whole alphabet (below)


@functools.cache
def _rules(letter_class: str) -> tuple[tuple[tuple[str, re.Pattern[str], bool], ...], re.Pattern[str]]:
    """The rules and the leading-letter pattern for one letter class (`[A-J]`, or `[A-Z]` for more options)."""
    multi = rf"({letter_class}(?:\s*(?:[,，、和与&]\s*)?{letter_class})*)"
    rules = (
        ("answer_tag_zh", re.compile(rf"答案\s*(?:[是为]\s*)?(?:[:：]\s*)?{multi}"), True),
        ("answer_tag", re.compile(rf"ANSWER\s*(?:IS\s*)?[:：]\s*\$?\(?{multi}", re.IGNORECASE), True),
        ("xuan", re.compile(rf"选(?:择)?\s*(?:项\s*)?{multi}"), True),
        ("bare", re.compile(rf"^\s*\(?{multi}\)?\s*(?:[.。]\s*)?$"), False),
        ("paren", re.compile(rf"\(({letter_class})\)"), False),
    )
    return rules, re.compile(rf"^[^\S\n]*\(?({letter_class})[.。、:：)]", re.MULTILINE)


RULES = _rules(_L)[0]


def extract_letters(text: str, letters: str) -> tuple[tuple[str, ...], str | None]:
    """(chosen letters, rule name), or ((), None) when no rule finds a valid answer."""
    letter_class = _L if set(letters) <= set("ABCDEFGHIJ") else "[A-Z]"
    rules, leading = _rules(letter_class)
    return apply_rules(text, letters, rules, leading, letter_class)


def apply_rules(
    text: str, letters: str, rules: Sequence[tuple[str, re.Pattern[str], bool]], leading: re.Pattern[str], letter_class: str
) -> tuple[tuple[str, ...], str | None]:
    """The first rule that finds a valid answer, then a single leading letter (benchmarks pass other patterns)."""
    for name, pattern, last in rules:
        matches = list(pattern.finditer(text))
        if not matches:
            continue
        groups = [m.group(1) for m in matches]
        found = groups[-1] if last else groups[0]
        picked = tuple(sorted(set(re.findall(letter_class, found.upper() if name == "answer_tag" else found))))
        if picked and all(c in letters for c in picked):
            return picked, name
    starts = [m.group(1) for m in leading.finditer(text)]
    if len(starts) == 1 and starts[0] in letters:
        # "B. Paris" is an answer; "A) ...\nB) ..." is the options echoed back, not an answer.
        return (starts[0],), "leading"
    return (), None
