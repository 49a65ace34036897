"""Keep the garbage collector off the long-lived heap while a run streams results.

A loaded run holds millions of long-lived Python objects (the tokenizer's vocabulary, samples,
requests), and each full collection walks all of them. Tokenizing and recording a task allocates
enough to trigger such collections again and again: on ARC-Easy with a tiny model they were a
third of the host time around the forward (benchmarks/host_overhead.py). `gc.freeze()` moves what
exists now to a permanent generation that collections skip; what the run allocates later is
collected as usual, and the frozen objects are handed back to the collector when the run ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["frozen_heap"]


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Collections skip every object alive on entry, until exit (nested uses unfreeze once, at the outermost exit)."""
    outermost = gc.get_freeze_count() == 0
    gc.freeze()
    try:
        yield
    finally:
        if outermost:
            gc.unfreeze()
