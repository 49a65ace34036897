"""The OpenAI-compatible API backend (`--backend api --api-url URL`).

Tested against `vllm serve` (tests/test_vllm_backend.py) and a fault-injecting server; other
OpenAI-compatible servers (SGLang, TGI, lmdeploy, `swift deploy`, hosted APIs) speak the same
protocol but are not run in our tests. Requests carry only OpenAI's standard fields, plus
whatever model arg `extra_body` adds (e.g. `{"top_k": 20}` for servers that take it).

Generation goes through `/v1/chat/completions`, so the server applies its own chat template
(samples with `chat_template: false` go to `/v1/completions` as plain text). MCQ log-likelihood
scoring uses the best method the server offers, found by probing it once at start:

- `completions-echo`: `/v1/completions` with `echo` and `logprobs` returns the log-probability of
  every prompt token. The prompt is sent as token ids rendered and split exactly as the local
  backends do (`harness.backends.prompting.encode_many`), so letter and cloze scores equal the offline
  engine's. Needs the model's tokenizer here: `tokenizer` model arg, or the served model name
  when it is a local folder (as with `vllm serve DIR`).
- `chat-logprobs`: `/v1/chat/completions` with `top_logprobs`: the letter is read where the reply
  gives it (after the answer prefix), and each option's log-probability is taken from the top
  alternatives there (an option not among them gets `ABSENT_LOGPROB`). Letter mode only.
- otherwise MCQ is generated and the letter extracted (`scoring: generate`).

results.json records the method per task (`scoring_via`), and the report footer prints it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.backends.api.client import ApiClient, Failure, RetryPolicy
from harness.backends.api.replies import ABSENT_LOGPROB, chat_tokens, echo_logprobs, letter_logprobs, reply_text, unusable
from harness.backends.base import ChoiceRequest, ChoiceResult, GenerateRequest, Generation, LengthIssue, Request, ScoringMode
from harness.backends.generation import GenerationConfig
from harness.backends.prompting import encode_many, render_plain
from harness.core.errors import UserError
from harness.core.redact import read_api_key, redact, register_url_secrets

__all__ = ["ABSENT_LOGPROB", "ApiBackend"]

TOP_LOGPROBS = 20  # OpenAI's maximum
METHODS = ("auto", "completions-echo", "chat-logprobs", "generate")


class ApiBackend:
    """A model behind an OpenAI-compatible HTTP endpoint; see the module docstring."""

    name = "api"

    def __init__(
        self,
        model: str = "",
        *,
        api_url: str,
        api_key_env: str | None = None,
        concurrency: int = 8,
        timeout: float = 120.0,
        max_retries: int = 6,
        scoring_method: str = "auto",
        tokenizer: str | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        """Find the model name (`/v1/models`) when not given, then probe which scoring methods work."""
        if extra_body is not None and not isinstance(extra_body, dict):
            raise UserError('model arg extra_body must be a JSON object, e.g. {"top_k": 20}')
        self.extra_body = dict(extra_body or {})
        if concurrency < 1:
            raise UserError(f"--concurrency {concurrency}: use 1 or more")
        if scoring_method not in METHODS:
            raise UserError(f"scoring_method {scoring_method!r}: use one of {', '.join(METHODS)}")
        api_key = read_api_key(api_key_env)
        register_url_secrets(api_url)
        base = api_url.rstrip("/")
        self.client = ApiClient(
            base if base.endswith("/v1") else base + "/v1",
            api_key=api_key,
            concurrency=concurrency,
            policy=RetryPolicy(timeout, max_retries),
        )
        self.url = self.client.base_url  # without credentials: this is what messages and results.json show
        self.model_name = model or self._served_model()
        self.tokenizer = self._load_tokenizer(tokenizer)
        self.scoring_via: Mapping[ScoringMode, str] = self._probe(scoring_method)
        self.default_scoring = ScoringMode.LETTER if ScoringMode.LETTER in self.scoring_via else ScoringMode.GENERATE
        self.scoring_modes: tuple[ScoringMode, ...] = (*self.scoring_via, ScoringMode.GENERATE)

    def _served_model(self) -> str:
        answer = self.client.get("/models")
        if isinstance(answer, Failure):
            raise UserError(f"{self.url}/models: {answer.error} (is the server running? pass --model NAME to skip this call)")
        try:
            return redact(str(answer["data"][0]["id"]))
        except (KeyError, IndexError, TypeError):
            raise UserError(f"{self.url}/models lists no model; pass --model NAME") from None

    def _load_tokenizer(self, path: str | None) -> Any:
        source = path or (self.model_name if Path(self.model_name).is_dir() else None)
        if source is None:
            return None
        try:
            from transformers import AutoTokenizer
        except ImportError:
            if path:
                raise UserError("model arg tokenizer needs transformers: pip install 'harness[hf]'") from None
            return None  # exact echo scoring needs the tokenizer; without transformers the probe moves on
        try:
            return AutoTokenizer.from_pretrained(source)
        except (OSError, ValueError) as exc:
            if path:
                raise UserError(f"tokenizer {path}: cannot load it ({type(exc).__name__})") from None
            return None

    def _probe(self, method: str) -> dict[ScoringMode, str]:
        """Scoring modes -> the method that computes them, trying the exact one first."""
        if method in ("auto", "completions-echo") and self.tokenizer is not None:
            ids = self.tokenizer.encode("The capital of France is Paris", add_special_tokens=False)
            answer = self.client.post_all("/completions", [self._echo_payload(ids)])[0]
            if not isinstance(answer, Failure) and echo_logprobs(answer, len(ids)) is not None:
                return {ScoringMode.LETTER: "completions-echo", ScoringMode.CLOZE: "completions-echo"}
        if method == "completions-echo":
            why = "no tokenizer (pass model arg tokenizer=DIR)" if self.tokenizer is None else "the server returned no prompt log-probs"
            raise UserError(f"scoring_method completions-echo: {why}")
        if method in ("auto", "chat-logprobs"):
            payload = self._chat_payload([{"role": "user", "content": "Reply with the letter A."}], max_tokens=1)
            answer = self.client.post_all("/chat/completions", [{**payload, "logprobs": True, "top_logprobs": 5}])[0]
            if not isinstance(answer, Failure) and chat_tokens(answer):
                return {ScoringMode.LETTER: "chat-logprobs"}
            if method == "chat-logprobs":
                raise UserError("scoring_method chat-logprobs: the server returned no top_logprobs")
        return {}

    def fingerprint(self) -> dict[str, Any]:
        """Model name, endpoint and scoring method; never the API key."""
        return {
            "backend": "api",
            "model": self.model_name,
            "url": self.url,
            "scoring_via": dict(self.scoring_via),
            "extra_body": self.extra_body,
        }

    def _echo_payload(self, ids: list[int]) -> dict[str, Any]:
        return {"model": self.model_name, "prompt": ids, "max_tokens": 1, "temperature": 0.0, "echo": True, "logprobs": 1}

    def _chat_payload(self, messages: Sequence[Any], *, max_tokens: int) -> dict[str, Any]:
        return {"model": self.model_name, "messages": list(messages), "max_tokens": max_tokens, "temperature": 0.0}

    def check_lengths(self, requests: Sequence[Request], max_new_tokens: int) -> list[LengthIssue] | None:
        """The server checks lengths itself (a too-long request fails with its error, for that sample)."""
        return None

    def score_choices(self, requests: Sequence[ChoiceRequest]) -> Iterator[tuple[int, ChoiceResult]]:
        """Log-probabilities by the probed method, as answers arrive; a request that failed comes back with `error` set."""
        if self.scoring_via.get(ScoringMode.LETTER) == "completions-echo":
            return self._score_echo(requests)
        if self.scoring_via.get(ScoringMode.LETTER) == "chat-logprobs":
            return self._score_chat(requests)
        raise UserError(f"{self.url}: this server offers no log-probabilities; use dataset arg scoring generate")

    def _score_echo(self, requests: Sequence[ChoiceRequest]) -> Iterator[tuple[int, ChoiceResult]]:
        # One request per sample (a prompt list, one prompt per option): a failure is that sample's alone.
        encoded = encode_many(self.tokenizer, requests)
        calls = [("POST", "/completions", {**self._echo_payload([]), "prompt": [ctx + c for c in conts]}) for _, ctx, conts in encoded]
        for i, answer in self.client.stream(calls):
            context, ctx, conts = encoded[i]
            if isinstance(answer, Failure):
                yield i, ChoiceResult((), (), context, error=answer.error)
                continue
            sums = []
            for choice_index, cont in enumerate(conts):
                lps = echo_logprobs(answer, len(ctx) + len(cont), choice_index)
                if lps is None:
                    break
                sums.append(sum(lps[len(ctx) :]))
            if len(sums) != len(conts):
                yield i, ChoiceResult((), (), context, error=unusable("answer without prompt log-probs", answer))
                continue
            usage = answer.get("usage") or {}
            counts = tuple(len(c) for c in conts)
            yield i, ChoiceResult(tuple(sums), counts, context, prompt_tokens=int(usage.get("prompt_tokens") or 0))

    def _score_chat(self, requests: Sequence[ChoiceRequest]) -> Iterator[tuple[int, ChoiceResult]]:
        # Enough tokens for the answer prefix ("ANSWER:" is 2-3 tokens in common vocabularies) and the letter.
        calls = [
            ("POST", "/chat/completions", {**self._chat_payload(r.messages, max_tokens=8), "logprobs": True, "top_logprobs": TOP_LOGPROBS})
            for r in requests
        ]
        for i, answer in self.client.stream(calls):
            req = requests[i]
            context = json.dumps(list(req.messages), ensure_ascii=False)
            if isinstance(answer, Failure):
                yield i, ChoiceResult((), (), context, error=answer.error)
                continue
            usage = answer.get("usage") or {}
            lps = letter_logprobs(chat_tokens(answer) or [], req.continuations, req.answer_prefix)
            ones = tuple(1 for _ in req.continuations)
            yield (
                i,
                ChoiceResult(
                    lps or tuple(ABSENT_LOGPROB for _ in ones),
                    ones,
                    context,
                    no_answer=lps is None,
                    prompt_tokens=int(usage.get("prompt_tokens") or 0),
                    completion_tokens=int(usage.get("completion_tokens") or 0),
                ),
            )

    def generate(self, requests: Sequence[GenerateRequest], config: GenerationConfig) -> Iterator[tuple[int, Generation]]:
        """Chat completions (plain completions for `chat_template: false`) as they return; failures come back as `text=None`."""
        sampling: dict[str, Any] = {"max_tokens": config.max_new_tokens, "temperature": config.temperature, "top_p": config.top_p}
        if config.stop:
            sampling["stop"] = list(config.stop)
        if config.do_sample:
            sampling["seed"] = config.seed
        # Only OpenAI's own fields are sent; servers that take more (top_k, repetition_penalty) get them from
        # model arg extra_body, which strict APIs would otherwise reject with a final 400.
        sampling.update(self.extra_body)
        prompts, calls = [], []
        for r in requests:
            if r.chat_template is not False:
                prompts.append(json.dumps(list(r.messages), ensure_ascii=False))
                calls.append(("POST", "/chat/completions", {"model": self.model_name, "messages": list(r.messages), **sampling}))
            else:
                prompts.append(render_plain(r.messages, "", " "))
                calls.append(("POST", "/completions", {"model": self.model_name, "prompt": prompts[-1], **sampling}))
        for i, answer in self.client.stream(calls):
            if isinstance(answer, Failure):
                yield i, Generation(None, error=answer.error, prompt=prompts[i])
                continue
            text = reply_text(answer)
            if text is None:
                yield i, Generation(None, error=unusable("answer without a reply", answer), prompt=prompts[i])
                continue
            for stop in config.stop:
                text = text.split(stop, 1)[0]
            usage = answer.get("usage") or {}
            yield (
                i,
                Generation(
                    text,
                    prompt=prompts[i],
                    prompt_tokens=int(usage.get("prompt_tokens") or 0),
                    completion_tokens=int(usage.get("completion_tokens") or 0),
                ),
            )
