"""An evaluation harness for LLMs on EvalScope-style general_mcq / general_qa data.

`import harness` needs no torch, and loads nothing until a name is used (PEP 562), so the
`harness` command starts in a fraction of a second; heavy backends import their libraries when
created.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.backends import Backend, ChoiceRequest, ChoiceResult, GenerateRequest, Generation, create_backend
    from harness.backends.generation import GenerationConfig
    from harness.engine.config import DEFAULT_MODEL, EvalConfig
    from harness.engine.runner import RunResult, evaluate
    from harness.reports.notebook import Run, compare_runs, load_run

_WHERE = {
    "Backend": "harness.backends",
    "ChoiceRequest": "harness.backends",
    "ChoiceResult": "harness.backends",
    "GenerateRequest": "harness.backends",
    "Generation": "harness.backends",
    "create_backend": "harness.backends",
    "DEFAULT_MODEL": "harness.engine.config",
    "EvalConfig": "harness.engine.config",
    "GenerationConfig": "harness.backends.generation",
    "Run": "harness.reports.notebook",
    "compare_runs": "harness.reports.notebook",
    "load_run": "harness.reports.notebook",
    "RunResult": "harness.engine.runner",
    "evaluate": "harness.engine.runner",
}
__all__ = [
    "DEFAULT_MODEL",
    "Backend",
    "ChoiceRequest",
    "ChoiceResult",
    "EvalConfig",
    "GenerateRequest",
    "Generation",
    "GenerationConfig",
    "Run",
    "RunResult",
    "compare_runs",
    "create_backend",
    "evaluate",
    "load_run",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)


def __dir__() -> list[str]:
    """The public names (loaded lazily), so `dir(harness)` and tab completion list them."""
    return sorted(__all__)
