"""Errors and exit codes, for every layer: one line that names the file, the line and the fix.

The CLI turns any `UserError` into that line on stderr and exit code 2, with no traceback.
This module imports nothing of the project, so tasks, metrics and harness can all use it, and
`harness --help` stays fast.
"""

from __future__ import annotations

import warnings
from pathlib import Path

__all__ = [
    "EXIT_CODES_HELP",
    "INPUT_ERROR",
    "INTERNAL_ERROR",
    "INTERRUPTED",
    "OK",
    "RESULT_SAYS_NO",
    "TERMINATED",
    "DataError",
    "HarnessWarning",
    "RowError",
    "UserError",
    "skip_or_raise",
]

# The exit codes are a contract scripts rely on (docs/errors.md, `harness --help`).
OK = 0
RESULT_SAYS_NO = 1  # the run worked and its answer is no: a regression, failed samples
INPUT_ERROR = 2  # the input or the environment is wrong: one line says what, where and the fix
INTERNAL_ERROR = 3  # a bug in the harness: one line names the log file holding the traceback
INTERRUPTED = 130  # Ctrl-C (SIGINT): finished samples are saved, the same command resumes
TERMINATED = 143  # SIGTERM (Slurm preemption, docker stop): as for Ctrl-C

EXIT_CODES_HELP = """\
exit codes:
  0    success
  1    the result says no: a regression (compare --fail-on-regression) or failed samples (api)
  2    the input or the environment is wrong; one line on stderr says what, where and the fix
  3    an internal error; one line names the log file that holds the traceback
  130  interrupted (Ctrl-C); 143 terminated (SIGTERM): finished samples are kept, rerun to resume
"""


class UserError(Exception):
    """A mistake the user can fix (bad input, bad argument); never a bug in the harness."""


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


class HarnessWarning(UserWarning):
    """Something the user should know that did not stop the run (a skipped row, a damaged line worked around).

    The CLI prints these as one `warning:` line each; other libraries' warnings are kept off a default run's stderr.
    """


def skip_or_raise(err: RowError, on_bad_row: str) -> None:
    """`on_bad_row: skip` turns a row error into a warning (the caller counts it); otherwise it stops the load."""
    if on_bad_row != "skip":
        raise err
    warnings.warn(f"skipped: {err}", HarnessWarning, stacklevel=3)
