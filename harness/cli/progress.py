"""Progress on stderr for long runs: a rich bar per task on a terminal, plain lines at a bounded rate elsewhere.

A bar shows done/total, samples per second, elapsed time and the time left, updated as records
finish. When stderr is not a terminal (CI logs, `2> log`), a bar would print carriage-return
spam or nothing; instead one line per task is printed at most every `LINE_SECONDS`, plus one
when the task is done. Nothing is printed before work starts, so an input error stays one line.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["LINE_SECONDS", "rich_progress"]

LINE_SECONDS = 10.0


@contextmanager
def rich_progress(unit: str = "samples") -> Iterator[Callable[[str, int, int], None]]:
    """Yield a `progress(task, done, total)` callback; rates are `unit`/s."""
    if not sys.stderr.isatty():
        yield _lines(unit)
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    ids: dict[str, int] = {}
    starts: dict[str, tuple[float, int]] = {}

    def update(task: str, done: int, total: int) -> None:
        if not ids:
            bars.start()  # only once work starts: an input error stays a single line on stderr
        if task not in ids:
            ids[task] = bars.add_task(escape(task), total=total, rate="")  # a name is text, not rich markup
            starts[task] = (time.monotonic(), done)
        t0, first = starts[task]
        elapsed = time.monotonic() - t0
        rate = f"{(done - first) / elapsed:.1f} {unit}/s" if elapsed > 0 and done > first else ""
        bars.update(ids[task], completed=done, rate=rate)  # type: ignore[arg-type]

    try:
        yield update
    finally:
        if ids:
            bars.stop()


def _lines(unit: str) -> Callable[[str, int, int], None]:
    """Plain `task: done/total (rate, eta)` lines, at most one per task every LINE_SECONDS, and one at the end."""
    last: dict[str, float] = {}
    starts: dict[str, tuple[float, int]] = {}
    ended: set[str] = set()

    def update(task: str, done: int, total: int) -> None:
        now = time.monotonic()
        if task not in starts:
            starts[task] = (now, done)
            last[task] = now
            return
        if task in ended or (done < total and now - last[task] < LINE_SECONDS):
            return
        last[task] = now
        t0, first = starts[task]
        rate = (done - first) / (now - t0) if now > t0 else 0.0
        eta = f", eta {_clock((total - done) / rate)}" if rate > 0 and done < total else ""
        sys.stderr.write(f"{task}: {done}/{total} ({rate:.1f} {unit}/s{eta})\n")
        if done >= total:
            ended.add(task)

    return update


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
