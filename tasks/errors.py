"""Data-file errors: one line that names the file, the line and the fix.

They subclass the program-wide `UserError` (harness.core.errors), so the CLI reports them in one line with exit 2.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from harness.core.errors import HarnessWarning, UserError

__all__ = ["DataError", "RowError", "skip_or_raise"]


class DataError(UserError):
    """A problem in a data file, located to the physical line where there is one."""

    def __init__(self, path: str | Path, problem: str, *, line: int | None = None, fix: str = "") -> None:
        """Build the message `FILE line N: PROBLEM (FIX)`."""
        self.path = Path(path)
        self.line = line
        self.problem = problem
        self.fix = fix
        where = f"{self.path}" + (f" line {line}" if line is not None else "")
        super().__init__(f"{where}: {problem}" + (f" ({fix})" if fix else ""))


class RowError(DataError):
    """A problem confined to one data row: `on_bad_row: skip` may skip it instead of stopping."""


def skip_or_raise(err: RowError, on_bad_row: str) -> None:
    """`on_bad_row: skip` turns a row error into a warning (the caller counts it); otherwise it stops the load."""
    if on_bad_row != "skip":
        raise err
    warnings.warn(f"skipped: {err}", HarnessWarning, stacklevel=3)
