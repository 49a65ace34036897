"""Read data files exactly: text decoding, CSV records with physical line numbers, JSON lines.

Every cell comes back as the exact string written. No reader here converts "None", "NA",
"0.10" or "007" into anything else (pandas' defaults would), and every error names the
file and the physical line, counting lines inside quoted multi-line cells.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.tasks.errors import DataError, RowError

__all__ = ["CsvRecord", "JsonRecord", "read_csv", "read_jsonl", "read_text"]

_UTF8_FIX = 'save it as UTF-8, or pass its encoding as dataset arg "encoding", e.g. "gbk"'


def read_text(path: Path, encoding: str | None = None) -> str:
    """Decode a whole file; UTF-8 (a BOM is accepted and dropped) unless `encoding` is given."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(path, f"cannot read file: {exc.strerror}") from None
    if encoding is None and b"\x00" in data[:8192]:  # UTF-8 text never holds a NUL byte; UTF-16 does: decoded first below
        raise DataError(path, "binary file, not text", fix='give a UTF-8 CSV or JSONL file (or its encoding as dataset arg "encoding")')
    try:
        text = data.decode(encoding or "utf-8-sig")
        if encoding is not None:
            text = text.removeprefix("\ufeff")
            if "\x00" in text[:8192]:
                raise DataError(path, f"binary file, not {encoding} text", fix="give a CSV or JSONL file in that encoding")
        return text
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        name = encoding or "UTF-8"
        raise DataError(path, f"not valid {name} (byte 0x{data[exc.start]:02x})", line=line, fix=_UTF8_FIX) from None
    except LookupError:
        raise DataError(path, f"unknown encoding {encoding!r}", fix="use a Python codec name such as gbk") from None


@dataclass(frozen=True)
class CsvRecord:
    """One CSV data row: its cells keyed by header name and the physical line it starts on."""

    line: int
    cells: dict[str, str]


@dataclass(frozen=True)
class JsonRecord:
    """One JSON object from a JSONL file and its line number."""

    line: int
    value: Any


def read_csv(path: Path, encoding: str | None = None) -> tuple[list[str], Iterator[CsvRecord | RowError]]:
    """Parse a CSV file: the header, then each row as a record or as the `RowError` it raises.

    Rows are yielded (not raised) as errors so the caller decides between stopping and
    skipping (`on_bad_row`). A row whose field count differs from the header's is an error:
    csv.DictReader would silently shift cells (EvalScope's malformed example turns the
    answer into "225 km/h").
    """
    text = read_text(path, encoding)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(path, "empty file", fix="add a header line such as id,question,A,B,C,D,answer") from None
    except csv.Error as exc:
        raise DataError(path, f"bad CSV in the header: {exc}", line=1) from None
    header = [name.strip() for name in header]
    return header, _rows(path, reader, header)


def _rows(path: Path, reader: Any, header: list[str]) -> Iterator[CsvRecord | RowError]:
    end = reader.line_num
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RowError(path, f"bad CSV: {exc}", line=start, fix="check the quotes on this line")
            return
        end = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) > len(header):
            fix = "quote fields that contain commas"
            yield RowError(path, f"{len(row)} fields, header has {len(header)}", line=start, fix=fix)
        elif len(row) < len(header):
            fix = "a field is missing: check for a missing comma"
            yield RowError(path, f"{len(row)} fields, header has {len(header)}", line=start, fix=fix)
        else:
            yield CsvRecord(start, dict(zip(header, row, strict=True)))


def read_jsonl(path: Path, encoding: str | None = None, *, exact_numbers: bool = True) -> Iterator[JsonRecord | RowError]:
    """Parse JSON lines; blank lines are skipped; with `exact_numbers` numbers keep the exact text written."""
    text = read_text(path, encoding)
    # Lines end at "\n" only: str.splitlines() would also split inside strings holding U+2028, U+2029 or U+0085.
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw, parse_float=str, parse_int=str) if exact_numbers else json.loads(raw)
        except json.JSONDecodeError as exc:
            yield RowError(path, f"not JSON: {exc.msg} at column {exc.colno}", line=number, fix="one JSON object per line")
            continue
        if not isinstance(value, dict):
            kind = type(value).__name__
            yield RowError(path, f"a JSON {kind}, not an object", line=number, fix='write {"key": value, ...}')
            continue
        yield JsonRecord(number, value)
