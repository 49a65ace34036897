"""Program-wide errors: the bottom of the import graph, so every layer can raise them.

The CLI turns any `UserError` into one line on stderr and exit code 2, with no traceback; data-file
errors (`harness.tasks.errors`) subclass it, and the exit codes live with the CLI
(`harness.cli.exit_codes`). This module imports nothing of the project, so `harness --help` stays fast.
"""

from __future__ import annotations

__all__ = ["HarnessWarning", "UserError", "one_line"]


class UserError(Exception):
    """A mistake the user can fix (bad input, bad argument); never a bug in the harness."""


class HarnessWarning(UserWarning):
    """Something the user should know that did not stop the run (a skipped row, a damaged line worked around).

    The CLI prints these as one `warning:` line each; other libraries' warnings are kept off a default run's stderr.
    """


def one_line(exc: BaseException) -> str:
    r"""An exception as one line: its first non-blank line, or its class name when the message is empty.

    Used wherever an error is shown to a user in a single line (a failed variant, a failed sample, a log hint),
    so an empty or multi-line message never breaks the line (or raises, as `str(exc).splitlines()[0]` does).

    >>> one_line(ValueError("bad\nmore"))
    'bad'
    >>> one_line(KeyError())
    'KeyError'
    """
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__
