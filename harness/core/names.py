"""Names from outside that become paths or printed text: checked where they enter, escaped where they leave.

A variant, subject, config, split, checkpoint or snapshot file name becomes a path component of a folder the
harness writes; `check_name` refuses anything that could leave that folder or forge a line of output
(a separator, `..`, NUL, a newline or any other control character), before any work. `printable` escapes
control characters in text that reaches the terminal or a one-line error, so a file name holding a newline
cannot start a line of its own (`warning: ...` forged by a snapshot's file name). `check_apart` refuses an
output path equal to or inside an input path, and two outputs on the same path.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from harness.core.errors import UserError

__all__ = ["check_apart", "check_name", "has_control", "printable"]

_MAX_NAME = 200  # bytes: file systems allow 255 per component; our suffixes (`_val.csv`, `.jsonl`) need room


def has_control(text: str) -> bool:
    r"""Whether `text` holds a control character (Unicode category Cc, or a line/paragraph separator).

    >>> has_control("a\tb"), has_control("abc"), has_control("a\u2028b")
    (True, False, True)
    """
    return any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in text)


def printable(text: str, limit: int = 200) -> str:
    r"""`text` as one printable line: control characters written as escapes (`\n`, `\x00`), cut at `limit` characters.

    >>> printable("a\nwarning: forged")
    'a\\nwarning: forged'
    >>> printable("x\x00y"), printable("ok")
    ('x\\x00y', 'ok')
    """
    out = []
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    line = "".join(out)
    return line if len(line) <= limit else line[: limit - 3] + "..."


def check_name(name: object, what: str) -> str:
    """`name` when it is safe as one path component and one line of output, else a `UserError` naming `what` and the fix.

    >>> check_name("high_school_biology", "subject")
    'high_school_biology'
    >>> check_name("../x", "variant")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    harness.core.errors.UserError: variant '../x': a name may not contain '/' or ...
    """
    if not isinstance(name, str):
        raise UserError(f"{what} {printable(repr(name))}: expected a name (text), got {type(name).__name__}")
    shown = printable(repr(name), 80)
    fix = "use letters, digits, '-', '_' or '.'"
    if not name.strip():
        raise UserError(f"{what} {shown}: an empty name; {fix}")
    if "/" in name or "\\" in name or (os.sep in name) or (os.altsep and os.altsep in name):
        raise UserError(f"{what} {shown}: a name may not contain '/' or '\\' (it becomes a folder or file name); {fix}")
    if name in (".", "..") or name.startswith(".."):
        raise UserError(f"{what} {shown}: a name may not be or start with '..'; {fix}")
    if has_control(name):
        raise UserError(f"{what} {shown}: a name may not hold a control character (newline, NUL, tab...); {fix}")
    if name != name.strip():
        raise UserError(f"{what} {shown}: a name may not start or end with a space; {fix}")
    if len(name.encode("utf-8", "surrogatepass")) > _MAX_NAME:
        raise UserError(f"{what} {shown}: longer than {_MAX_NAME} bytes; use a shorter name")
    return name


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_apart(outputs: Iterable[tuple[str, Path | None]], inputs: Iterable[tuple[str, Path | None]]) -> None:
    """Refuse an output equal to or inside an input (or an input inside an output folder), and two outputs on one path.

    Each entry is (flag, path); None entries are ignored. Paths are compared after resolving links, so
    `./data` and `data/../data` are the same place. Checked before any work, so nothing is overwritten.
    """
    outs = [(flag, path.resolve()) for flag, path in outputs if path is not None]
    ins = [(flag, path.resolve()) for flag, path in inputs if path is not None]
    for i, (flag, out) in enumerate(outs):
        for other_flag, other in outs[i + 1 :]:
            if out == other:
                raise UserError(f"{flag} and {other_flag} are the same path ({printable(str(out))}); give each its own file")
        for in_flag, source in ins:
            if _inside(out, source):
                where = "is" if out == source else "is inside"
                raise UserError(f"{flag} {printable(str(out))} {where} the input {in_flag} {printable(str(source))}; "
                                "write the output somewhere else")  # fmt: skip
            if _inside(source, out):
                raise UserError(f"{flag} {printable(str(out))} holds the input {in_flag} {printable(str(source))}, which writing "
                                "it would replace; write the output somewhere else")  # fmt: skip
