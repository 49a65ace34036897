"""One server-sent event of a streamed chat completion, read as untrusted input.

`harness perf` counts a request as OK only when its stream is well formed to the end: every `data:`
line is JSON or `[DONE]`, no event carries an error, token usage is possible (completion tokens a whole
number from 0 to the request's max_tokens, prompt tokens from 0 to `MAX_PROMPT_TOKENS`), and the stream
ends with `[DONE]`. A generated token is a chunk with text: chat `content`, `reasoning_content` or
`reasoning` (a reasoning model's first token counts for TTFT), or a completion's `text`. A 200 whose stream carries only an error
event is an error, not a success.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from harness.core.redact import redact

__all__ = ["MAX_PROMPT_TOKENS", "Event", "parse_event"]

MAX_PROMPT_TOKENS = 10_000_000
_TEXT = ("content", "reasoning_content", "reasoning")


@dataclass(frozen=True)
class Event:
    """What one `data:` payload says: the end, a generated token (content or reasoning), token usage, or an error."""

    done: bool = False
    token: bool = False
    usage: int | None = None
    error: str | None = None
    prompt_tokens: int | None = None


def parse_event(data: str, max_tokens: int) -> Event:
    """Read the payload of one `data:` line.

    >>> parse_event('{"choices": [{"delta": {"content": "Hi"}}]}', 8)
    Event(done=False, token=True, usage=None, error=None, prompt_tokens=None)
    >>> parse_event('{"error": {"message": "overloaded"}}', 8).error
    "error event: {'message': 'overloaded'}"
    >>> parse_event('{"choices": [], "usage": {"completion_tokens": -3}}', 8).error
    'impossible usage: completion_tokens -3 (expected 0 to 8)'
    """
    data = data.strip()
    if data == "[DONE]":
        return Event(done=True)
    try:
        event = json.loads(data)
    except (json.JSONDecodeError, RecursionError):
        return Event(error=f"malformed event: {redact(data)[:80]}")
    if not isinstance(event, dict):
        return Event(error=f"malformed event: {redact(data)[:80]}")
    if event.get("error") is not None:
        return Event(error=f"error event: {redact(str(event['error']))[:160]}")
    usage = prompt = None
    counts = event["usage"] if isinstance(event.get("usage"), dict) else {}
    for key, high in (("completion_tokens", max_tokens), ("prompt_tokens", MAX_PROMPT_TOKENS)):
        value = counts.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
            return Event(error=f"impossible usage: {key} {value!r} (expected 0 to {high})")
        usage, prompt = (value, prompt) if key == "completion_tokens" else (usage, value)
    choices = event.get("choices")
    if choices is not None and not isinstance(choices, list):
        return Event(error=f"malformed event: choices is {type(choices).__name__}")
    token = False
    for choice in choices or []:
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta")
        if isinstance(delta, dict) and any(isinstance(delta.get(k), str) and delta[k] for k in _TEXT):
            token = True
        if isinstance(choice.get("text"), str) and choice["text"]:
            token = True
    return Event(token=token, usage=usage, prompt_tokens=prompt)
