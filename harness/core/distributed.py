"""Data-parallel evaluation across processes: `torchrun --nproc_per_node N harness eval ...`.

torchrun (and `accelerate launch`) start N copies of the same command with RANK, WORLD_SIZE,
LOCAL_RANK and a rendezvous address in the environment. Every rank loads the data and the model
(on `cuda:LOCAL_RANK`, or the CPU), takes its share of the pending samples, and sends its finished
records to rank 0 after each round; rank 0 alone holds the run folder's lock, appends to it (so a
killed run resumes as usual) and writes the reports. Each rank's backend is handed its whole shard
(the exchange rounds run on the side, every `ROUND_SECONDS`, and never cap a batch). Records are gathered as Python objects over
a gloo group, which works on CPU and GPU alike and costs nothing next to a forward pass.

If a rank dies, the others' next collective fails at once (connection reset) or after
`HARNESS_DIST_TIMEOUT` seconds (default 600), and the run stops with a one-line error; torchrun
itself also stops the remaining ranks when one exits with an error.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from harness.core.errors import UserError, one_line

__all__ = ["ROUND_SECONDS", "DistributedError", "Group", "balanced_shards", "current_group", "in_rounds", "local_rank"]

T = TypeVar("T")
ROUND_SECONDS = 1.0


class DistributedError(UserError):
    """A rank died or stopped answering: the run cannot finish in this launch."""


def local_rank() -> int | None:
    """LOCAL_RANK under a multi-process launcher, else None."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and "LOCAL_RANK" in os.environ:
        return int(os.environ["LOCAL_RANK"])
    return None


def balanced_shards(costs: Sequence[int], world: int) -> list[list[int]]:
    """Indices split into `world` shards of near-equal total cost: longest first, each to the lightest shard.

    Greedy longest-processing-time scheduling (within 4/3 of the optimum); deterministic, so every rank
    computes the same split without talking to the others. Each shard keeps its indices in order.

    >>> balanced_shards([5, 1, 4, 2, 3, 3], 2)
    [[0, 1, 5], [2, 3, 4]]
    """
    loads = [0] * world
    shards: list[list[int]] = [[] for _ in range(world)]
    for i in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        target = min(range(world), key=lambda r: (loads[r], r))
        shards[target].append(i)
        loads[target] += costs[i]
    return [sorted(s) for s in shards]


@dataclass(frozen=True)
class Group:
    """This process's place in the launch; `world == 1` means a plain single-process run."""

    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0 writes files and prints."""
        return self.rank == 0

    def gather(self, obj: T) -> list[T]:
        """Every rank's `obj` on rank 0 (in rank order); other ranks get an empty list."""
        if self.world == 1:
            return [obj]
        import torch.distributed as dist

        out: list[Any] | None = [None] * self.world if self.is_main else None
        self._guard(lambda: dist.gather_object(obj, out, dst=0))
        return list(out or [])

    def broadcast(self, obj: T) -> T:
        """Rank 0's `obj` on every rank."""
        if self.world == 1:
            return obj
        import torch.distributed as dist

        box = [obj if self.is_main else None]
        self._guard(lambda: dist.broadcast_object_list(box, src=0))
        return box[0]  # type: ignore[return-value]

    def close(self) -> None:
        """Wait for every rank, then leave the group: a rank exiting while gloo still talks to it can abort its peers."""
        if self.world == 1:
            return
        import torch.distributed as dist

        self._guard(dist.barrier)
        dist.destroy_process_group()

    def _guard(self, call: Any) -> None:
        try:
            call()
        except (RuntimeError, OSError) as exc:  # gloo raises RuntimeError (DistBackendError) on a lost peer
            first = one_line(exc)[:160]
            raise DistributedError(
                f"rank {self.rank}: lost contact with the other ranks ({first}); a process died or timed out. "
                "Finished samples are saved: run the same command again to resume"
            ) from None


def current_group() -> Group:
    """Join the launcher's process group (once) and return this rank's place; single process without a launcher."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Group()
    import torch.distributed as dist

    if not dist.is_initialized():
        timeout = timedelta(seconds=float(os.environ.get("HARNESS_DIST_TIMEOUT", "600")))
        try:
            dist.init_process_group("gloo", timeout=timeout)
        except (RuntimeError, ValueError) as exc:
            raise DistributedError(f"cannot join the process group of {world} ranks: {exc}") from None
    return Group(dist.get_rank(), dist.get_world_size())


def in_rounds(group: Group, items: Iterator[T], seconds: float = ROUND_SECONDS) -> Iterator[list[T]]:
    """What every rank's `items` produced, in lists, on rank 0 (other ranks get empty lists).

    One process: each item as soon as it is made. Several: each rank runs its `items` on a thread
    of its own and the main thread gathers what is ready every `seconds` (a collective every rank
    joins), until every rank is through; so the backend never waits for a round, and a round never
    limits how much work the backend has in hand.
    """
    if group.world == 1:
        for item in items:
            yield [item]
        return
    ready: queue.Queue[Any] = queue.Queue()
    end = object()

    def pump() -> None:
        try:
            for item in items:
                ready.put(item)
        except BaseException as exc:  # re-raised on the main thread
            ready.put(_Raised(exc))
        finally:
            ready.put(end)

    threading.Thread(target=pump, name="harness-rank-work", daemon=True).start()
    exhausted = False
    while True:
        batch: list[T] = []
        deadline = time.monotonic() + seconds
        while not exhausted and (left := deadline - time.monotonic()) > 0:
            try:
                item = ready.get(timeout=left)
            except queue.Empty:
                break
            if item is end:
                exhausted = True
            elif isinstance(item, _Raised):
                raise item.exc
            else:
                batch.append(item)
        gathered = group.gather((batch, exhausted))
        everyone_done = group.broadcast(all(done for _, done in gathered) if group.is_main else None)
        yield [x for part, _ in gathered for x in part]
        if everyone_done:
            return


@dataclass(frozen=True)
class _Raised:
    exc: BaseException
