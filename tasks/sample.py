"""The unit of evaluation: one question with its prompt (as chat messages) and its reference."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Literal, TypedDict

__all__ = ["Message", "Sample", "letters_for"]

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # general_mcq: 2 to 10 options as EvalScope; up to 26 (TruthfulQA has 20)


class Message(TypedDict):
    """One chat turn, OpenAI style."""

    role: Literal["system", "user", "assistant"]
    content: str


def letters_for(n: int) -> str:
    """The option letters for `n` options: ``letters_for(3) == "ABC"``."""
    return LETTERS[:n]


@dataclass(frozen=True, slots=True)
class Sample:
    """One evaluated item.

    `messages` is the prompt. For MCQ, `choices` are the option texts in letter order,
    `answer` the correct letters (one, or several with `multiple_correct`), `answer_prefix`
    the text the assistant's reply starts with before the letter (e.g. ``"ANSWER:"``), so a
    log-likelihood backend scores the letters exactly where the prompt asks for them, and
    `target_delimiter` what joins that prefix and a scored continuation.
    `index` is the row's position in its file: with `subset` it keys the sample for resume.
    """

    task: str
    subset: str
    index: int
    id: str
    messages: tuple[Message, ...]
    reference: str
    line: int = 0
    choices: tuple[str, ...] = ()
    answer: tuple[str, ...] = ()
    answer_prefix: str = ""
    target_delimiter: str = " "
    chat_template: bool | None = None
    category: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    question: str = ""  # the data's question text (MCQ), apart from the prompt built around it

    @property
    def key(self) -> str:
        """Stable identity of the sample across runs: task/subset/row index."""
        return f"{self.task}/{self.subset}/{self.index}"

    @property
    def content_hash(self) -> str:
        """Hash of what is asked and what counts as right (prompt, reference, options, answer).

        Stored in each record, so that runs are compared only on samples that are the same
        question, not merely the same row number of a file that may have changed.
        """
        text = json.dumps([self.messages, self.reference, self.choices, self.answer], ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def question_hash(self) -> str:
        """Hash of the question alone (data, not prompt): the same for runs that differ only in scoring or shots.

        `compare` pairs on it, so letter vs cloze or 0- vs 5-shot runs of the same data compare, while an
        edited question, option or answer is still caught.
        """
        asked = self.question if self.question else self.messages
        text = json.dumps([asked, self.reference, self.choices, self.answer], ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def letters(self) -> str:
        """Option letters present for this sample."""
        return letters_for(len(self.choices))
