"""Numbers and JSON from outside, checked where they enter: one parser for every flag, setting and JSON argument.

A number that reaches the harness from a flag (`--alpha`), a settings file, a dataset arg (`few_shot_num`), a
judge or perf setting is checked here once: the right type (a bool is not a number; `5.0` is not a whole
number), finite (no NaN, no infinity), and inside its range, with the range written in the one-line error.
JSON given on the command line (`--extra-body`, `--dataset-args`, `--model-args`) is read by `load_json`:
bounded in size and nesting before it is parsed (so a 3000-deep document is one line, not a recursion
error), and NaN or Infinity (which Python's json accepts and no server does) are refused.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from harness.core.errors import UserError

__all__ = ["MAX_JSON_BYTES", "MAX_JSON_DEPTH", "Range", "checked", "load_json", "parse_number"]

MAX_JSON_BYTES = 1 << 20
MAX_JSON_DEPTH = 32


@dataclass(frozen=True)
class Range:
    """Where a number may lie: `low`/`high` (None: unbounded), each end open or closed, and whether it must be whole.

    >>> Range(0, 1, low_open=True).describe(), Range(1, whole=True).describe()
    ('a finite number in (0, 1]', 'a whole number of at least 1')
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    whole: bool = False

    def describe(self) -> str:
        """The range in words, for the error line."""
        kind = "a whole number" if self.whole else "a finite number"
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"{kind} in {left}{_show(self.low)}, {_show(self.high)}{right}"
        if self.low is not None:
            return f"{kind} {'above' if self.low_open else 'of at least'} {_show(self.low)}"
        if self.high is not None:
            return f"{kind} {'below' if self.high_open else 'of at most'} {_show(self.high)}"
        return kind

    def holds(self, value: float) -> bool:
        """Whether `value` lies in the range."""
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (self.high is not None and (value >= self.high if self.high_open else value > self.high))


def _show(bound: float) -> str:
    """A bound as written by people: 10000000, not 1e+07; 0.5 as 0.5."""
    return str(int(bound)) if float(bound).is_integer() and abs(bound) < 1e15 else f"{bound:g}"


def checked(value: Any, name: str, where: Range) -> Any:
    """`value` as an int (whole ranges) or float, when it is a finite number in `where`; else a one-line `UserError`.

    >>> checked(0.05, "--alpha", Range(0, 1, low_open=True, high_open=True))
    0.05
    >>> checked(True, "max_tokens", Range(1, whole=True))
    Traceback (most recent call last):
    ...
    harness.core.errors.UserError: max_tokens must be a whole number of at least 1, got True
    """
    shown = repr(value) if not isinstance(value, str) else repr(value[:40])
    ok_type = isinstance(value, int | float) and not isinstance(value, bool)
    if where.whole:
        ok_type = ok_type and (isinstance(value, int) or (isinstance(value, float) and math.isfinite(value) and value.is_integer()))
    if not ok_type or not math.isfinite(float(value)) or not where.holds(float(value)):
        raise UserError(f"{name} must be {where.describe()}, got {shown}")
    return int(value) if where.whole else float(value)


def parse_number(text: str, name: str, where: Range) -> Any:
    """A number written as text (a flag's value), checked by `checked`.

    >>> parse_number("1e-17", "--alpha", Range(0, 1, low_open=True, high_open=True))
    1e-17
    >>> parse_number("nan", "--sd", Range(0, low_open=True))
    Traceback (most recent call last):
    ...
    harness.core.errors.UserError: --sd must be a finite number above 0, got 'nan'
    """
    text = text.strip()
    try:
        value: Any = int(text) if where.whole else float(text)
    except (ValueError, OverflowError):
        raise UserError(f"{name} must be {where.describe()}, got {text[:40]!r}") from None
    try:
        return checked(value, name, where)
    except UserError:
        raise UserError(f"{name} must be {where.describe()}, got {text[:40]!r}") from None


def _depth(text: str) -> int:
    """The deepest nesting of `[` and `{` outside strings (a linear scan: no recursion, whatever the input)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def load_json(text: str, name: str, *, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """JSON from the command line or a file, bounded and strict; every problem is one line naming `name`.

    >>> load_json('{"top_k": 20}', "--extra-body")
    {'top_k': 20}
    >>> load_json('{"x": NaN}', "--extra-body")
    Traceback (most recent call last):
    ...
    harness.core.errors.UserError: --extra-body is not valid JSON: NaN is not a JSON number (JSON has no NaN or Infinity)
    """
    if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise UserError(f"{name} is longer than {max_bytes} bytes; put the settings in a file")
    if _depth(text) > max_depth:
        raise UserError(f"{name} is nested deeper than {max_depth} levels; no setting needs that")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:
        if "is not a JSON number" in str(exc):
            raise UserError(f"{name} is not valid JSON: {exc} (JSON has no NaN or Infinity)") from None
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        where = f" at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise UserError(f"{name} is not valid JSON: {msg}{where}") from None


def finite_json(value: Any, name: str) -> None:
    """Refuse a float that is not finite anywhere in a parsed JSON value (Python's own objects can hold one)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise UserError(f"{name} holds {item!r}, which is not a JSON number")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
