"""What `harness perf` sends and what it reports per level: the request's shape, a load level, a level's figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["OWN_FIELDS", "Level", "LevelResult", "RequestShape"]

# Fields perf sets itself: --extra-body may not change them (the measurement depends on each). Every field that
# sets how many tokens are generated (or how many replies) is among them: its flag sets it, or nothing does.
OWN_FIELDS = ("model", "messages", "prompt", "stream", "stream_options", "max_tokens", "max_completion_tokens", "min_tokens",
              "ignore_eos", "n", "best_of")  # fmt: skip


@dataclass(frozen=True)
class RequestShape:
    """What every request sends besides its prompt: endpoint, output length controls, extra fields."""

    max_tokens: int = 64
    endpoint: str = "chat"  # or "completions"
    ignore_eos: bool = False
    min_tokens: int | None = None
    extra_body: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """`/chat/completions` or `/completions`."""
        return "/chat/completions" if self.endpoint == "chat" else "/completions"

    def payload(self, model: str, prompt: str) -> dict[str, Any]:
        """The request body for one prompt."""
        body: dict[str, Any] = {**self.extra_body, "model": model, "max_tokens": self.max_tokens,
                                "stream": True, "stream_options": {"include_usage": True}}  # fmt: skip
        body.setdefault("temperature", 0.0)
        if self.endpoint == "chat":
            body["messages"] = [{"role": "user", "content": prompt}]
        else:
            body["prompt"] = prompt
        if self.ignore_eos:
            body["ignore_eos"] = True
        if self.min_tokens is not None:
            body["min_tokens"] = self.min_tokens
        return body


@dataclass(frozen=True)
class Level:
    """One load level: `concurrency` requests in flight, or a Poisson arrival `rate` per second."""

    concurrency: int | None = None
    rate: float | None = None

    @property
    def label(self) -> str:
        """`concurrency 4` or `rate 2.0/s`."""
        return f"concurrency {self.concurrency}" if self.concurrency else f"rate {self.rate:g}/s"


@dataclass
class LevelResult:
    """What one level measured; timings in milliseconds.

    `requests` counts the requests sent (ok + errors + cut); `cut` were still running at `--max-seconds` (the
    harness's own limit, never a server error) and `unsent` were never sent because the level's time was up.
    """

    level: str
    requests: int
    ok: int
    errors: int
    seconds: float
    requests_per_s: float
    output_tokens_per_s: float
    input_tokens: int = 0
    output_tokens: int = 0
    input_tokens_per_s: float = 0.0
    total_tokens_per_s: float = 0.0
    ttft_ms: dict[str, float] = field(default_factory=dict)
    tpot_ms: dict[str, float] = field(default_factory=dict)
    itl_ms: dict[str, float] = field(default_factory=dict)
    e2e_ms: dict[str, float] = field(default_factory=dict)
    first_error: str | None = None
    cut: int = 0
    unsent: int = 0
