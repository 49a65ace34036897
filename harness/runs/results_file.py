"""results.json, typed: the one reader every report, compare and notebook goes through.

The file is written by the engine (`harness.engine.results`) and read here; a file that is valid JSON
but not the shape below (edited by hand, cut short by a full disk, another tool's) is one line and
exit 2, never a KeyError deep in a renderer.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, TypedDict

from harness.core.errors import UserError

__all__ = ["SCHEMA_VERSION", "ModelInfo", "Results", "ScoreRow", "load_results", "shape_problem"]

SCHEMA_VERSION = 1  # bump when a field changes meaning; readers refuse newer versions


class ScoreRow(TypedDict, total=False):
    """One (task, metric, subset[, category]) row: n samples, the score and its 95% interval."""

    task: str
    metric: str
    subset: str
    category: str  # "-" when the data has no category column
    aggregation: str  # "mean", "micro" or "macro" (OVERALL rows)
    n: int
    score: float
    ci_low: float
    ci_high: float
    failed: int


class ModelInfo(TypedDict, total=False):
    """Which model answered: its name as given, the backend, and the backend's fingerprint."""

    name: str
    backend: str
    fingerprint: dict[str, Any]
    bills_tokens: bool  # its token usage is what a hosted API bills (reports print it)


class Results(TypedDict, total=False):
    """The whole results.json."""

    schema_version: int
    harness_version: str
    git_hash: str | None
    started: str
    finished: str
    wall_seconds: float
    config: dict[str, Any]
    model: ModelInfo
    packages: dict[str, str]
    tasks: dict[str, dict[str, Any]]
    usage: dict[str, int]
    scores: list[ScoreRow]
    world_size: int  # ranks under torchrun (1 otherwise)
    scoring_identity: str  # metrics, their settings and code: another value means the stored answers are scored again
    timings: dict[str, float]  # seconds per phase: startup, plan, load_data, load_model, tokenize, compute, judge (harness.core.timing)


_ROW_TYPES: dict[str, tuple[type, ...]] = {
    "task": (str,),
    "metric": (str,),
    "subset": (str,),
    "aggregation": (str,),
    "n": (int,),
}
_NUMBERS = ("score", "ci_low", "ci_high")
_REWRITE = "re-run the evaluation to rewrite it, or restore the file"


def load_results(run_dir: Path) -> Results:
    """Read a finished run's results.json (or the file itself), checking the shape every reader relies on."""
    path = run_dir / "results.json" if run_dir.is_dir() else run_dir
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        inner = sorted(p.parent for p in run_dir.glob("*/results.json")) if run_dir.is_dir() else []
        hint = f"; the run is in {inner[0]}" if len(inner) == 1 else " (is this a finished run folder?)"
        raise UserError(f"{path}: no results.json{hint}") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} line {exc.lineno}: not valid JSON ({exc.msg}; {_REWRITE})") from None
    except (OSError, UnicodeDecodeError, RecursionError) as exc:
        raise UserError(f"{path}: cannot read it ({getattr(exc, 'strerror', None) or type(exc).__name__}; {_REWRITE})") from None
    problem = shape_problem(results)
    if problem:
        raise UserError(f"{path}: not a harness results file ({problem}; {_REWRITE})")
    typed: Results = results
    return typed


def shape_problem(results: Any) -> str | None:
    """What is wrong with a results object, or None.

    >>> shape_problem({"model": {"name": "m"}, "tasks": {}, "scores": [{"task": "t"}]})
    'score row 0 lacks metric, subset, category, aggregation, n, score, ci_low, ci_high'
    """
    if not isinstance(results, dict):
        return f"a JSON {type(results).__name__}, not an object"
    version = results.get("schema_version", SCHEMA_VERSION)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        return f"schema version {version!r}, newer than this harness reads ({SCHEMA_VERSION}); upgrade harness"
    model = results.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("name"), str):
        return 'no "model" with a "name"'
    tasks = results.get("tasks")
    if not isinstance(tasks, dict) or not all(isinstance(info, dict) for info in tasks.values()):
        return 'no "tasks" object of objects'
    scores = results.get("scores")
    if not isinstance(scores, list):
        return 'no "scores" list'
    for i, row in enumerate(scores):
        problem = _row_problem(row)
        if problem:
            return f"score row {i} {problem}"
    return None


def _row_problem(row: Any) -> str | None:
    if not isinstance(row, dict):
        return "is not an object"
    missing = [k for k in (*_ROW_TYPES, "category", *_NUMBERS) if k not in row]
    if missing:
        order = ("task", "metric", "subset", "category", "aggregation", "n", "score", "ci_low", "ci_high")
        return "lacks " + ", ".join(k for k in order if k in missing)
    for key, types in _ROW_TYPES.items():
        if not isinstance(row[key], types) or isinstance(row[key], bool):
            return f"has {key} {row[key]!r} (expected {types[0].__name__})"
    if row["n"] < 0:
        return f"has n {row['n']!r} (expected a count)"
    for key in _NUMBERS:
        value = row[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"has {key} {value!r} (expected a finite number)"
    if not isinstance(row["category"], str):
        return f"has category {row['category']!r} (expected text)"
    return None
