"""Prompt building: MCQ and QA items become chat message lists.

Templates are worded like EvalScope's single-answer templates so scores stay comparable.
The assistant's reply is expected to start with `answer_prefix` ("ANSWER:" / "答案：")
followed by the letter; letter scoring reads the letter log-probabilities right there.
Tokenizers treat " A" and "A" as different tokens, so the delimiter between the prefix and
the letter is part of the prompt contract: " " after an ASCII colon, "" after a full-width one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.metrics.tokenize import has_cjk
from harness.tasks.args import DatasetArgs
from harness.tasks.modes import ScoringMode
from harness.tasks.sample import Message, letters_for

__all__ = ["MCQItem", "PromptStyle", "detect_language", "has_cjk", "mcq_messages", "fill", "mcq_style", "subject_name"]

EN_TEMPLATE = (
    "Answer the following multiple choice question. The entire content of your response should be of the "
    "following format: 'ANSWER: [LETTER]' (without quotes) where [LETTER] is one of {letters}.\n\n"
    "{question}\n\n{choices}"
)
EN_MULTI_TEMPLATE = (
    "Answer the following multiple choice question where multiple answers may be correct. The entire content "
    "of your response should be of the following format: 'ANSWER: [LETTERS]' (without quotes) where [LETTERS] "
    "is one or more of {letters}.\n\n{question}\n\n{choices}"
)
ZH_TEMPLATE = (
    '回答下面的单项选择题，请选出其中的正确答案。你的回答的全部内容应该是这样的格式："答案：[LETTER]"（不带引号），'
    "其中 [LETTER] 是 {letters} 中的一个。\n\n问题：{question}\n选项：\n{choices}"
)
ZH_MULTI_TEMPLATE = (
    '回答下面的多项选择题，请选出其中的所有正确答案。你的回答的全部内容应该是这样的格式："答案：[LETTERS]"（不带引号），'
    "其中 [LETTERS] 是 {letters} 中的一个或多个。\n\n问题：{question}\n选项：\n{choices}"
)
# Cloze scoring asks for the option text itself, so the prompt is a bare question (lm-eval's style).
EN_CLOZE_TEMPLATE = "Question: {question}\nAnswer:"
ZH_CLOZE_TEMPLATE = "问题：{question}\n答案："


def detect_language(texts: Sequence[str]) -> str:
    """Return "zh" when at least a third of the sampled texts contain CJK ideographs, else "en"."""
    sample = [t for t in texts[:200] if t.strip()]
    if not sample:
        return "en"
    return "zh" if sum(has_cjk(t) for t in sample) * 3 >= len(sample) else "en"


@dataclass(frozen=True)
class MCQItem:
    """A parsed MCQ row: question, option texts in letter order, correct letters."""

    question: str
    choices: tuple[str, ...]
    answer: tuple[str, ...]


@dataclass(frozen=True)
class PromptStyle:
    """Everything that shapes an MCQ prompt, resolved once per dataset."""

    template: str
    choice_format: str
    answer_prefix: str
    target_delimiter: str
    system_prompt: str | None
    cloze: bool


def subject_name(args: DatasetArgs, subset: str) -> str:
    """A subset's name as `{subject}` in a system prompt: from `subject_names`, else the name with spaces for `_`.

    >>> subject_name(DatasetArgs(), "high_school_physics")
    'high school physics'
    """
    return (args.subject_names or {}).get(subset, subset.replace("_", " "))


def mcq_style(args: DatasetArgs, language: str, scoring: ScoringMode, *, subject: str = "") -> PromptStyle:
    """Resolve the template, answer prefix and delimiter from the dataset args and language."""
    zh = language == "zh"
    cloze = scoring is ScoringMode.CLOZE
    if cloze:
        default = ZH_CLOZE_TEMPLATE if zh else EN_CLOZE_TEMPLATE
        prefix = ""
    else:
        pair = (ZH_MULTI_TEMPLATE, EN_MULTI_TEMPLATE) if args.multiple_correct else (ZH_TEMPLATE, EN_TEMPLATE)
        default = pair[0] if zh else pair[1]
        prefix = "答案：" if zh else "ANSWER:"
    template = args.prompt_template or default
    if args.prompt_template:
        # A user template carries its own cue ("Answer:"); nothing is added after it.
        prefix = ""
    if args.target_delimiter is not None:
        delimiter = args.target_delimiter
    elif cloze or not zh:
        delimiter = " "
    else:
        delimiter = ""
    system = args.system_prompt.replace("{subject}", subject) if args.system_prompt else args.system_prompt
    return PromptStyle(template, args.choice_format, prefix, delimiter, system, cloze)


def _user_text(item: MCQItem, style: PromptStyle) -> str:
    letters = letters_for(len(item.choices))
    choices = "\n".join(style.choice_format.format(letter=c, text=t) for c, t in zip(letters, item.choices, strict=True))
    fields = {"question": item.question, "choices": choices, "letters": ",".join(letters)}
    fields.update({c: t for c, t in zip(letters, item.choices, strict=True)})
    return fill(style.template, fields)


def fill(template: str, fields: dict[str, str]) -> str:
    """`template` with its {fields} filled; unknown ones stay as written, `{{`/`}}` are literal braces."""
    return template.format_map(_Missing(fields))


class _Missing(dict[str, str]):
    """Leave unknown {fields} in a user template as written instead of raising KeyError."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def mcq_messages(item: MCQItem, style: PromptStyle, shots: Sequence[MCQItem] = ()) -> tuple[Message, ...]:
    """The chat prompt for one question; few-shot examples become earlier user/assistant turns."""
    messages: list[Message] = []
    if style.system_prompt:
        messages.append({"role": "system", "content": style.system_prompt})
    for shot in shots:
        messages.append({"role": "user", "content": _user_text(shot, style)})
        reply = shot.choices[ord(shot.answer[0]) - ord("A")] if style.cloze else ",".join(shot.answer)
        lead = style.answer_prefix + style.target_delimiter if style.answer_prefix else ""
        messages.append({"role": "assistant", "content": lead + reply})
    messages.append({"role": "user", "content": _user_text(item, style)})
    return tuple(messages)
