"""Run an iterator one step ahead in a background thread, so its work overlaps the consumer's.

The evaluation loop has two kinds of work per batch: the device's (tokenized inputs in, a few
numbers out) and the host's (records, metrics, the run store). Run in series, a GPU idles while the
host works. `ahead` runs the producer (the backend's loop) in a thread, at most `depth` items ahead
of the consumer, so the next forward runs while the last results are recorded. torch kernels and
the tokenizers' Rust code release the GIL, so the two really overlap.

Order and durability are the consumer's: items arrive in the producer's order, and the consumer
stores each as it arrives (a kill loses at most the `depth` items in the queue, which a resume
computes again). An exception in the producer is raised in the consumer, as itself, so it reads
as any other error (one line for a `UserError`). When the consumer stops early (an error, Ctrl-C)
the producer is told to stop and is closed in its own thread after the step it is in.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

__all__ = ["ahead", "stopping"]

T = TypeVar("T")
_END = object()
JOIN_SECONDS = 30.0  # how long a stopping consumer waits for the producer's current step


def stopping() -> bool:
    """Whether the consumer of the producer thread this runs in has stopped (Ctrl-C, an error).

    A producer's step that would wait long checks it and returns early, so the consumer's exit is not held up
    to `JOIN_SECONDS`.
    """
    stop = getattr(threading.current_thread(), "harness_stop", None)
    return stop is not None and stop.is_set()


def ahead(source: Iterable[T], depth: int = 2, name: str = "harness-producer") -> Iterator[T]:
    """The items of `source`, produced in a background thread at most `depth` items ahead."""
    items: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                items.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        iterator = iter(source)
        try:
            for item in iterator:
                if not put((True, item)):
                    break
            else:
                put((True, _END))
        except BaseException as exc:  # handed to the consumer, which raises it
            put((False, exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.harness_stop = stop  # type: ignore[attr-defined]  # read by `stopping()` in the producer's own code
    worker.start()
    try:
        while True:
            ok, item = items.get()
            if not ok:
                raise item
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        worker.join(JOIN_SECONDS)
