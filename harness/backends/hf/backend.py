"""The PyTorch/transformers backend: letter and cloze scoring by log-likelihood, and generation.

Default MCQ scoring is `letter` (one forward pass per question). Requests are rendered with the
tokenizer's chat template when it has one (unless the dataset says `chat_template: false`).

Scheduling (all of a task's pending requests arrive at once):
- scoring: requests are grouped by everything before their last turn (system prompt, few-shot
  examples), so each group's shared token prefix is computed once (`hf_scoring`); inside a
  group, batches are cut from a token budget over the requests sorted by length.
- generation: one decode loop over every prompt (`hf_generate`): rows leave as they finish and
  waiting prompts take their slots, within a budget on the rows' current cached tokens.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch

from harness.backends.base import ChoiceRequest, ChoiceResult, GenerateRequest, Generation, LengthIssue, LocalModel, Request
from harness.backends.generation import GenerationConfig
from harness.backends.hf.batching import Budget
from harness.backends.hf.decode import Decoder, DecoderLimits
from harness.backends.hf.loading import load_model
from harness.backends.hf.loglik import ChoiceScorer, EncodedChoice
from harness.backends.prompting import chat_mode, encode_many, join_continuation, render_context
from harness.core.errors import UserError

__all__ = ["HFBackend"]

# Measured on 2 cores with SmolLM2 (benchmarks/): 200 letter prompts took 17.0 s at 512 tokens a batch,
# 16.9 s at 1024, 18.7 s at 2048, 21.4 s at 4096, 29.6 s at 8192: small batches stay in cache.
CPU_TOKEN_BUDGET = 1024
GPU_TOKEN_BUDGET = 65536
# Generation: rows in flight and the memory their KV cache may take. On 2 cores, SmolLM2 decoded
# 60 / 101 / 114 / 105 / 70 tokens/s at 8 / 16 / 32 / 64 / 128 rows (benchmarks/decode_batch.py).
CPU_DECODE_ROWS = 32
GPU_DECODE_ROWS = 1024
CPU_KV_BYTES = 2 << 30
GPU_KV_SHARE = 0.6  # of the memory free after loading


class HFBackend(LocalModel):
    """A transformers causal LM; see the module docstring."""

    name = "hf"

    def __init__(
        self,
        model: str,
        *,
        dtype: str = "auto",
        device: str = "auto",
        batch_size: int | str = "auto",
        trust_remote_code: bool = False,
        base_model: str | None = None,
        reuse_prefix: bool = True,
        loaded: Any = None,
        fingerprint: dict[str, Any] | None = None,
        device_map: str | None = None,
    ) -> None:
        """Load `model`, or wrap an already loaded `(model, tokenizer)` pair given as `loaded`.

        An in-memory model (a training hook, checkpoint adapters on one base) should come with a
        `fingerprint` that identifies its weights, so resumes never mix two states of it.
        """
        if loaded is not None:
            self.model, self.tokenizer = loaded
            self._fingerprint: dict[str, Any] = fingerprint or {"backend": "hf", "model": model, "dtype": str(self.model.dtype)}
        else:
            result = load_model(model, device=device, dtype=dtype, trust_remote_code=trust_remote_code, base_model=base_model,
                                device_map=device_map)  # fmt: skip
            self.model, self.tokenizer, self._fingerprint = result.model, result.tokenizer, result.fingerprint
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.device = next(self.model.parameters()).device
        on_gpu = self.device.type == "cuda"
        # On an accelerator the next forward runs while the host records the last results; on the CPU the
        # two would share the cores, and the thread hand-offs cost host time (benchmarks/host_overhead.py).
        self.overlap = self.device.type != "cpu"
        if batch_size == "auto":
            # CPU: a fixed budget (an OOM there kills the process); GPU: probe from a large one, down and up.
            self.budget = Budget(GPU_TOKEN_BUDGET if on_gpu else CPU_TOKEN_BUDGET, adaptive=on_gpu)
            rows = GPU_DECODE_ROWS if on_gpu else CPU_DECODE_ROWS
            self.limits = DecoderLimits(rows, self._kv_token_budget(on_gpu), adaptive=on_gpu)
        elif isinstance(batch_size, int) and batch_size > 0:
            self.budget = Budget(1 << 30, max_batch=batch_size)
            self.limits = DecoderLimits(batch_size, 1 << 40)
        else:
            raise UserError(f"batch size {batch_size!r}: use a positive integer or auto")
        self.scorer = ChoiceScorer(self.model, self.budget)
        self.scorer.reuse_prefix = reuse_prefix
        # Contexts `check_lengths` rendered, by request identity, until `score_choices` takes them (no second render).
        self._rendered: dict[int, tuple[ChoiceRequest, str]] = {}

    def _kv_token_budget(self, on_gpu: bool) -> int:
        """Tokens of KV cache the decoder may hold: a share of free GPU memory, or a fixed amount of RAM."""
        config = self.model.config.get_text_config()
        heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        per_token = int(2 * config.num_hidden_layers * heads * head_dim * self.model.dtype.itemsize)
        if on_gpu:
            free, _ = torch.cuda.mem_get_info(self.device)
            return max(4096, int(free * GPU_KV_SHARE) // per_token)
        return max(4096, CPU_KV_BYTES // per_token)

    def fingerprint(self) -> dict[str, Any]:
        """Model source, weights digest, dtype and device."""
        return dict(self._fingerprint)

    def context_window(self) -> int | None:
        """Positions the model was trained for (`max_position_embeddings`), when its config says."""
        config = self.model.config.get_text_config()
        window = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
        return int(window) if window else None

    def check_lengths(self, requests: Sequence[Request], max_new_tokens: int) -> list[LengthIssue] | None:
        """Requests whose prompt plus continuation (or plus `max_new_tokens`) exceed the context window.

        Only prompts that could be too long are tokenized: a token covers at least one UTF-8 byte
        (byte-level BPE, SentencePiece with byte fallback), so bytes + 2 bound the token count.
        """
        window = self.context_window()
        if window is None:
            return None
        suspects: list[tuple[int, str, int]] = []
        for i, req in enumerate(requests):
            chat = chat_mode(self.tokenizer, req.chat_template)
            if isinstance(req, ChoiceRequest):
                context = render_context(
                    self.tokenizer, req.messages, chat=chat, answer_prefix=req.answer_prefix, delimiter=req.target_delimiter
                )
                self._rendered[id(req)] = (req, context)
                conts = [
                    join_continuation(c, chat=chat, answer_prefix=req.answer_prefix, delimiter=req.target_delimiter)
                    for c in req.continuations
                ]
                reserved = max(len(c.encode()) + 2 for c in conts)
            else:
                context = render_context(self.tokenizer, req.messages, chat=chat)
                reserved = max_new_tokens
            if len(context.encode()) + 2 + reserved > window:
                suspects.append((i, context, reserved))
        if not suspects:
            return []
        ids = self.tokenizer([c for _, c, _ in suspects], add_special_tokens=False)["input_ids"]
        issues = []
        for (i, _, reserved), prompt in zip(suspects, ids, strict=True):
            req = requests[i]
            if isinstance(req, ChoiceRequest):  # the bound above; now the exact continuation lengths
                reserved = max(len(c) for c in encode_many(self.tokenizer, [req])[0][2])
            if len(prompt) + reserved > window:
                issues.append(LengthIssue(i, len(prompt), reserved, window))
        return issues

    def score_choices(self, requests: Sequence[ChoiceRequest]) -> Iterator[tuple[int, ChoiceResult]]:
        """Summed log-probabilities per continuation (see `harness.backends.base`), batch by batch."""
        for group in _prefix_groups(requests):
            encoded, contexts = [], []
            mine = [requests[i] for i in group]
            known = [_rendered_context(self._rendered, req) for req in mine]
            for req, (context, ctx, conts) in zip(mine, encode_many(self.tokenizer, mine, known), strict=True):
                if req.truncate_to is not None:
                    ctx = ctx[-req.truncate_to :]
                encoded.append(EncodedChoice(tuple(ctx), tuple(tuple(c) for c in conts)))
                contexts.append(context)
            for j, scores in self.scorer.score(encoded):
                result = ChoiceResult(tuple(lp for lp, _ in scores), tuple(n for _, n in scores), context=contexts[j])
                yield group[j], result

    def generate(self, requests: Sequence[GenerateRequest], config: GenerationConfig) -> Iterator[tuple[int, Generation]]:
        """Decoded replies, each as soon as it ends; stop strings are cut from the text."""
        prompts = [render_context(self.tokenizer, r.messages, chat=chat_mode(self.tokenizer, r.chat_template)) for r in requests]
        encoded = self.tokenizer(prompts, add_special_tokens=False)["input_ids"] if prompts else []
        encoded = [e[-r.truncate_to :] if r.truncate_to is not None else e for e, r in zip(encoded, requests, strict=True)]
        if config.do_sample:
            torch.manual_seed(config.seed)
        for i, tokens in Decoder(self.model, self.tokenizer, self.limits).run(encoded, config):
            # A length cap can cut a character's bytes: the decoder's U+FFFD for the stub is not model output.
            text = self.tokenizer.decode(tokens, skip_special_tokens=True).rstrip("\ufffd")
            for stop in config.stop:
                text = text.split(stop, 1)[0]
            yield i, Generation(text, prompt=prompts[i], prompt_tokens=len(encoded[i]), completion_tokens=len(tokens))


def _rendered_context(rendered: dict[int, tuple[ChoiceRequest, str]], req: ChoiceRequest) -> str | None:
    """The context `check_lengths` rendered for this very request object, if any (taken: each is used once).

    The engine checks every task's lengths before scoring any, so entries of several tasks wait here.
    """
    known = rendered.pop(id(req), None)
    return known[1] if known is not None and known[0] is req else None


def _prefix_groups(requests: Sequence[ChoiceRequest]) -> list[list[int]]:
    """Request indices grouped by everything before the last turn (few-shot examples, system prompt) and how they render.

    Requests in one group share a long token prefix, which the scorer computes once per group.
    """
    groups: dict[tuple[object, ...], list[int]] = {}
    for i, req in enumerate(requests):
        turns = tuple((m["role"], m["content"]) for m in req.messages[:-1])
        groups.setdefault((turns, req.chat_template, req.answer_prefix, req.target_delimiter), []).append(i)
    return list(groups.values())
