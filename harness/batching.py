"""Length-sorted, token-budgeted batches: similar lengths together wastes little padding.

Batches are built from the longest request down, so the first batch is the most expensive:
an out-of-memory error shows up at once, not hours in. Results are put back in the original
order by the caller using the indices each batch carries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Budget", "run_batched", "token_batches"]


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
    """How much one forward pass may hold; `adaptive` budgets halve on out-of-memory and remember it."""

    tokens: int
    max_batch: int | None = None
    adaptive: bool = False
    floor: int = 256


def run_batched(costs: Sequence[int], run: Callable[[list[int]], None], budget: Budget, oom: tuple[type[BaseException], ...] = ()) -> None:
    """Call `run(indices)` over token batches of `costs`.

    With an adaptive budget (`--batch-size auto` on a GPU), an out-of-memory error halves the
    budget and retries what is left: the first batches probe the largest size that fits, and
    later calls start from what worked.
    """
    done: set[int] = set()
    remaining = list(range(len(costs)))
    while remaining:
        try:
            for batch in token_batches([costs[i] for i in remaining], token_budget=budget.tokens, max_batch=budget.max_batch):
                indices = [remaining[j] for j in batch]
                run(indices)
                done.update(indices)
            return
        except oom:
            if not budget.adaptive or budget.tokens <= budget.floor:
                raise
            budget.tokens //= 2
            remaining = [i for i in remaining if i not in done]
