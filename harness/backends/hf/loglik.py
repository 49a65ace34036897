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

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import DynamicCache

from harness.backends.hf.batching import Budget, run_batched

Collect = Callable[[], list[list[tuple[float, int]]]]

__all__ = ["ChoiceScorer", "EncodedChoice"]

MIN_PREFIX = 16


@dataclass(frozen=True)
class EncodedChoice:
    """One request in tokens: the context and each continuation."""

    context: tuple[int, ...]
    continuations: tuple[tuple[int, ...], ...]


def _common_prefix(seqs: Sequence[tuple[int, ...]]) -> int:
    """Length of the prefix every sequence shares, leaving each at least one token of its own.

    The lexicographic minimum and maximum share exactly the prefix all of them share, so two
    sequences are compared, not all of them position by position.
    """
    low, high = min(seqs), max(seqs)
    n = 0
    limit = min(len(s) for s in seqs) - 1
    while n < limit and low[n] == high[n]:
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
        self._head_is_plain: bool | None = None

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
            # Only its cache is needed: no output head at all where the head is separable, else at one position.
            ids = torch.tensor([prefix], device=self.device)
            if self._plain_head():
                out = self.model.get_decoder()(input_ids=ids, use_cache=True)
            else:
                out = self.model(input_ids=ids, use_cache=True, logits_to_keep=1)
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

        def run(batch: list[int]) -> Collect:
            return self._launch([items[i] for i in batch], p)

        # Batch k's numbers are read (the one device sync) after batch k+1 is launched, so on a GPU the
        # host prepares the next batch while the device still computes this one.
        waiting: tuple[list[int], Collect] | None = None
        for batch, collect in run_batched(costs, run, self.budget, (torch.OutOfMemoryError,)):
            if waiting is not None:
                yield from zip(waiting[0], waiting[1](), strict=True)
            waiting = (batch, collect)
        if waiting is not None:
            yield from zip(waiting[0], waiting[1](), strict=True)

    @torch.inference_mode()
    def _launch(self, items: Sequence[EncodedChoice], p: int) -> Collect:
        """Queue one batch's forward passes; returns the function that reads its scores (the only sync)."""
        rows = len(items)
        suffixes = [it.context[p:] for it in items]
        width = max(len(s) for s in suffixes)
        # One tensor per batch, built from Python lists (per-row tensor copies were a third of the host time).
        ids = torch.tensor([(0,) * (width - len(s)) + s for s in suffixes], dtype=torch.long)
        lengths = torch.tensor([len(s) for s in suffixes])
        columns = torch.arange(p + width)
        mask = ((columns >= p + width - lengths.unsqueeze(1)) | (columns < p)).long()
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
        options = max(len(it.continuations) for it in items)
        targets = torch.tensor([[c[0] for c in it.continuations] + [0] * (options - len(it.continuations)) for it in items])
        first = _logprobs(out.logits[:, -1, :], targets.to(self.device))
        rest = self._rest(items, out.past_key_values, mask, positions[:, -1]) if need_cache else None

        def collect() -> list[list[tuple[float, int]]]:
            firsts = first.tolist()
            results = [[(firsts[r][j], len(c)) for j, c in enumerate(it.continuations)] for r, it in enumerate(items)]
            if rest is not None:
                pairs, sums = rest
                for (r, j), extra in zip(pairs, sums.tolist(), strict=True):
                    results[r][j] = (results[r][j][0] + extra, results[r][j][1])
            return results

        return collect

    def _rest(
        self, items: Sequence[EncodedChoice], cache: Any, mask: torch.Tensor, last_pos: torch.Tensor
    ) -> tuple[list[tuple[int, int]], torch.Tensor]:
        """Second pass: tokens 2..m of every multi-token continuation, over the context's cache; (row, option) pairs and their sums."""
        pairs = [(r, j) for r, it in enumerate(items) for j, c in enumerate(it.continuations) if len(c) > 1]
        conts = [items[r].continuations[j] for r, j in pairs]
        width = max(len(c) - 1 for c in conts)
        ids = torch.tensor([c[:-1] + (0,) * (width - len(c) + 1) for c in conts], dtype=torch.long)
        targets = torch.tensor([c[1:] + (0,) * (width - len(c) + 1) for c in conts], dtype=torch.long)
        cont_mask = (torch.arange(width) < torch.tensor([len(c) - 1 for c in conts]).unsqueeze(1)).long()
        rows = torch.tensor([r for r, _ in pairs])
        cache.batch_select_indices(rows.to(self.device))
        full_mask = torch.cat([mask[rows], cont_mask], dim=1)
        positions = last_pos[rows].unsqueeze(1) + 1 + torch.arange(width).unsqueeze(0)
        # Scored positions as flat indices, computed here: a boolean mask on the device would force a sync.
        scored = cont_mask.flatten().nonzero().squeeze(1)
        owner = (scored // width).to(self.device)
        scored = scored.to(self.device)
        inputs = {"input_ids": ids.to(self.device), "attention_mask": full_mask.to(self.device), "position_ids": positions.to(self.device)}
        logits = self._logits_at(inputs, cache, scored)
        # Gathered and summed on the device; one number per option comes back.
        picked = _logprobs(logits, targets.to(self.device).flatten()[scored].unsqueeze(-1)).squeeze(-1)
        return pairs, torch.zeros(len(pairs), device=self.device).index_add_(0, owner, picked)

    def _logits_at(self, inputs: dict[str, torch.Tensor], cache: Any, scored: torch.Tensor) -> torch.Tensor:
        """Logits at the `scored` positions only (flat indices into rows x tokens): the output head runs on those alone.

        Cloze options differ in length, so most of a padded second pass is padding; and the logits
        of every position would be (options x tokens x vocabulary), copied again to pick the scored
        ones. Where the model's logits are just its output head on the decoder's hidden states
        (checked once, `_plain_head`), the head runs on the scored positions; otherwise the full
        forward's logits are indexed.
        """
        if self._plain_head():
            hidden = self.model.get_decoder()(**inputs, past_key_values=cache, use_cache=False).last_hidden_state
            logits: torch.Tensor = self.model.get_output_embeddings()(hidden.flatten(0, 1)[scored])
            return logits
        full: torch.Tensor = self.model(**inputs, past_key_values=cache, use_cache=False).logits
        return full.flatten(0, 1)[scored]

    @torch.inference_mode()
    def _plain_head(self) -> bool:
        """Whether logits = output head(decoder hidden states) for this model (no soft-capping, scaling or other step after the head)."""
        if self._head_is_plain is None:
            try:
                ids = torch.arange(1, 9, device=self.device).unsqueeze(0)
                full = self.model(input_ids=ids).logits
                split = self.model.get_output_embeddings()(self.model.get_decoder()(input_ids=ids).last_hidden_state)
                self._head_is_plain = full.shape == split.shape and bool(torch.allclose(full.float(), split.float(), rtol=1e-4, atol=1e-4))
            except (AttributeError, NotImplementedError, TypeError):
                self._head_is_plain = False
        return self._head_is_plain


def _logprobs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log_softmax(logits) at `targets` (indices along the last dimension), on the logits' device.

    (torch's fused log_softmax beat value minus `logsumexp` 2.5x on the CPU: logsumexp is not fused.)
    """
    return torch.log_softmax(logits.float(), dim=-1).gather(-1, targets)
