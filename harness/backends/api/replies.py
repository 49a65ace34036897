"""What an OpenAI-compatible server's 200 answer means: its text, its echoed or top log-probabilities.

A server is untrusted input: every reader here checks the shape it relies on and returns None for an
answer it cannot use (the caller records why, with the start of the answer, redacted), never raising
on a malformed reply.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from harness.core.redact import redact

__all__ = ["ABSENT_LOGPROB", "chat_tokens", "echo_logprobs", "letter_logprobs", "reply_text", "unusable"]

# An option missing from the server's top log-probabilities is less likely than every listed one;
# it gets this floor so it can never win, and the per-sample record shows the floor as such.
ABSENT_LOGPROB = -1e4


def unusable(what: str, answer: dict[str, Any]) -> str:
    """Why a 200 answer could not be used, with the start of the server's text (redacted before it is cut)."""
    return f"{what}: {redact(json.dumps(answer, ensure_ascii=False))[:160]}"


def reply_text(answer: dict[str, Any]) -> str | None:
    """The first choice's text (chat message content, or completion text), or None."""
    try:
        choice = answer["choices"][0]
        text = choice["message"]["content"] if "message" in choice else choice["text"]
    except (KeyError, IndexError, TypeError):
        return None
    return text if isinstance(text, str) else None


def echo_logprobs(answer: dict[str, Any], n_prompt: int, index: int = 0) -> list[float] | None:
    """The first `n_prompt` echoed token log-probs of choice `index` (the first is None: nothing precedes it)."""
    try:
        choice = next(c for c in answer["choices"] if c.get("index", 0) == index)
        values = choice["logprobs"]["token_logprobs"]
    except (KeyError, TypeError, StopIteration):
        return None
    if not isinstance(values, list) or len(values) < n_prompt:
        return None
    head = values[:n_prompt]
    if any(v is not None and not isinstance(v, int | float) for v in head):
        return None
    return [float(v) if v is not None else 0.0 for v in head]


def chat_tokens(answer: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The first choice's per-token log-probabilities with their top alternatives, or None."""
    try:
        content = answer["choices"][0]["logprobs"]["content"]
    except (KeyError, IndexError, TypeError):
        return None
    return content if isinstance(content, list) and content and "top_logprobs" in content[0] else None


def letter_logprobs(tokens: list[dict[str, Any]], letters: Sequence[str], answer_prefix: str) -> tuple[float, ...] | None:
    """Each letter's log-probability at the first reply token that can hold the letter, or None if none can.

    That token comes first, or right after the answer prefix or any colon ("Answer: B" to a
    Chinese prompt whose prefix is "答案："). " B" and "B" are different tokens for the same
    answer: their probabilities are added.
    """
    before = ""
    ends = tuple(e for e in (answer_prefix.strip(), ":", "：") if e)
    for token in tokens:
        lead = before.strip()
        if not lead or lead.endswith(ends):
            found: dict[str, list[float]] = {}
            for alt in token.get("top_logprobs") or []:
                key = str(alt.get("token", "")).strip()
                if key in letters:
                    found.setdefault(key, []).append(float(alt["logprob"]))
            if str(token.get("token", "")).strip() in letters and found:
                return tuple(_logsumexp(found[c]) if c in found else ABSENT_LOGPROB for c in letters)
        before += str(token.get("token", ""))
    return None


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))
