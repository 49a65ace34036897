"""An evaluation harness for LLMs on EvalScope-style general_mcq / general_qa data.

`import harness` needs no torch: heavy backends import their libraries when created.
"""

from harness.backends import Backend, ChoiceRequest, ChoiceResult, GenerateRequest, Generation, create_backend
from harness.config import DEFAULT_MODEL, EvalConfig, GenerationConfig
from harness.runner import RunResult, evaluate

__all__ = [
    "DEFAULT_MODEL",
    "Backend",
    "ChoiceRequest",
    "ChoiceResult",
    "EvalConfig",
    "GenerateRequest",
    "Generation",
    "GenerationConfig",
    "RunResult",
    "create_backend",
    "evaluate",
]
