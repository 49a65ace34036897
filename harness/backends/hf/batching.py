"""Length-sorted, token-budgeted batches: similar lengths together waste little padding.

Batches are built from the longest request down, so the first batch is the most expensive: an
out-of-memory error shows up at once, not hours in. With an adaptive budget (`--batch-size auto`
on a GPU) an out-of-memory error halves the budget and remembers the ceiling, and a run of
batches that fit doubles it again, so the budget keeps probing up to what the device holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["GROW_AFTER", "Budget", "run_batched", "token_batches"]

R = TypeVar("R")
GROW_AFTER = 4  # batches in a row that fit before an adaptive budget tries twice as much


def token_batches(costs: Sequence[int], *, token_budget: int, max_batch: int | None = None) -> list[list[int]]:
    """Group indices so that (batch size x longest cost in it) stays within `token_budget`.

    >>> token_batches([5, 1, 4, 2], token_budget=8)
    [[0], [2, 3], [1]]
    >>> token_batches([5, 1, 4, 2], token_budget=100, max_batch=3)
    [[0, 2, 3], [1]]
    """
    order = sorted(range(len(costs)), key=lambda i: -costs[i])
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        cost = costs[i]
        grown = max(longest, cost) * (len(current) + 1)
        full = max_batch is not None and len(current) >= max_batch
        if current and (grown > token_budget or full):
            batches.append(current)
            current, longest = [], 0
        current.append(i)
        longest = max(longest, cost)
    if current:
        batches.append(current)
    return batches


@dataclass
class Budget:
    """How many tokens one forward pass may hold; an adaptive budget moves with what fits (see the module docstring)."""

    tokens: int
    max_batch: int | None = None
    adaptive: bool = False
    floor: int = 256
    ceiling: int = 1 << 22
    _fits: int = 0

    def fitted(self) -> bool:
        """A batch at this budget ran; True when an adaptive budget has just doubled."""
        if not self.adaptive:
            return False
        self._fits += 1
        if self._fits < GROW_AFTER or self.tokens * 2 > self.ceiling:
            return False
        self.tokens *= 2
        self._fits = 0
        return True

    def out_of_memory(self) -> None:
        """Halve the budget and never try more than that again; raises when it cannot shrink."""
        if not self.adaptive or self.tokens <= self.floor:
            raise MemoryError(f"out of memory at the smallest batch ({self.tokens} tokens)")
        self.tokens //= 2
        self.ceiling = self.tokens
        self._fits = 0


def run_batched(
    costs: Sequence[int], run: Callable[[list[int]], R], budget: Budget, oom: tuple[type[BaseException], ...] = ()
) -> Iterator[tuple[list[int], R]]:
    """Yield `(indices, run(indices))` over token batches of `costs`, re-batching the rest whenever the budget moves."""
    remaining = list(range(len(costs)))
    while remaining:
        done: set[int] = set()
        moved = False
        for batch in token_batches([costs[i] for i in remaining], token_budget=budget.tokens, max_batch=budget.max_batch):
            indices = [remaining[j] for j in batch]
            try:
                result = run(indices)
            except oom:
                if not budget.adaptive or budget.tokens <= budget.floor:
                    raise
                budget.out_of_memory()
                _free_cuda()
                moved = True
                break
            done.update(indices)
            yield indices, result
            if budget.fitted():
                moved = True
                break
        remaining = [i for i in remaining if i not in done] if moved else []


def _free_cuda() -> None:
    try:
        import torch
    except ModuleNotFoundError:
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
