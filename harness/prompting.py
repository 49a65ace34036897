r"""Render chat messages into the exact text a local model sees, and join scored continuations.

Chat mode: the tokenizer's chat template with the generation prompt, then `answer_prefix`.
Plain mode (lm-eval's default, `chat_template: false`): turns joined by blank lines; an
assistant reply follows its user turn after a newline when the prompt has an answer prefix
("...\nANSWER: B"), else after the target delimiter ("Question: ...\nAnswer: Paris").

A continuation carries the delimiter at its start (lm-eval style): " A" after "ANSWER:",
"A" after "答案：", and no delimiter right after a chat template's assistant header.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tasks.errors import UserError
from tasks.sample import Message

__all__ = [
    "chat_mode",
    "encode_choices",
    "choice_spec",
    "encode_many",
    "encode_pair",
    "join_continuation",
    "render_context",
    "render_plain",
]


def render_plain(messages: Sequence[Message], answer_prefix: str, delimiter: str) -> str:
    """Plain-text rendering of a chat prompt, ending where the answer should start."""
    join = "\n" if answer_prefix else delimiter
    blocks: list[str] = []
    for m in messages:
        if m["role"] == "assistant" and blocks:
            blocks[-1] += join + m["content"]
        else:
            blocks.append(m["content"])
    text = "\n\n".join(blocks)
    return text + ("\n" + answer_prefix if answer_prefix else "")


def render_context(tokenizer: Any, messages: Sequence[Message], *, chat: bool, answer_prefix: str = "", delimiter: str = " ") -> str:
    """The prompt text up to where the model's answer starts."""
    if chat:
        text = tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        return str(text) + answer_prefix
    return render_plain(messages, answer_prefix, delimiter)


def join_continuation(continuation: str, *, chat: bool, answer_prefix: str, delimiter: str) -> str:
    """The continuation text as scored: with the delimiter unless it directly follows a chat header."""
    if chat and not answer_prefix:
        return continuation
    return delimiter + continuation


def encode_pair(tokenizer: Any, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """(context ids, continuation ids) the way lm-eval's `_encode_pair` splits them."""
    spaces = len(context) - len(context.rstrip(" "))
    if spaces:
        continuation = context[-spaces:] + continuation
        context = context[:-spaces]
    whole = tokenizer.encode(context + continuation, add_special_tokens=False)
    ctx = tokenizer.encode(context, add_special_tokens=False)
    return ctx, whole[len(ctx) :]


def chat_mode(tokenizer: Any, flag: bool | None) -> bool:
    """Whether to apply the chat template: the dataset's choice, else whenever the tokenizer has one."""
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if flag and not has_template:
        raise UserError("chat_template: true, but this tokenizer has no chat template")
    return has_template if flag is None else flag


def encode_choices(
    tokenizer: Any,
    messages: Sequence[Message],
    continuations: Sequence[str],
    *,
    chat_template: bool | None,
    answer_prefix: str,
    delimiter: str,
) -> tuple[str, list[int], list[list[int]]]:
    """(context text, context ids, ids of each continuation): the exact token sequences every local backend scores."""
    return encode_many(tokenizer, [(messages, continuations, chat_template, answer_prefix, delimiter)])[0]


ChoiceSpec = tuple[Sequence[Message], Sequence[str], "bool | None", str, str]


def choice_spec(request: Any) -> ChoiceSpec:
    """The `encode_many` input of a `harness.backends.base.ChoiceRequest`."""
    return (request.messages, request.continuations, request.chat_template, request.answer_prefix, request.target_delimiter)


def encode_many(tokenizer: Any, specs: Sequence[ChoiceSpec]) -> list[tuple[str, list[int], list[list[int]]]]:
    """`encode_choices` for many requests: (messages, continuations, chat_template, answer_prefix, delimiter) each.

    Each continuation is split off as `encode_pair` does, with every context tokenized once and all
    texts in one batched tokenizer call: per-call tokenizer overhead was half the scoring time on a GPU.
    """
    contexts, texts = [], []
    for messages, continuations, chat_template, answer_prefix, delimiter in specs:
        chat = chat_mode(tokenizer, chat_template)
        context = render_context(tokenizer, messages, chat=chat, answer_prefix=answer_prefix, delimiter=delimiter)
        stripped = context.rstrip(" ")
        spaces = context[len(stripped) :]
        contexts.append(context)
        texts.append(stripped)
        texts += [
            stripped + spaces + join_continuation(c, chat=chat, answer_prefix=answer_prefix, delimiter=delimiter) for c in continuations
        ]
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
    out, k = [], 0
    for context, spec in zip(contexts, specs, strict=True):
        ctx, wholes = list(ids[k]), ids[k + 1 : k + 1 + len(spec[1])]
        k += 1 + len(spec[1])
        conts = [list(w[len(ctx) :]) for w in wholes]
        if any(list(w[: len(ctx)]) != ctx for w in wholes) or any(not c for c in conts):
            raise UserError("a scored continuation merges into the context's tokens; set dataset arg target_delimiter")
        out.append((context, ctx, conts))
    return out
