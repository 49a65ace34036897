"""The sample record, typed: one line of samples.jsonl, as the engine builds it and every reader reads it.

A record says which sample it is (key, task, subset, index, the data line), how it was scored (the scoring
mode), what the model answered (prediction, chosen letters, option log-probabilities), and its per-sample
scores; results.json's rows are aggregated from these. `check_record` is the one shape check: every reader of
run files (the store while a run goes, `harness.runs.samples` after) passes each line through it, so a record
that lacks a field readers rely on is never half-read.

Schema versions (run.json's `samples_schema`): 1 is every folder written before the version was recorded;
its records have the fields below and read as they are. 2 added nothing a reader must convert; it records
the version, so a folder written by a later harness (a field that changed meaning) is refused in one line
instead of misread.
"""

from __future__ import annotations

import json
from typing import Any, Literal, NotRequired, TypedDict, cast

__all__ = ["SAMPLES_SCHEMA_VERSION", "JudgeVerdict", "SampleRecord", "Tokens", "check_record", "loads_record", "schema_problem"]

SAMPLES_SCHEMA_VERSION = 2  # bump when a record field changes meaning; readers refuse newer versions


class Tokens(TypedDict):
    """Tokens a request used (reported by API servers and local generation)."""

    prompt: int | None
    completion: int | None


class JudgeVerdict(TypedDict, total=False):
    """The judge's reading of an answer (harness.engine.judge): score on the judge's scale, or why none."""

    score: float | None
    rationale: str
    error: str | None
    retry: bool  # the judge's request failed (not its reply): judged again on the next run
    flags: list[str]  # the answer addresses the judge


class SampleRecord(TypedDict):
    """One sample's record; see the module docstring."""

    key: str
    task: str
    subset: str
    scores: dict[str, float | None]  # None: no score for this metric (a failed judgement), left out of n
    scoring: NotRequired[str]  # the scoring mode: letter, cloze or generate (harness.backends.base.ScoringMode)
    hash: NotRequired[str]  # the sample's content hash: a changed question is not compared with the old one
    question_hash: NotRequired[str]
    index: NotRequired[int]
    id: NotRequired[str | None]
    line: NotRequired[int | None]
    category: NotRequired[str | None]
    messages: NotRequired[list[dict[str, Any]]]
    reference: NotRequired[str | None]
    prompt: NotRequired[str | None]
    prediction: NotRequired[str | None]  # the chosen letter (letter, cloze) or the generated text
    answer: NotRequired[list[str]]  # the correct letters (MCQ)
    chosen: NotRequired[list[str]]  # the letters picked by `acc` (empty: failed or no answer)
    chosen_norm: NotRequired[list[str]]  # the letter picked by `acc_norm` (cloze)
    option_logprobs: NotRequired[list[float]]
    option_logprobs_norm: NotRequired[list[float]]
    extraction: NotRequired[str | None]  # the rule that read the letter from generated text
    no_answer: NotRequired[bool]
    failed: NotRequired[bool]  # no answer from the backend: no score, counted apart
    error: NotRequired[str | None]
    tokens: NotRequired[Tokens]
    truncated: NotRequired[int]  # the prompt was cut from the left to this many tokens (--truncate)
    judge: NotRequired[JudgeVerdict]
    judge_pending: NotRequired[Literal[True]]  # stored before its judgement (harness.engine.judge)


# What every record has, with its type: readers (aggregation, compare, reports) rely on these.
_REQUIRED: dict[str, type] = {"key": str, "task": str, "subset": str, "scores": dict}
_LISTS = ("answer", "chosen", "chosen_norm", "option_logprobs", "option_logprobs_norm")


def check_record(value: Any) -> SampleRecord | None:
    """`value` as a record, or None when it is not one (not an object, or a field readers rely on is wrong).

    >>> check_record({"key": "k"}) is None  # a key and nothing else is not a record
    True
    >>> check_record({"key": "k", "task": "t", "subset": "s", "scores": {"acc": 1.0}})["scores"]
    {'acc': 1.0}
    """
    if not isinstance(value, dict) or not all(isinstance(value.get(k), t) for k, t in _REQUIRED.items()):
        return None
    if not all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in value["scores"].values()):
        return None
    if any(name in value and not isinstance(value[name], list) for name in _LISTS):
        return None
    judge = value.get("judge")
    if judge is not None and not isinstance(judge, dict):
        return None
    return cast(SampleRecord, value)  # checked above, field by field


def loads_record(raw: bytes) -> SampleRecord | None:
    """The record on a line of a run file, or None (not JSON, or not a record)."""
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return None
    return check_record(value)


def schema_problem(meta: dict[str, Any]) -> str | None:
    """Why a run folder's records cannot be read by this harness (from its run.json), or None.

    >>> schema_problem({}) is None  # written before the version was recorded: version 1, read as is
    True
    >>> schema_problem({"samples_schema": 99})
    'its records are schema 99, newer than this harness reads (2); upgrade harness'
    """
    version = meta.get("samples_schema", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        return f"its run.json has samples_schema {version!r}, not a version number"
    if version > SAMPLES_SCHEMA_VERSION:
        return f"its records are schema {version}, newer than this harness reads ({SAMPLES_SCHEMA_VERSION}); upgrade harness"
    return None
