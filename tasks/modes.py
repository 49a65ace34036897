"""How an answer is computed from the model: the scoring mode, one type every layer compares by identity.

- `letter`: the log-probability of each option letter where the answer starts (one pass per question).
- `cloze`: the log-likelihood of each option's text after the question (lm-eval's multiple-choice style).
- `generate`: the model writes an answer; MCQ reads the letter from it, QA scores the text.

A `StrEnum`: it is written to JSON (records, results.json, run identity) as the plain word it always was, so
folders and identities from before the type existed read the same.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ALL_MODES", "CHOICE_MODES", "ScoringMode"]


class ScoringMode(StrEnum):
    """The scoring mode; see the module docstring."""

    LETTER = "letter"
    CLOZE = "cloze"
    GENERATE = "generate"

    @property
    def scores_choices(self) -> bool:
        """Whether the backend scores given continuations (log-probabilities) rather than generating.

        >>> ScoringMode("cloze").scores_choices, ScoringMode.GENERATE.scores_choices
        (True, False)
        """
        return self is not ScoringMode.GENERATE


ALL_MODES: tuple[ScoringMode, ...] = tuple(ScoringMode)
CHOICE_MODES: tuple[ScoringMode, ...] = tuple(m for m in ScoringMode if m.scores_choices)
