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
from harness.core.names import printable
from harness.core.numbers import Range, checked
from harness.tasks.sample import LETTERS

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
    # Which published prompts to render: "evalscope" (custom data's default) or "lm-eval" (the catalogue's
    # default: the lm-eval task of the same name). Resolved into the fields above by the plan.
    prompt_style: Literal["evalscope", "lm-eval"] | None = None
    subject_names: dict[str, str] | None = None  # {subject} in system_prompt: a subset's display name
    strip_question: bool = False  # lm-eval's `question.strip()` in MMLU-style templates


_HINTS = typing.get_type_hints(DatasetArgs)
# What only one format reads: given to the other, an arg is refused by name, never accepted and ignored.
_ONLY: dict[str, dict[str, str]] = {
    "mcq": {
        "few_shot_num": "a general_qa line's few-shot examples are its own history",
        "multiple_correct": "general_qa answers are text, scored by its metrics",
        "language": "general_qa has no language-specific prompt",
        "choice_format": "general_qa has no options",
        "target_delimiter": "general_qa generates its answers",
        "scoring": "general_qa is always generated",
        "strip_question": "use prompt_template for general_qa's prompts",
    },
    "qa": {
        "query_prefix": "use prompt_template or system_prompt for general_mcq's prompts",
        "metrics": "general_mcq is scored by accuracy (acc; acc_norm too with cloze)",
        "judge_args": "general_mcq is scored by accuracy",
        "sacrebleu_tokenize": "general_mcq is scored by accuracy",
    },
}
# Whole-number args and their ranges (harness.core.numbers checks every number the same way).
_WHOLE = {"few_shot_num": Range(0, 10_000, whole=True), "max_new_tokens": Range(1, 10_000_000, whole=True)}


def parse_dataset_args(task: str, raw: Any, kind: str | None = None) -> DatasetArgs:
    """Check each key's type against `DatasetArgs` and build it; a wrong key or type, or an arg the format does not read, is a `UserError`.

    `kind` (`mcq` or `qa`) is the format's; by default, the registered task's.
    """
    if not isinstance(raw, dict):
        raise UserError(f"dataset args for {task} must be a JSON object, got {type(raw).__name__}")
    if kind is None:
        from harness.tasks.registry import get_task

        kind = get_task(task).kind
    known = {f.name for f in dataclasses.fields(DatasetArgs)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            raise UserError(f"unknown dataset arg {printable(repr(key), 60)} for {task} (known: {', '.join(sorted(known))})")
        for owner, keys in _ONLY.items():
            if owner != kind and key in keys:
                raise UserError(f"dataset arg {key} is not used by {task} ({keys[key]}); remove it")
        values[key] = _coerce(task, key, value, _HINTS[key])
    args = DatasetArgs(**values)
    _check_values(task, args)
    return args


# sacrebleu's tokenizer names (sacrebleu.metrics.bleu), kept here so a typo is refused before any model loads.
SACREBLEU_TOKENIZERS = ("none", "zh", "13a", "intl", "char", "ja-mecab", "ko-mecab", "spm", "flores101", "flores200")
_BRACES = "write literal braces as {{ and }}"


def _check_values(task: str, args: DatasetArgs) -> None:
    """Values of the right type that still cannot work: refused here, before any model loads, in one line."""
    if args.subset_list is not None and (not args.subset_list or not all(s.strip() for s in args.subset_list)):
        raise UserError(
            f"dataset arg subset_list for {task} must name at least one subset (leave it out for all), got {list(args.subset_list)!r}"
        )
    if args.stop is not None and not all(args.stop):
        raise UserError(f"dataset arg stop for {task} holds an empty string, which would stop every answer at once; remove it")
    if args.metrics is not None and not args.metrics:
        raise UserError(f"dataset arg metrics for {task} must name at least one metric (leave it out for the defaults)")
    if args.sacrebleu_tokenize is not None and args.sacrebleu_tokenize not in SACREBLEU_TOKENIZERS:
        raise UserError(f"dataset arg sacrebleu_tokenize for {task}: unknown tokenizer {args.sacrebleu_tokenize!r} "
                        f"(known: {', '.join(SACREBLEU_TOKENIZERS)})")  # fmt: skip
    try:
        args.choice_format.format(letter="A", text="x")
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise UserError(f"dataset arg choice_format for {task}: {args.choice_format!r} does not format ({type(exc).__name__}: {exc}); "
                        f"it may use {{letter}} and {{text}}; {_BRACES}") from None  # fmt: skip
    if args.prompt_template is not None:
        if "{question}" not in args.prompt_template:
            raise UserError(f"dataset arg prompt_template for {task} must contain {{question}} (where the question goes)")
        fields = {"question": "", "choices": "", "letters": "", **{c: "" for c in LETTERS}}
        try:
            args.prompt_template.format_map(_Fields(fields))
        except (IndexError, ValueError, AttributeError) as exc:
            raise UserError(f"dataset arg prompt_template for {task} does not format ({type(exc).__name__}: {exc}); {_BRACES}") from None


class _Fields(dict[str, str]):
    """Unknown {names} stay as written (as the prompt builder leaves them); only malformed braces fail."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


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
            raise UserError(f"dataset arg {key} for {task} must be an object, got {type(value).__name__} {printable(repr(value), 60)}")
        if options and options[1] is str:  # {name: text}: every value text (subject_names)
            bad = next((k for k, v in value.items() if not isinstance(v, str)), None)
            if bad is not None:
                raise UserError(f"dataset arg {key} for {task} maps names to text; {printable(repr(bad), 40)} maps to "
                                f"{type(value[bad]).__name__} {printable(repr(value[bad]), 40)}")  # fmt: skip
        return dict(value)
    if origin is tuple:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UserError(f'dataset arg {key} for {task} must be a list of strings, e.g. ["a", "b"]; got {value!r}')
        return tuple(value)
    if hint is int:
        return checked(value, f"dataset arg {key} for {task}", _WHOLE.get(key, Range(0, whole=True)))
    expected = {bool: "true or false", str: "a string"}[hint]
    if not isinstance(value, hint):
        raise UserError(f"dataset arg {key} for {task} must be {expected}, got {type(value).__name__} {printable(repr(value), 60)}")
    return value
