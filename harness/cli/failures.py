"""Turning failures the user did not cause by a typo into one line: OS errors on paths, and our own bugs.

An OS error (a read-only folder, a path through a regular file, a name too long, a full disk) is
the environment's, exit 2: the line names the path and what to do. Anything else escaping a
command is a bug in the harness, exit 3: the traceback goes to a log file, and the one line on
stderr names that file, so the user can attach it to a report without scrolling.
"""

from __future__ import annotations

import errno
import os
import tempfile
import time
import traceback
from pathlib import Path

from harness.core.redact import redact

__all__ = ["describe_os_error", "log_traceback"]

_FIX = {
    errno.EACCES: "check its permissions, or choose another location",
    errno.EPERM: "check its permissions, or choose another location",
    errno.EROFS: "the file system is read-only: choose another location",
    errno.ENOTDIR: "a part of the path is a file, not a folder: fix the path",
    errno.EISDIR: "it is a folder: give a file path",
    errno.EEXIST: "something is already there: choose another path",
    errno.ENAMETOOLONG: "shorten the path (at most 255 bytes per component)",
    errno.ENOSPC: "the disk is full: free space and run the same command again",
    errno.ENOENT: "it does not exist: check the path",
}


def describe_os_error(exc: OSError) -> str:
    """`PATH: what happened (the fix)` for an OS error."""
    where = exc.filename if exc.filename is not None else "a file the harness was writing"
    what = exc.strerror or type(exc).__name__
    fix = _FIX.get(exc.errno or 0, "check the path and its permissions")
    return redact(f"{where}: {what} ({fix})")


def log_traceback(exc: BaseException) -> str:
    """Write the traceback to a log file; returns the sentence that names it."""
    text = redact("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    for folder in (Path(os.environ.get("HARNESS_LOG_DIR", "")) if os.environ.get("HARNESS_LOG_DIR") else None, _cache_logs()):
        if folder is None:
            continue
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
            path.write_text(text, encoding="utf-8")
            return f"this is a bug in the harness; the traceback is in {path} (please attach it to a report)"
        except OSError:
            continue
    fd, name = tempfile.mkstemp(prefix="harness-crash-", suffix=".log")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return f"this is a bug in the harness; the traceback is in {name} (please attach it to a report)"


def _cache_logs() -> Path:
    from harness.engine.config import cache_root

    return cache_root() / "logs"
