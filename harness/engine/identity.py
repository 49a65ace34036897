"""What a run is: the digests that name its folder and decide whether stored answers and scores may be reused.

Two identities, so a metric never costs an answer:

- `inputs_digest` (the answers): the settings that change what the model is asked and how its reply is
  read, each data file's content hash, the task versions, and the code that builds prompts and records
  (its import closure, harness.core.code_identity). It is computed without reading a row, which lets a
  finished run be recognised at once. `run_digest` adds the backend's fingerprint (weights, dtype,
  endpoint) and its default scoring mode: the run store's identity. Metrics are not part of it.
- `scoring_digest` (the scores): each task's metrics and metric settings, each `evaluate:` module's
  identity (its script and every local module it imports), and the scoring code (the import closure of
  the results builder). A finished run whose scoring digest differs is scored again from its stored
  answers: no backend call (harness.engine.runner).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.backends.base import Backend
from harness.core import provenance
from harness.core.code_identity import code_identity
from harness.engine.config import EvalConfig
from harness.engine.judge import parse_judge_args
from harness.engine.plan import TaskPlan
from harness.metrics.hf_evaluate import is_evaluate, load_module

__all__ = ["METRIC_ARGS", "NOT_IDENTITY", "answer_code", "backend_digest", "inputs_digest", "run_digest", "scoring_code", "scoring_digest"]

# Settings that change how fast, not what, do not split runs or block a resume. Backend options
# (model_args) are covered by the backend's own fingerprint (weights, dtype, device, endpoint).
# The model's name is a label: what answers is identified by the backend's fingerprint.
NOT_IDENTITY = ("model", "output", "batch_size", "use_cache", "model_args", "truncate", "trust_code")
# Dataset args that choose how answers are scored, not what is asked: part of the scoring identity only.
METRIC_ARGS = ("metrics", "sacrebleu_tokenize")
_ROOT = Path(__file__).resolve().parent.parent  # the installed `harness` package (tasks/ and metrics/ are links in it)
# Entry points, not a file list: each identity is these modules and everything of the harness they import.
_ANSWER_ENTRIES = ("engine/plan.py", "engine/scorers.py", "backends/prompting.py")
_SCORING_ENTRIES = ("engine/results.py", "engine/scoring.py")
_SCORING_LIBRARIES = ("sacrebleu", "nltk", "jieba", "numpy", "evaluate")


@functools.cache
def answer_code() -> str:
    """The identity of the code that builds prompts and turns replies into answers, with the harness version."""
    ident = code_identity([_ROOT / e for e in _ANSWER_ENTRIES], _ROOT, "harness")
    return provenance.fingerprint({"harness": provenance.harness_version(), "code": ident.digest})


@functools.cache
def scoring_code() -> str:
    """The identity of the code that scores answers and aggregates them into rows, with the libraries it calls."""
    return code_identity([_ROOT / e for e in _SCORING_ENTRIES], _ROOT, "harness", _SCORING_LIBRARIES).digest


def inputs_digest(config: EvalConfig, plans: Sequence[TaskPlan]) -> str:
    """Everything that decides a run's prompts and answers, except the model and the metrics; reads no rows."""
    settings = {k: v for k, v in config.to_dict().items() if k not in NOT_IDENTITY}
    settings["dataset_args"] = {
        name: {k: v for k, v in args.items() if k not in METRIC_ARGS} if isinstance(args, dict) else args
        for name, args in settings["dataset_args"].items()
    }  # the metrics a dataset is scored with are the scoring identity's
    if all(p.scoring.scores_choices for p in plans):
        del settings["generation"]  # nothing is generated: generation settings cannot change a result
    identity: dict[str, Any] = {
        "config": settings,
        "tasks": {
            p.name: {
                "version": p.version,
                "args": {k: v for k, v in dataclasses.asdict(p.args).items() if k not in METRIC_ARGS},
                "scoring": p.scoring,
                "files": {str(f): provenance.file_sha256(f) for f in p.files},
                "judge_template": parse_judge_args(p.name, p.args.judge_args).template_sha256 if p.args.judge_args else None,
            }
            for p in plans
        },
        "code": answer_code(),
    }
    return provenance.fingerprint(identity)


def scoring_digest(plans: Sequence[TaskPlan]) -> str:
    """Everything that decides the scores of stored answers: metrics, their settings and code, `evaluate:` modules."""
    identity: dict[str, Any] = {
        "tasks": {
            p.name: {
                "metrics": list(p.metrics),
                "args": {k: getattr(p.args, k) for k in METRIC_ARGS},
                "evaluate": {m: load_module(m).describe() for m in p.metrics if is_evaluate(m)},
            }
            for p in plans
        },
        "code": scoring_code(),
    }
    return provenance.fingerprint(identity)


def run_digest(inputs: str, model: dict[str, Any], default_scoring: str) -> str:
    """The run's identity: its inputs and the model that answers (a backend's fingerprint and default scoring)."""
    return provenance.fingerprint({"inputs": inputs, "model": model, "default_scoring": default_scoring})


def backend_digest(inputs: str, backend: Backend) -> str:
    """`run_digest` for a created backend."""
    return run_digest(inputs, backend.fingerprint(), backend.default_scoring)
