r"""JSON lines as the run folder writes them: one record per line, lines ending at "\n" only.

Records hold model outputs and data verbatim, so a record may contain U+2028, U+2029, U+0085 or
a lone "\r": `json.dumps(..., ensure_ascii=False)` writes those raw, and `str.splitlines()`
would split inside them. Every reader of run files goes through `iter_lines`, which splits on
b"\n" alone; every writer goes through `dumps_line`, which also masks registered secrets.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from harness.core.redact import redact_secrets

__all__ = ["dumps_line", "iter_lines"]


def dumps_line(record: Mapping[str, Any]) -> str:
    r"""One record as a line of text, newline included.

    >>> dumps_line({"text": "a\u2028b"}) == '{"text": "a\u2028b"}\n'
    True
    """
    return redact_secrets(json.dumps(record, ensure_ascii=False)) + "\n"


def iter_lines(path: Path) -> Iterator[tuple[int, int, bytes]]:
    r"""(line number, byte offset, raw line with its "\n") for each line; the last may lack the "\n" (a torn write)."""
    offset = 0
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):  # binary files split on b"\n" only
            yield number, offset, raw
            offset += len(raw)
