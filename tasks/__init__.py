"""Tasks: the task registry, the general_mcq and general_qa loaders, and prompt building.

Names are imported on first use (PEP 562), so `import harness.tasks.errors`
does not load the loaders, the prompt templates and numpy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.core.errors import UserError
    from harness.tasks.args import DatasetArgs, parse_dataset_args
    from harness.tasks.errors import DataError, RowError
    from harness.tasks.mcq import LoadedTask, load_mcq
    from harness.tasks.qa import load_qa
    from harness.tasks.registry import EXAMPLE_DATA, TASKS, TaskSpec, get_task
    from harness.tasks.sample import Message, Sample

_WHERE = {
    "DatasetArgs": "harness.tasks.args",
    "parse_dataset_args": "harness.tasks.args",
    "DataError": "harness.tasks.errors",
    "RowError": "harness.tasks.errors",
    "UserError": "harness.core.errors",
    "LoadedTask": "harness.tasks.mcq",
    "load_mcq": "harness.tasks.mcq",
    "load_qa": "harness.tasks.qa",
    "EXAMPLE_DATA": "harness.tasks.registry",
    "TASKS": "harness.tasks.registry",
    "TaskSpec": "harness.tasks.registry",
    "get_task": "harness.tasks.registry",
    "Message": "harness.tasks.sample",
    "Sample": "harness.tasks.sample",
}
__all__ = [
    "EXAMPLE_DATA",
    "TASKS",
    "DataError",
    "DatasetArgs",
    "LoadedTask",
    "Message",
    "RowError",
    "Sample",
    "TaskSpec",
    "UserError",
    "get_task",
    "load_mcq",
    "load_qa",
    "parse_dataset_args",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'tasks' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
