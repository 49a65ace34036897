"""The PyTorch/transformers backend: letter and cloze scoring by log-likelihood, batched generation.

Default MCQ scoring is `letter` (one forward pass per question). Requests are rendered with the
tokenizer's chat template when it has one (unless the dataset says `chat_template: false`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from harness.backends.base import ChoiceRequest, ChoiceResult, GenerateRequest, Generation
from harness.backends.hf_loading import load_model
from harness.backends.hf_scoring import ChoiceScorer, EncodedChoice
from harness.batching import Budget, run_batched
from harness.config import GenerationConfig
from harness.prompting import chat_mode, encode_many, prompt_lengths, render_context
from tasks.errors import UserError

__all__ = ["HFBackend"]

# Measured on 2 cores with SmolLM2 (benchmarks/): 200 letter prompts took 17.0 s at 512 tokens a batch,
# 16.9 s at 1024, 18.7 s at 2048, 21.4 s at 4096, 29.6 s at 8192: small batches stay in cache.
CPU_TOKEN_BUDGET = 1024
GPU_TOKEN_BUDGET = 65536


class HFBackend:
    """A transformers causal LM; see the module docstring."""

    name = "hf"
    default_scoring = "letter"

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
    ) -> None:
        """Load `model`, or wrap an already loaded `(model, tokenizer)` pair given as `loaded`.

        An in-memory model (a training hook, checkpoint adapters on one base) should come with a
        `fingerprint` that identifies its weights, so resumes never mix two states of it.
        """
        if loaded is not None:
            self.model, self.tokenizer = loaded
            self._fingerprint: dict[str, Any] = fingerprint or {"backend": "hf", "model": model, "dtype": str(self.model.dtype)}
        else:
            result = load_model(model, device=device, dtype=dtype, trust_remote_code=trust_remote_code, base_model=base_model)
            self.model, self.tokenizer, self._fingerprint = result.model, result.tokenizer, result.fingerprint
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.device = next(self.model.parameters()).device
        on_gpu = self.device.type == "cuda"
        if batch_size == "auto":
            # CPU: a fixed budget (an OOM there kills the process); GPU: probe down from a large one.
            self.budget = Budget(GPU_TOKEN_BUDGET if on_gpu else CPU_TOKEN_BUDGET, adaptive=on_gpu)
        elif isinstance(batch_size, int) and batch_size > 0:
            self.budget = Budget(1 << 30, max_batch=batch_size)
        else:
            raise UserError(f"batch size {batch_size!r}: use a positive integer or auto")
        self.scorer = ChoiceScorer(self.model, self.budget)
        self.scorer.reuse_prefix = reuse_prefix

    def count_tokens(self, requests: Sequence[GenerateRequest]) -> list[int]:
        """Prompt lengths in tokens: the cost that shards are balanced by under torchrun."""
        return prompt_lengths(self.tokenizer, requests)

    def fingerprint(self) -> dict[str, Any]:
        """Model source, weights digest, dtype and device."""
        return dict(self._fingerprint)

    def score_choices(self, requests: Sequence[ChoiceRequest]) -> list[ChoiceResult]:
        """Summed log-probabilities per continuation (see `harness.backends.base`)."""
        encoded, contexts = [], []
        for context, ctx, conts in encode_many(self.tokenizer, requests):
            encoded.append(EncodedChoice(tuple(ctx), tuple(tuple(c) for c in conts)))
            contexts.append(context)
        scores = self.scorer.score(encoded)
        return [
            ChoiceResult(tuple(lp for lp, _ in s), tuple(n for _, n in s), context=ctx) for s, ctx in zip(scores, contexts, strict=True)
        ]

    def generate(self, requests: Sequence[GenerateRequest], config: GenerationConfig) -> list[Generation]:
        """Batched generation with left padding; stop strings are cut from the text."""
        prompts = [render_context(self.tokenizer, r.messages, chat=chat_mode(self.tokenizer, r.chat_template)) for r in requests]
        encoded = [self.tokenizer.encode(p, add_special_tokens=False) for p in prompts]
        costs = [len(e) + config.max_new_tokens for e in encoded]
        out: list[Generation | None] = [None] * len(requests)

        def run(batch: list[int]) -> None:
            texts, counts = self._generate_batch([encoded[i] for i in batch], config)
            for i, text, n in zip(batch, texts, counts, strict=True):
                out[i] = Generation(text, prompt=prompts[i], prompt_tokens=len(encoded[i]), completion_tokens=n)

        run_batched(costs, run, self.budget, (torch.OutOfMemoryError,))
        return [g for g in out if g is not None]

    @torch.inference_mode()
    def _generate_batch(self, encoded: list[list[int]], config: GenerationConfig) -> tuple[list[str], list[int]]:
        width = max(len(e) for e in encoded)
        pad = self.tokenizer.pad_token_id
        ids = torch.full((len(encoded), width), pad, dtype=torch.long)
        mask = torch.zeros((len(encoded), width), dtype=torch.long)
        for r, e in enumerate(encoded):
            ids[r, width - len(e) :] = torch.tensor(e)
            mask[r, width - len(e) :] = 1
        kwargs: dict[str, Any] = {"max_new_tokens": config.max_new_tokens, "do_sample": config.do_sample, "pad_token_id": pad}
        if config.do_sample:
            kwargs.update(temperature=config.temperature, top_p=config.top_p, top_k=config.top_k or None)
            torch.manual_seed(config.seed)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if config.stop:
            kwargs.update(stop_strings=list(config.stop), tokenizer=self.tokenizer)
        generated = self.model.generate(input_ids=ids.to(self.device), attention_mask=mask.to(self.device), **kwargs)
        new = generated[:, width:].cpu()
        texts, counts = [], []
        eos = self.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos]) | {pad}
        for row in new.tolist():
            n = next((k for k, t in enumerate(row) if t in eos_ids), len(row))
            text = self.tokenizer.decode(row[:n], skip_special_tokens=True)
            for stop in config.stop:
                text = text.split(stop, 1)[0]
            texts.append(text)
            counts.append(n)
        return texts, counts
