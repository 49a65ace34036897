"""Log-likelihood of continuations with transformers, computing nothing twice.

Three savings, each measured in `benchmarks/`:

1. Shared prefix: the longest token prefix common to every context in a call (chat header,
   instructions, few-shot examples) runs once; its KV cache is copied into every batch.
2. Only needed logits: the vocabulary projection runs at the last context position only
   (`logits_to_keep=1`); for SmolLM2 the 49k-wide head is a large share of a forward pass. The
   log-probabilities read are gathered on the device, so a batch sends back one number per option,
   not a vocabulary row per position (tens of GB per run at a GPU's batch size).
3. Shared context per question: a question's context runs once; multi-token continuations
   (cloze) then run as a second, short pass over that cache, one row per option.

Contexts are left-padded, so every row's last context token sits in the last column; padding
is masked and position ids count real tokens only, so a row's numbers do not depend on what
it is batched with (up to float rounding).
Tokenization (`harness.backends.prompting.encode_many`) follows lm-eval.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from transformers import DynamicCache

from harness.backends.hf.batching import Budget, run_batched

__all__ = ["ChoiceScorer", "EncodedChoice"]

MIN_PREFIX = 16


@dataclass(frozen=True)
class EncodedChoice:
    """One request in tokens: the context and each continuation."""

    context: tuple[int, ...]
    continuations: tuple[tuple[int, ...], ...]


def _common_prefix(seqs: Sequence[Sequence[int]]) -> int:
    shortest = min(len(s) for s in seqs)
    first = seqs[0]
    n = 0
    while n < shortest - 1 and all(s[n] == first[n] for s in seqs):
        n += 1
    return n


class ChoiceScorer:
    """Scores `EncodedChoice` items on one model; keeps the last shared-prefix cache."""

    def __init__(self, model: Any, budget: Budget) -> None:
        """`budget` bounds (rows x padded length) per forward pass."""
        self.model = model
        self.device = next(model.parameters()).device
        self.budget = budget
        self._prefix: tuple[int, ...] = ()
        self._prefix_kv: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.reuse_prefix = True

    def _prefix_for(self, contexts: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
        if not self.reuse_prefix:
            return ()
        old = self._prefix
        if old and all(len(c) > len(old) and c[: len(old)] == old for c in contexts):
            return old
        n = _common_prefix(contexts)
        if n < MIN_PREFIX:
            return ()
        prefix = contexts[0][:n]
        with torch.inference_mode():
            out = self.model(input_ids=torch.tensor([prefix], device=self.device), use_cache=True)
        cache = out.past_key_values
        self._prefix_kv = [(layer.keys, layer.values) for layer in cache.layers]
        self._prefix = prefix
        return prefix

    def _cache(self, rows: int, p: int) -> DynamicCache | None:
        """A fresh cache holding the shared prefix (length `p`) once per row, or None without one."""
        if not p:
            return None
        assert len(self._prefix) == p, "prefix cache out of step"
        cache = DynamicCache(config=self.model.config)
        for i, (k, v) in enumerate(self._prefix_kv):
            cache.update(k.expand(rows, -1, -1, -1), v.expand(rows, -1, -1, -1), i)  # views: attention concatenates anyway
        return cache

    def score(self, items: Sequence[EncodedChoice]) -> Iterator[tuple[int, list[tuple[float, int]]]]:
        """For each item, as its batch finishes: (index, (summed log-probability, token count) per continuation)."""
        if not items:
            return
        prefix = self._prefix_for([it.context for it in items])
        p = len(prefix)
        # Cost ~ cached tokens a row holds: its context, once per multi-token option (cloze).
        costs = [len(it.context) * max(1, sum(len(c) > 1 for c in it.continuations)) for it in items]

        def run(batch: list[int]) -> list[list[tuple[float, int]]]:
            return self._score_batch([items[i] for i in batch], p)

        for batch, scores in run_batched(costs, run, self.budget, (torch.OutOfMemoryError,)):
            yield from zip(batch, scores, strict=True)

    @torch.inference_mode()
    def _score_batch(self, items: Sequence[EncodedChoice], p: int) -> list[list[tuple[float, int]]]:
        rows = len(items)
        suffixes = [it.context[p:] for it in items]
        width = max(len(s) for s in suffixes)
        ids = torch.zeros((rows, width), dtype=torch.long)
        mask = torch.zeros((rows, p + width), dtype=torch.long)
        mask[:, :p] = 1
        for r, s in enumerate(suffixes):
            ids[r, width - len(s) :] = torch.tensor(s)
            mask[r, p + width - len(s) :] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, p:]
        need_cache = any(len(c) > 1 for it in items for c in it.continuations)
        cache = self._cache(rows, p)
        out = self.model(
            input_ids=ids.to(self.device),
            attention_mask=mask.to(self.device),
            position_ids=positions.to(self.device),
            past_key_values=cache,
            use_cache=need_cache,
            logits_to_keep=1,
        )
        # Only the log-probabilities read leave the device: one number per option, not a vocabulary row.
        width = max(len(it.continuations) for it in items)
        targets = torch.zeros((rows, width), dtype=torch.long)
        for r, it in enumerate(items):
            targets[r, : len(it.continuations)] = torch.tensor([c[0] for c in it.continuations])
        first = F.log_softmax(out.logits[:, -1, :].float(), dim=-1).gather(1, targets.to(self.device)).tolist()
        results = [[(first[r][j], len(c)) for j, c in enumerate(it.continuations)] for r, it in enumerate(items)]
        if need_cache:
            self._rest(items, results, out.past_key_values, mask, positions[:, -1])
        return results

    def _rest(
        self, items: Sequence[EncodedChoice], results: list[list[tuple[float, int]]], cache: Any, mask: torch.Tensor, last_pos: torch.Tensor
    ) -> None:
        """Second pass: tokens 2..m of every multi-token continuation, over the context's cache."""
        pairs = [(r, j) for r, it in enumerate(items) for j, c in enumerate(it.continuations) if len(c) > 1]
        width = max(len(items[r].continuations[j]) - 1 for r, j in pairs)
        ids = torch.zeros((len(pairs), width), dtype=torch.long)
        cont_mask = torch.zeros((len(pairs), width), dtype=torch.long)
        for n, (r, j) in enumerate(pairs):
            c = items[r].continuations[j]
            ids[n, : len(c) - 1] = torch.tensor(c[:-1])
            cont_mask[n, : len(c) - 1] = 1
        rows = torch.tensor([r for r, _ in pairs])
        cache.batch_select_indices(rows.to(self.device))
        full_mask = torch.cat([mask[rows], cont_mask], dim=1)
        positions = last_pos[rows].unsqueeze(1) + 1 + torch.arange(width).unsqueeze(0)
        out = self.model(
            input_ids=ids.to(self.device),
            attention_mask=full_mask.to(self.device),
            position_ids=positions.to(self.device),
            past_key_values=cache,
            use_cache=False,
        )
        # Log-softmax only at the positions scored, gathered on the device; one sum per option comes back.
        targets = torch.zeros((len(pairs), width), dtype=torch.long)
        for n, (r, j) in enumerate(pairs):
            c = items[r].continuations[j]
            targets[n, : len(c) - 1] = torch.tensor(c[1:])
        scored = cont_mask.bool().to(self.device)
        picked = F.log_softmax(out.logits[scored].float(), dim=-1).gather(1, targets.to(self.device)[scored].unsqueeze(1)).squeeze(1)
        sums = torch.zeros(len(pairs), device=self.device).index_add_(0, scored.nonzero()[:, 0], picked).tolist()
        for n, (r, j) in enumerate(pairs):
            first, count = results[r][j]
            results[r][j] = (first + sums[n], count)
