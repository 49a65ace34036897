"""Token-budget batching and the out-of-memory probe."""

from __future__ import annotations

import pytest

from harness.batching import Budget, run_batched, token_batches


class FakeOOM(Exception):
    pass


def test_every_index_once_and_longest_first():
    costs = [3, 9, 1, 7, 7, 2]
    batches = token_batches(costs, token_budget=16)
    assert sorted(i for b in batches for i in b) == list(range(6))
    assert batches[0][0] == 1
    assert all(max(costs[i] for i in b) * len(b) <= 16 or len(b) == 1 for b in batches)


def test_adaptive_budget_halves_on_oom_and_finishes_everything():
    seen: list[list[int]] = []

    def run(batch):
        if sum(10 for _ in batch) > 20:  # a "device" that fits two rows
            raise FakeOOM
        seen.append(batch)

    budget = Budget(tokens=100, adaptive=True, floor=1)
    run_batched([10] * 7, run, budget, (FakeOOM,))
    assert sorted(i for b in seen for i in b) == list(range(7))
    assert budget.tokens == 25


def test_fixed_budget_reraises():
    with pytest.raises(FakeOOM):
        run_batched([10] * 3, lambda b: (_ for _ in ()).throw(FakeOOM()), Budget(tokens=100), (FakeOOM,))
