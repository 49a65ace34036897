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

from harness.backends.base import ChoiceRequest
from harness.core.errors import UserError
from harness.tasks.sample import Message

__all__ = ["chat_mode", "encode_many", "join_continuation", "render_context", "render_plain"]


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


def chat_mode(tokenizer: Any, flag: bool | None) -> bool:
    """Whether to apply the chat template: the dataset's choice, else whenever the tokenizer has one."""
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if flag and not has_template:
        raise UserError("chat_template: true, but this tokenizer has no chat template")
    return has_template if flag is None else flag


def encode_many(tokenizer: Any, requests: Sequence[ChoiceRequest]) -> list[tuple[str, list[int], list[list[int]]]]:
    """(context text, context ids, ids of each continuation) per request: the exact token sequences every backend scores.

    Split the way lm-eval's `_encode_pair` does: spaces ending the context move to the start of the
    continuation, and the continuation's ids are those of context + continuation after the context's.
    Every context is tokenized once, and all texts go through one batched tokenizer call: per-call
    tokenizer overhead was half the scoring time on a GPU.
    """
    contexts, texts = [], []
    for req in requests:
        chat = chat_mode(tokenizer, req.chat_template)
        context = render_context(tokenizer, req.messages, chat=chat, answer_prefix=req.answer_prefix, delimiter=req.target_delimiter)
        stripped = context.rstrip(" ")
        spaces = context[len(stripped) :]
        contexts.append(context)
        texts.append(stripped)
        joined = (
            join_continuation(c, chat=chat, answer_prefix=req.answer_prefix, delimiter=req.target_delimiter) for c in req.continuations
        )
        texts += [stripped + spaces + j for j in joined]
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
    out, k = [], 0
    for context, req in zip(contexts, requests, strict=True):
        n = len(req.continuations)
        ctx, wholes = list(ids[k]), ids[k + 1 : k + 1 + n]
        k += 1 + n
        conts = [list(w[len(ctx) :]) for w in wholes]
        if any(list(w[: len(ctx)]) != ctx for w in wholes) or any(not c for c in conts):
            raise UserError("a scored continuation merges into the context's tokens; set dataset arg target_delimiter")
        out.append((context, ctx, conts))
    return out
