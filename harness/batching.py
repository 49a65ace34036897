"""Length-sorted, token-budgeted batches: similar lengths together wastes little padding.

Batches are built from the longest request down, so the first batch is the most expensive:
an out-of-memory error shows up at once, not hours in. Results are put back in the original
order by the caller using the indices each batch carries.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["token_batches"]


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
