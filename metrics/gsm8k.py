r"""GSM8K's answer checks exactly as lm-eval 0.4's `gsm8k` task computes them: strict-match and flexible-extract.

Both filter the generated text with a regex and then compare with lm-eval's `exact_match` settings
for the task: the patterns ",", "$", everything up to "#### " and a final "." are deleted from both
the extracted answer and the reference (the full worked solution ending in "#### N"), then compared
case-insensitively. `strict-match` takes the first "#### N" in the output (a model must follow the
few-shot format); `flexible-extract` takes the last number-like run. No match is lm-eval's
"[invalid]", which never equals a reference.

>>> strict_match("She pays 3 * 2 = 6 dollars.\n#### 6", "3 * 2 = <<3*2=6>>6\n#### 6")
1.0
>>> strict_match("The answer is 6.", "#### 6"), flexible_extract("The answer is 6.", "#### 6")
(0.0, 1.0)
"""

from __future__ import annotations

import re

__all__ = ["extract_flexible", "extract_strict", "flexible_extract", "strict_match"]

_STRICT = re.compile(r"#### (\-?[0-9\.\,]+)")
_FLEXIBLE = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")
# lm-eval's exact_match ignore patterns, applied in order with re.sub: ",", "\$", "(?s).*#### ", "\.$". The third
# is quadratic in Python's engine on an answer without "#### " (100,000 characters: seconds); `_clean` computes
# the same result in linear time (checked against the regexes in tests/test_gsm8k_extract.py).
_IGNORE = (",", "\\$", "(?s).*#### ", "\\.$")
INVALID = "[invalid]"


def _first(found: list[str] | list[tuple[str, ...]], index: int) -> str:
    """lm-eval's RegexFilter: the `index`-th match; of a tuple of groups, the first non-empty one; stripped."""
    if not found:
        return INVALID
    match = found[index]
    if isinstance(match, tuple):
        groups = [m for m in match if m]
        if not groups:
            return INVALID
        match = groups[0]
    return match.strip()


def extract_strict(text: str) -> str:
    """The first "#### N" answer, or "[invalid]"."""
    return _first(_STRICT.findall(text), 0)


def extract_flexible(text: str) -> str:
    """The last number-like run, or "[invalid]"."""
    return _first(_FLEXIBLE.findall(text), -1)


def _clean(text: str) -> str:
    """lm-eval's ignore patterns and lowercasing, in linear time (see `_IGNORE`)."""
    text = text.replace(",", "").replace("$", "")
    cut = text.rfind("#### ")  # "(?s).*#### " is greedy: everything up to the last "#### " goes
    if cut >= 0:
        text = text[cut + 5 :]
    # "\.$": `$` is the end, or just before a final newline; one of the two can follow a "."
    if text.endswith(".\n"):
        text = text[:-2] + "\n"
    elif text.endswith("."):
        text = text[:-1]
    return text.lower()


def strict_match(prediction: str, reference: str) -> float:
    """1.0 when the first "#### N" of the prediction equals the reference's answer (lm-eval's strict-match)."""
    return float(_clean(extract_strict(prediction)) == _clean(reference))


def flexible_extract(prediction: str, reference: str) -> float:
    """1.0 when the prediction's last number-like run equals the reference's answer (lm-eval's flexible-extract)."""
    return float(_clean(extract_flexible(prediction)) == _clean(reference))
