"""Short-answer metrics for QA: exact match, contains, numeric match.

All three compare after `normalize`: Unicode NFKC (full-width letters, digits and
punctuation become half-width), lowercase, every Unicode punctuation character (Chinese and
English) replaced by a space, whitespace collapsed and trimmed. `numeric_match` reads numbers
from the NFKC text before punctuation is removed, so "3.5" and "-2" keep their dot and sign.

>>> normalize("  Ｔｈｅ Answer：北京！ ")
'the answer 北京'
>>> exact_match("北京。", "北京"), contains("答案是北京", "北京"), numeric_match("so x = 1,234.0", "1234")
(1.0, 1.0, 1.0)
"""

from __future__ import annotations

import math
import re
import unicodedata

__all__ = ["contains", "exact_match", "last_number", "normalize", "numeric_match"]

_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+")


def normalize(text: str) -> str:
    """NFKC, lowercase, punctuation to spaces, collapsed whitespace."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    return " ".join(text.split())


def exact_match(prediction: str, reference: str) -> float:
    """1.0 when the normalized texts are equal (an empty reference never matches)."""
    ref = normalize(reference)
    return float(bool(ref) and normalize(prediction) == ref)


def contains(prediction: str, reference: str) -> float:
    """1.0 when the normalized reference appears in the normalized prediction."""
    ref = normalize(reference)
    return float(bool(ref) and ref in normalize(prediction))


def last_number(text: str) -> float | None:
    """The last number written in `text` ("1,234.5" reads as 1234.5), or None."""
    found = _NUMBER.findall(unicodedata.normalize("NFKC", text))
    if not found:
        return None
    return float(found[-1].replace(",", ""))


def numeric_match(prediction: str, reference: str, rel_tol: float = 1e-6, abs_tol: float = 1e-9) -> float:
    """1.0 when the prediction's last number equals the reference's last number within tolerance."""
    want, got = last_number(reference), last_number(prediction)
    if want is None or got is None:
        return 0.0
    return float(math.isclose(got, want, rel_tol=rel_tol, abs_tol=abs_tol))
