"""Generation with transformers, scheduled by the decoder itself: rows leave when done, waiting rows take their place.

`model.generate` runs a batch until its longest row ends, so a row that stopped at token 5 keeps
costing a slot for 250 more steps, and a fixed batch must reserve prompt + max_new_tokens per row.
This loop instead:

- holds one KV cache for the rows in flight (left-padded, so every row's newest token sits in the
  last column; masked padding and per-row position ids keep each row's numbers independent of
  its neighbours, up to float rounding);
- yields a row the step it ends (end-of-sequence token, stop string, or `max_new_tokens`), and
  drops finished rows from the cache once a quarter of the batch has finished;
- admits waiting prompts (prefilled together, merged into the cache) while the rows' *current*
  footprint, rows x (prompt + generated so far), stays within the token budget; on a GPU an
  out-of-memory error sends the newest rows back to the queue and lowers the budget.

Greedy decoding gives the same text as one row at a time (tested). Sampling is seeded; its draws
depend on which rows share a step, as with any batched sampler.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from harness.backends.generation import GenerationConfig

__all__ = ["Decoder", "DecoderLimits"]

COMPACT_SHARE = 0.25  # drop finished rows once this share of the batch has finished


@dataclass
class DecoderLimits:
    """How much the decoder may hold: rows in flight, and cached tokens (rows x width) in all."""

    max_rows: int
    max_tokens: int
    adaptive: bool = False  # on a GPU: lower `max_tokens` on out-of-memory instead of failing
    floor: int = 256


@dataclass
class _Row:
    index: int
    prompt_len: int
    tokens: list[int] = field(default_factory=list)
    done: bool = False


class Decoder:
    """Greedy or sampled decoding over many prompts on one model; see the module docstring."""

    def __init__(self, model: Any, tokenizer: Any, limits: DecoderLimits) -> None:
        """`limits` bound the batch; the model must be a causal LM whose cache is a `DynamicCache`."""
        self.model = model
        self.tokenizer = tokenizer
        self.limits = limits
        self.device = next(model.parameters()).device
        eos = model.generation_config.eos_token_id
        ids = set(eos if isinstance(eos, list) else [eos]) | {tokenizer.eos_token_id, tokenizer.pad_token_id}
        self.stop_ids = {i for i in ids if i is not None}
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else next(iter(self.stop_ids))

    def run(self, prompts: Sequence[Sequence[int]], config: GenerationConfig) -> Iterator[tuple[int, list[int]]]:
        """Yield `(index, generated token ids)` for each prompt as it finishes (end-of-sequence ids left out)."""
        # Longest first: the most expensive prefill comes first, so an out-of-memory error shows at once.
        waiting = deque(sorted(range(len(prompts)), key=lambda i: -len(prompts[i])))
        state = _Batch(self, config, waiting)
        while waiting or state.rows:
            if waiting and state.wants_rows():
                admitted = state.admit(prompts, waiting)
                if not admitted and not state.rows:
                    raise RuntimeError("decoder admitted nothing into an empty batch")  # the budget fits one row always
            yield from state.finished()
            if state.rows:
                state.step()
                yield from state.finished()
            state.compact(force=not waiting and all(r.done for r in state.rows))


class _Batch:
    """The rows in flight, their cache, attention mask and next positions."""

    def __init__(self, decoder: Decoder, config: GenerationConfig, waiting: deque[int]) -> None:
        self.d = decoder
        self.config = config
        self.waiting = waiting
        self.rows: list[_Row] = []
        # Caches whose layers are all plain (no sliding window, no linear attention) can be merged and trimmed;
        # for other caches new rows join only an empty batch.
        self.mergeable = True
        self.cache: Any = None
        self.mask = torch.zeros((0, 0), dtype=torch.long)
        self.positions = torch.zeros((0,), dtype=torch.long)
        self.last = torch.zeros((0,), dtype=torch.long)  # each row's newest token, not yet in the cache
        self.reported: set[int] = set()
        self.generator = torch.Generator(device="cpu").manual_seed(config.seed)
        self.stops = tuple(config.stop)
        self.stop_window = max((len(s) for s in self.stops), default=0) + 8

    # --- admission -------------------------------------------------------------------------

    def live(self) -> int:
        return sum(not r.done for r in self.rows)

    def wants_rows(self) -> bool:
        """Admit when the batch is empty, or when a quarter of its slots could be refilled."""
        if not self.live():
            return True
        free = self.d.limits.max_rows - self.live()
        return self.mergeable and free >= max(1, self.d.limits.max_rows // 4)

    def admit(self, prompts: Sequence[Sequence[int]], waiting: deque[int]) -> int:
        """Prefill as many waiting prompts as the limits allow and merge them in; returns how many."""
        self.compact(force=True)
        width = self.mask.shape[1]
        new: list[int] = []
        while waiting and len(self.rows) + len(new) < self.d.limits.max_rows:
            candidate = waiting[0]
            grown = max(width, len(prompts[candidate]), *(len(prompts[i]) for i in new)) + 1
            if (self.rows or new) and (len(self.rows) + len(new) + 1) * grown > self.d.limits.max_tokens:
                break
            new.append(waiting.popleft())
        if not new:
            return 0
        try:
            cache, mask, first = self._prefill([prompts[i] for i in new])
        except torch.OutOfMemoryError:
            if not self.d.limits.adaptive or self.d.limits.max_tokens <= self.d.limits.floor:
                raise
            waiting.extendleft(reversed(new))
            self.d.limits.max_tokens //= 2
            torch.cuda.empty_cache()
            return 0
        self._merge(cache, mask)
        for i, token in zip(new, first.tolist(), strict=True):
            self.rows.append(_Row(i, len(prompts[i])))
            self._take(self.rows[-1], token)
        self.positions = torch.cat([self.positions, mask.sum(dim=1)])
        self.last = torch.cat([self.last, first])
        return len(new)

    @torch.inference_mode()
    def _prefill(self, prompts: list[Sequence[int]]) -> tuple[Any, torch.Tensor, torch.Tensor]:
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.d.pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for r, p in enumerate(prompts):
            ids[r, width - len(p) :] = torch.tensor(list(p), dtype=torch.long)
            mask[r, width - len(p) :] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.d.model(
            input_ids=ids.to(self.d.device),
            attention_mask=mask.to(self.d.device),
            position_ids=positions.to(self.d.device),
            use_cache=True,
            logits_to_keep=1,
        )
        return out.past_key_values, mask, self._pick(out.logits[:, -1, :])

    @torch.inference_mode()
    def _merge(self, cache: Any, mask: torch.Tensor) -> None:
        """Left-pad the narrower of the two caches and stack the new rows under the old."""
        if self.cache is None:
            self.cache, self.mask = cache, mask
            self.mergeable = all(type(layer).__name__ == "DynamicLayer" for layer in getattr(cache, "layers", [None]))
            return
        old_w, new_w = self.mask.shape[1], mask.shape[1]
        width = max(old_w, new_w)
        merged = []
        for old_layer, new_layer in zip(self.cache.layers, cache.layers, strict=True):
            k = torch.cat([_pad_left(old_layer.keys, width), _pad_left(new_layer.keys, width)])
            v = torch.cat([_pad_left(old_layer.values, width), _pad_left(new_layer.values, width)])
            merged.append((k, v))
        from transformers import DynamicCache

        self.cache = DynamicCache(ddp_cache_data=merged)
        self.mask = torch.cat([_pad_mask(self.mask, width), _pad_mask(mask, width)])

    # --- decoding ----------------------------------------------------------------------------

    @torch.inference_mode()
    def step(self) -> None:
        """One token for every row in the batch."""
        mask = torch.cat([self.mask, torch.ones((len(self.rows), 1), dtype=torch.long)], dim=1)
        try:
            out = self.d.model(
                input_ids=self.last.unsqueeze(1).to(self.d.device),
                attention_mask=mask.to(self.d.device),
                position_ids=self.positions.unsqueeze(1).to(self.d.device),
                past_key_values=self.cache,
                use_cache=True,
            )
        except torch.OutOfMemoryError:
            if not self.d.limits.adaptive or self.live() <= 1:
                raise
            self._evict()
            return
        self.cache = out.past_key_values
        self.mask = mask
        self.positions = self.positions + 1
        self.last = self._pick(out.logits[:, -1, :])
        for row, token in zip(self.rows, self.last.tolist(), strict=True):
            if not row.done:
                self._take(row, token)

    def _pick(self, logits: torch.Tensor) -> torch.Tensor:
        """The next token of each row: argmax, or a seeded draw after temperature, top-k and top-p."""
        logits = logits.float()
        if not self.config.do_sample:
            return logits.argmax(dim=-1).cpu()
        logits = logits / self.config.temperature
        if self.config.top_k:
            kth = torch.topk(logits, min(self.config.top_k, logits.shape[-1])).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if self.config.top_p < 1.0:
            ordered, order = torch.sort(logits, descending=True)
            cumulative = ordered.softmax(dim=-1).cumsum(dim=-1)
            drop = cumulative - ordered.softmax(dim=-1) > self.config.top_p  # keep the token that crosses top_p
            logits = logits.scatter(1, order, ordered.masked_fill(drop, float("-inf")))
        probs = logits.softmax(dim=-1).cpu()
        return torch.multinomial(probs, 1, generator=self.generator).squeeze(1)

    def _take(self, row: _Row, token: int) -> None:
        """Record one generated token; mark the row done on end-of-sequence, a stop string or the length cap."""
        if token in self.d.stop_ids:
            row.done = True
            return
        row.tokens.append(token)
        if len(row.tokens) >= self.config.max_new_tokens:
            row.done = True
        elif self.stops:
            tail = self.d.tokenizer.decode(row.tokens[-self.stop_window :], skip_special_tokens=True)
            row.done = any(s in tail for s in self.stops)

    def finished(self) -> Iterator[tuple[int, list[int]]]:
        """Rows that ended since the last call."""
        for row in self.rows:
            if row.done and row.index not in self.reported:
                self.reported.add(row.index)
                yield row.index, row.tokens

    # --- housekeeping ------------------------------------------------------------------------

    def compact(self, *, force: bool = False) -> None:
        """Drop finished rows from the cache (once enough have finished, or when asked), then unused left padding."""
        done = sum(r.done for r in self.rows)
        if not done or (not force and done < max(1, int(len(self.rows) * COMPACT_SHARE))):
            return
        self._keep([i for i, r in enumerate(self.rows) if not r.done])

    @torch.inference_mode()
    def _keep(self, keep: list[int]) -> None:
        """Keep only these rows (by position in the batch) in every per-row structure."""
        self.rows = [self.rows[i] for i in keep]
        if not keep:
            self.cache, self.mask = None, torch.zeros((0, 0), dtype=torch.long)
            self.positions, self.last = self.positions[:0], self.last[:0]
            return
        index = torch.tensor(keep, dtype=torch.long)
        self.mask, self.positions, self.last = self.mask[index], self.positions[index], self.last[index]
        on_device = index.to(self.d.device)
        if not self.mergeable:
            self.cache.batch_select_indices(on_device)
            return
        lead = int((self.mask.sum(dim=0) == 0).long().cumprod(dim=0).sum())  # columns that are padding in every row
        layers = [(layer.keys[on_device, :, lead:], layer.values[on_device, :, lead:]) for layer in self.cache.layers]
        from transformers import DynamicCache

        self.cache = DynamicCache(ddp_cache_data=layers)
        self.mask = self.mask[:, lead:]

    def _evict(self) -> None:
        """Out of memory mid-decode: send the newest half of the live rows back to the queue (they start over) and lower the budget."""
        live = [i for i, r in enumerate(self.rows) if not r.done]
        evicted = live[len(live) // 2 :]
        for i in reversed(evicted):
            self.waiting.appendleft(self.rows[i].index)
        gone = set(evicted)
        self._keep([i for i in range(len(self.rows)) if i not in gone])
        self.d.limits.max_tokens = max(self.d.limits.floor, len(self.rows) * max(1, self.mask.shape[1]))
        torch.cuda.empty_cache()


def _pad_left(t: torch.Tensor, width: int) -> torch.Tensor:
    """Zero-pad a (rows, heads, seq, dim) tensor on the left of its sequence axis to `width`."""
    missing = width - t.shape[2]
    if missing <= 0:
        return t
    return torch.cat([t.new_zeros((t.shape[0], t.shape[1], missing, t.shape[3])), t], dim=2)


def _pad_mask(mask: torch.Tensor, width: int) -> torch.Tensor:
    missing = width - mask.shape[1]
    return mask if missing <= 0 else torch.cat([torch.zeros((mask.shape[0], missing), dtype=mask.dtype), mask], dim=1)
