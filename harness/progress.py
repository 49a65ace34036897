"""Progress bars (rich, on stderr) for long runs; silent when stderr is not a terminal-like stream."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["rich_progress"]


@contextmanager
def rich_progress() -> Iterator[Callable[[str, int, int], None]]:
    """Yield a `progress(task, done, total)` callback that drives one bar per task."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    ids: dict[str, int] = {}

    def update(task: str, done: int, total: int) -> None:
        if not ids:
            bars.start()  # only once work starts: an input error stays a single line on stderr
        if task not in ids:
            ids[task] = bars.add_task(task, total=total)
        bars.update(ids[task], completed=done)  # type: ignore[arg-type]

    try:
        yield update
    finally:
        if ids:
            bars.stop()
