"""The backend contract: two methods, documented the way lm-eval documents `loglikelihood`.

Requests carry chat messages, never pre-rendered strings, so each backend renders them its
own way (chat template, plain text, or an API's message list) through `harness.prompting`.

`score_choices(requests)`: for each request, the log-probability of every continuation given
the context. The context is the rendered prompt plus `answer_prefix`; each continuation is
joined to it as `harness.prompting.join_continuation` says (the target delimiter, e.g. " ",
goes at the start of the continuation, lm-eval style). Returns, per continuation, the summed
log-probability of its tokens (natural log) and its token count, in request order.

`generate(requests, config)`: generate from each prompt until `config.max_new_tokens`, an
end-of-sequence token or a stop string (the stop string itself is cut off); returns the
generated text only, in request order. A request that failed (API errors) returns
`Generation(text=None, error=...)` (or `ChoiceResult(error=...)`) rather than raising.

A backend may also say how it computes each MCQ scoring mode in `scoring_via` (mode -> method,
e.g. {"letter": "completions-echo"}); a mode missing there is refused before any work. Local
backends compute every mode from the model's log-probabilities and leave it out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from harness.config import GenerationConfig
from tasks.sample import Message

__all__ = ["Backend", "ChoiceRequest", "ChoiceResult", "GenerateRequest", "Generation"]


@dataclass(frozen=True)
class ChoiceRequest:
    """Score `continuations` after the prompt; `key` identifies the sample."""

    key: str
    messages: tuple[Message, ...]
    continuations: tuple[str, ...]
    answer_prefix: str = ""
    target_delimiter: str = " "
    chat_template: bool | None = None


@dataclass(frozen=True)
class ChoiceResult:
    """Summed log-probability and token count per continuation, plus the exact context text.

    `error` marks a request that failed for good (API backends): the sample is recorded as
    failed, never scored. `no_answer` marks a reply in which no option could be read (an API's
    top log-probabilities when the model did not answer with a letter): wrong, and counted.
    """

    logprobs: tuple[float, ...]
    token_counts: tuple[int, ...]
    context: str = ""
    error: str | None = None
    no_answer: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class GenerateRequest:
    """Generate a reply to `messages`; `letters` lists the MCQ options offered (empty for QA)."""

    key: str
    messages: tuple[Message, ...]
    chat_template: bool | None = None
    letters: str = ""


@dataclass(frozen=True)
class Generation:
    """A generated reply, or the error that prevented it."""

    text: str | None
    error: str | None = None
    prompt: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """A model behind the two calls above."""

    name: str
    default_scoring: str

    def fingerprint(self) -> dict[str, Any]:
        """What identifies the model's outputs (name, revision or file hash, dtype)."""
        ...

    def score_choices(self, requests: Sequence[ChoiceRequest]) -> list[ChoiceResult]:
        """Log-probabilities of each request's continuations."""
        ...

    def generate(self, requests: Sequence[GenerateRequest], config: GenerationConfig) -> list[Generation]:
        """Generated replies."""
        ...
