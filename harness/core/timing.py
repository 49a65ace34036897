"""Where a run's time went: named phases, timed with an injectable clock (tests check the arithmetic, not the wall).

`harness eval` records its phases in results.json (`timings`: startup, plan, load_data, load_model, tokenize,
compute, write) and prints them in one line with `--timings`, so a slow run says whether the model load, the
tokenizer or the forward took its minutes. `startup` is the time from the process's start to the run (Python
and the harness's imports), read from the OS where it says (Linux), else absent.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator

__all__ = ["Phases", "process_age"]


class Phases:
    """Seconds per named phase; a phase entered twice adds up.

    >>> ticks = iter([0.0, 1.5, 2.0, 2.25])
    >>> phases = Phases(clock=lambda: next(ticks))
    >>> with phases.phase("load_model"):
    ...     pass
    >>> with phases.phase("load_model"):
    ...     pass
    >>> phases.seconds
    {'load_model': 1.75}
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        """No phase yet; `clock` is read at each phase's start and end."""
        self.clock = clock
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the body as phase `name` (added to it when it ran before)."""
        start = self.clock()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + self.clock() - start

    def rounded(self) -> dict[str, float]:
        """Each phase to the millisecond (results.json)."""
        return {name: round(value, 3) for name, value in self.seconds.items()}

    def line(self) -> str:
        """`timings: load_model 2.1 s, compute 12.0 s, ... (sum 15.3 s)`: the `--timings` line."""
        parts = [f"{name} {value:.2f} s" for name, value in self.seconds.items()]
        return f"timings: {', '.join(parts)} (sum {sum(self.seconds.values()):.2f} s)"


def process_age() -> float | None:
    """Seconds since this process started (Linux /proc), or None where the OS does not say."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        return max(0.0, uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None
