"""Token-budget batching: the out-of-memory probe down, and the adaptive probe up."""

from __future__ import annotations

import pytest

from harness.backends.hf.batching import GROW_AFTER, Budget, run_batched, token_batches


class FakeOOM(Exception):
    pass


def test_every_index_once_and_longest_first():
    costs = [3, 9, 1, 7, 7, 2]
    batches = token_batches(costs, token_budget=16)
    assert sorted(i for b in batches for i in b) == list(range(6))
    assert batches[0][0] == 1
    assert all(max(costs[i] for i in b) * len(b) <= 16 or len(b) == 1 for b in batches)


def test_adaptive_budget_halves_on_oom_and_finishes_everything():
    def run(batch):
        if len(batch) * 10 > 20:  # a "device" that fits two rows
            raise FakeOOM
        return len(batch)

    budget = Budget(tokens=100, adaptive=True, floor=1)
    seen = [b for b, _ in run_batched([10] * 7, run, budget, (FakeOOM,))]
    assert sorted(i for b in seen for i in b) == list(range(7))
    assert budget.tokens == 25 and budget.ceiling == 25


def test_adaptive_budget_keeps_probing_up_until_the_device_is_full():
    sizes = []

    def run(batch):
        if len(batch) > 16:  # the device holds 16 rows of cost 10
            raise FakeOOM
        sizes.append(len(batch))

    budget = Budget(tokens=20, adaptive=True, floor=1)
    list(run_batched([10] * 400, run, budget, (FakeOOM,)))
    assert sum(sizes) == 400
    # 2 rows at first, then doubling after every GROW_AFTER batches that fit, up to 16 rows, and no further.
    assert sizes[:GROW_AFTER] == [2] * GROW_AFTER and max(sizes) == 16 and sizes[-2] == 16 and budget.tokens == 160


def test_fixed_budget_never_moves_and_reraises():
    budget = Budget(tokens=30)
    assert [len(b) for b, _ in run_batched([10] * 9, len, budget)] == [3, 3, 3] and budget.tokens == 30
    with pytest.raises(FakeOOM):
        list(run_batched([10] * 3, lambda b: (_ for _ in ()).throw(FakeOOM()), Budget(tokens=100), (FakeOOM,)))
