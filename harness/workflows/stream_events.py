"""One server-sent event of a streamed chat completion, read as untrusted input.

`harness perf` counts a request as OK only when its stream is well formed to the end: every `data:`
line is JSON or `[DONE]`, no event carries an error, token usage is possible (a whole number from 0 to
the request's max_tokens), and the stream ends with `[DONE]`. A 200 whose stream carries only an error
event is an error, not a success.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from harness.core.redact import redact

__all__ = ["Event", "parse_event"]


@dataclass(frozen=True)
class Event:
    """What one `data:` payload says: the end, a generated token (content or reasoning), token usage, or an error."""

    done: bool = False
    token: bool = False
    usage: int | None = None
    error: str | None = None


def parse_event(data: str, max_tokens: int) -> Event:
    """Read the payload of one `data:` line.

    >>> parse_event('{"choices": [{"delta": {"content": "Hi"}}]}', 8)
    Event(done=False, token=True, usage=None, error=None)
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
    usage = None
    if isinstance(event.get("usage"), dict) and event["usage"].get("completion_tokens") is not None:
        value = event["usage"]["completion_tokens"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= max_tokens:
            return Event(error=f"impossible usage: completion_tokens {value!r} (expected 0 to {max_tokens})")
        usage = value
    choices = event.get("choices")
    if choices is not None and not isinstance(choices, list):
        return Event(error=f"malformed event: choices is {type(choices).__name__}")
    token = False
    for choice in choices or []:
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if isinstance(delta, dict) and any(isinstance(delta.get(k), str) and delta[k] for k in ("content", "reasoning_content")):
            token = True
    return Event(token=token, usage=usage)
