"""Typed dataset arguments, parsed from the JSON users pass with `--dataset-args`.

The names follow EvalScope's where one exists (`local_path`, `subset_list`, `few_shot_num`,
`prompt_template`, `system_prompt`), so an EvalScope command line carries over unchanged.
Every default lives here, once.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from harness.core.errors import UserError

__all__ = ["DatasetArgs", "parse_dataset_args"]

Scoring = Literal["letter", "cloze", "generate"]


@dataclass(frozen=True)
class DatasetArgs:
    """Options for one dataset; `None` means "the backend's or the data's default"."""

    local_path: str = ""
    subset_list: tuple[str, ...] | None = None
    few_shot_num: int = 0
    encoding: str | None = None
    on_bad_row: Literal["error", "skip"] = "error"
    multiple_correct: bool = False
    language: Literal["auto", "en", "zh"] = "auto"
    prompt_template: str | None = None
    choice_format: str = "{letter}) {text}"
    system_prompt: str | None = None
    chat_template: bool | None = None
    target_delimiter: str | None = None
    scoring: Scoring | None = None
    query_prefix: str = ""
    metrics: tuple[str, ...] | None = None
    max_new_tokens: int | None = None
    stop: tuple[str, ...] | None = None
    judge_args: dict[str, Any] | None = None
    sacrebleu_tokenize: str | None = None


_HINTS = typing.get_type_hints(DatasetArgs)


def parse_dataset_args(task: str, raw: Any) -> DatasetArgs:
    """Check each key's type against `DatasetArgs` and build it; a wrong key or type is a `UserError`."""
    if not isinstance(raw, dict):
        raise UserError(f"dataset args for {task} must be a JSON object, got {type(raw).__name__}")
    known = {f.name for f in dataclasses.fields(DatasetArgs)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            raise UserError(f"unknown dataset arg {key!r} for {task} (known: {', '.join(sorted(known))})")
        values[key] = _coerce(task, key, value, _HINTS[key])
    return DatasetArgs(**values)


def _coerce(task: str, key: str, value: Any, hint: Any) -> Any:
    origin = get_origin(hint)
    options = get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in options:
            return None
        inner = [o for o in options if o is not type(None)]
        return _coerce(task, key, value, inner[0])
    if origin is Literal:
        if value not in options:
            allowed = ", ".join(repr(o) for o in options)
            raise UserError(f"dataset arg {key} for {task} must be one of {allowed}, got {value!r}")
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise UserError(f"dataset arg {key} for {task} must be an object, got {type(value).__name__} {value!r}")
        return dict(value)
    if origin is tuple:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UserError(f'dataset arg {key} for {task} must be a list of strings, e.g. ["a", "b"]; got {value!r}')
        return tuple(value)
    expected = {bool: "true or false", int: "an integer", str: "a string"}[hint]
    ok = isinstance(value, hint) and not (hint is int and isinstance(value, bool))
    if not ok:
        raise UserError(f"dataset arg {key} for {task} must be {expected}, got {type(value).__name__} {value!r}")
    if hint is int and value < 0:
        raise UserError(f"dataset arg {key} for {task} must not be negative, got {value}")
    if key == "max_new_tokens" and value < 1:
        raise UserError(f"dataset arg max_new_tokens for {task} must be at least 1, got {value}")
    return value
