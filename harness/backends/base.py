"""The backend contract, documented the way lm-eval documents its `LM` class.

A backend is handed *all* of a task's pending requests at once and schedules them as its engine
does best (token-budget batches, a decode loop, vLLM's queue, a window of HTTP requests). It
yields `(index, result)` pairs as results complete, in any order; `index` is the request's
position in the sequence given. The runner stores each result the moment it arrives, so
durability never depends on batch size, and a kill loses only what was in flight.

Requests carry chat messages, never pre-rendered strings, so each backend renders them its own
way (chat template, plain text, or an API's message list) through `harness.backends.prompting`.

`score_choices(requests)` yields, for each request, the log-probability of every continuation
given the context. The context is the rendered prompt plus `answer_prefix`; each continuation is
joined to it as `harness.backends.prompting.join_continuation` says (the target delimiter, e.g. " ", goes
at the start of the continuation, lm-eval style). A result holds, per continuation, the summed
log-probability of its tokens (natural log) and its token count.

`generate(requests, config)` yields the text generated from each prompt until
`config.max_new_tokens`, an end-of-sequence token or a stop string (the stop string itself is
cut off). A request that failed for good (API errors) yields `Generation(text=None, error=...)`
or `ChoiceResult(error=...)` rather than raising.

`check_lengths(requests, max_new_tokens)` lists the requests that do not fit the model's context
window (prompt + longest continuation, or prompt + `max_new_tokens`), before any work starts; it
returns `None` when the backend cannot count tokens (an API without a tokenizer). A request with
`truncate_to` set is cut from the left to that many prompt tokens (only when the user asked).

`scoring_modes` lists the modes a backend computes (`ScoringMode`: letter, cloze, generate); a task asking for
another is refused before any work. A backend written before it existed (a user's wrapper) is read
through `offered_modes`: the modes named in its `scoring_via` and generation, or all when that is
empty. `scoring_via` says how a server-backed backend computes each MCQ mode (mode -> method, e.g.
{"letter": "completions-echo"}); local backends compute every mode from the model's log-probabilities
and leave it empty.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from harness.backends.generation import GenerationConfig
from harness.tasks.modes import ALL_MODES, ScoringMode
from harness.tasks.sample import Message

__all__ = ["ALL_MODES", "Backend", "ChoiceRequest", "ChoiceResult", "GenerateRequest", "Generation", "LengthIssue", "Request",
           "ScoringMode", "collect"]  # fmt: skip


@dataclass(frozen=True)
class ChoiceRequest:
    """Score `continuations` after the prompt; `key` identifies the sample."""

    key: str
    messages: tuple[Message, ...]
    continuations: tuple[str, ...]
    answer_prefix: str = ""
    target_delimiter: str = " "
    chat_template: bool | None = None
    truncate_to: int | None = None


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
    truncate_to: int | None = None


Request = ChoiceRequest | GenerateRequest


@dataclass(frozen=True)
class Generation:
    """A generated reply, or the error that prevented it."""

    text: str | None
    error: str | None = None
    prompt: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LengthIssue:
    """A request that does not fit: `prompt` tokens plus `reserved` (continuation or new tokens) > `window`."""

    index: int
    prompt: int
    reserved: int
    window: int


@runtime_checkable
class Backend(Protocol):
    """A model behind the calls above."""

    name: str
    default_scoring: ScoringMode
    scoring_via: Mapping[ScoringMode, str]
    scoring_modes: tuple[ScoringMode, ...]

    def fingerprint(self) -> dict[str, Any]:
        """What identifies the model's outputs (name, revision or file hash, dtype)."""
        ...

    def check_lengths(self, requests: Sequence[Request], max_new_tokens: int) -> list[LengthIssue] | None:
        """Requests longer than the context window; None when this backend cannot count tokens."""
        ...

    def score_choices(self, requests: Sequence[ChoiceRequest]) -> Iterator[tuple[int, ChoiceResult]]:
        """Log-probabilities of each request's continuations, as they complete."""
        ...

    def generate(self, requests: Sequence[GenerateRequest], config: GenerationConfig) -> Iterator[tuple[int, Generation]]:
        """Generated replies, as they complete."""
        ...


T = TypeVar("T")


def collect(stream: Iterator[tuple[int, T]]) -> list[T]:
    """A backend's stream as a list in request order (for scripts and tests that want everything at once)."""
    found = dict(stream)
    return [found[i] for i in range(len(found))]


def offered_modes(backend: Any) -> tuple[ScoringMode, ...]:
    """The scoring modes `backend` computes (its `scoring_modes`, or what its `scoring_via` implies)."""
    modes = getattr(backend, "scoring_modes", None)
    if modes is not None:
        return tuple(ScoringMode(m) for m in modes)
    via = getattr(backend, "scoring_via", None) or {}
    return (*(ScoringMode(m) for m in via), ScoringMode.GENERATE) if via else ALL_MODES


class LocalModel:
    """What every backend that runs the model in this process declares alike (hf, vllm, fake): attributes only.

    It computes every scoring mode from the model's log-probabilities, so it offers all of them, needs no
    method table, and scores MCQ by letter unless a task says otherwise.
    """

    default_scoring = ScoringMode.LETTER
    scoring_via: Mapping[ScoringMode, str] = {}
    scoring_modes: tuple[ScoringMode, ...] = ALL_MODES
    # Whether its loop runs in a thread of its own, one step ahead of the records (harness.core.pipeline):
    # worth it where an accelerator would otherwise wait for the host; on a CPU both share the same cores.
    overlap = False
