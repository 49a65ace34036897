"""What a run is: the digests that name its folder and decide whether stored records may be reused.

`inputs_digest` covers everything but the model: the settings that change results, each data
file's content hash, the task versions, and the source of the code that turns rows into prompts
and records (so an edited template never resumes into old records). It is computed without
reading a row, which lets a finished run be recognised at once. `run_digest` adds the backend's
fingerprint (weights, dtype, endpoint) and its default scoring mode.

Metric code is not part of it: `harness score` and the reports recompute from stored outputs.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.backends.base import Backend
from harness.core import provenance
from harness.engine.config import EvalConfig
from harness.engine.judge import parse_judge_args
from harness.engine.plan import TaskPlan
from harness.metrics.hf_evaluate import is_evaluate, load_module

__all__ = ["NOT_IDENTITY", "backend_digest", "code_digest", "inputs_digest", "run_digest"]

# Settings that change how fast, not what, do not split runs or block a resume. Backend options
# (model_args) are covered by the backend's own fingerprint (weights, dtype, device, endpoint).
# The model's name is a label: what answers is identified by the backend's fingerprint.
NOT_IDENTITY = ("model", "output", "batch_size", "use_cache", "model_args", "truncate")
# Relative to the installed `harness` package (harness/tasks links to the repository's tasks/ folder).
_ROOT = Path(__file__).resolve().parent.parent
_SOURCES = ("tasks", "backends/prompting.py", "engine/plan.py", "engine/records.py", "engine/extract.py")


@functools.cache
def code_digest() -> str:
    """Hash of the code that builds prompts and records, and the harness version."""
    h = hashlib.sha256(provenance.harness_version().encode())
    for source in _SOURCES:
        path = _ROOT / source
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            h.update(file.relative_to(_ROOT).as_posix().encode())
            h.update(file.read_bytes())
    return h.hexdigest()


def _modules(plan: TaskPlan) -> dict[str, Any]:
    """The `evaluate:` modules a task scores with, by script hash (absent when none: older identities stay as they were)."""
    modules = {m: load_module(m).describe() for m in plan.metrics if is_evaluate(m)}
    return {"evaluate": modules} if modules else {}


def inputs_digest(config: EvalConfig, plans: Sequence[TaskPlan]) -> str:
    """Everything that decides a run's prompts and scores, except the model; reads no rows."""
    settings = {k: v for k, v in config.to_dict().items() if k not in NOT_IDENTITY}
    if all(p.scoring in ("letter", "cloze") for p in plans):
        del settings["generation"]  # nothing is generated: generation settings cannot change a result
    identity: dict[str, Any] = {
        "config": settings,
        "tasks": {
            p.name: {
                "version": p.version,
                "args": dataclasses.asdict(p.args),
                "scoring": p.scoring,
                "metrics": list(p.metrics),
                "files": {str(f): provenance.file_sha256(f) for f in p.files},
                "judge_template": parse_judge_args(p.name, p.args.judge_args).template_sha256 if p.args.judge_args else None,
                **_modules(p),
            }
            for p in plans
        },
        "code": code_digest(),
    }
    return provenance.fingerprint(identity)


def run_digest(inputs: str, model: dict[str, Any], default_scoring: str) -> str:
    """The run's identity: its inputs and the model that answers (a backend's fingerprint and default scoring)."""
    return provenance.fingerprint({"inputs": inputs, "model": model, "default_scoring": default_scoring})


def backend_digest(inputs: str, backend: Backend) -> str:
    """`run_digest` for a created backend."""
    return run_digest(inputs, backend.fingerprint(), backend.default_scoring)
