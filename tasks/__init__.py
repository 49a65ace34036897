"""Tasks: the task registry, the general_mcq and general_qa loaders, and prompt building.

Names are imported on first use (PEP 562), so `import tasks.errors` (which every layer does)
does not load the loaders, the prompt templates and numpy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tasks.args import DatasetArgs, parse_dataset_args
    from tasks.errors import DataError, RowError, UserError
    from tasks.mcq import LoadedTask, load_mcq
    from tasks.qa import load_qa
    from tasks.registry import EXAMPLE_DATA, TASKS, TaskSpec, get_task
    from tasks.sample import Message, Sample

_WHERE = {
    "DatasetArgs": "tasks.args",
    "parse_dataset_args": "tasks.args",
    "DataError": "tasks.errors",
    "RowError": "tasks.errors",
    "UserError": "tasks.errors",
    "LoadedTask": "tasks.mcq",
    "load_mcq": "tasks.mcq",
    "load_qa": "tasks.qa",
    "EXAMPLE_DATA": "tasks.registry",
    "TASKS": "tasks.registry",
    "TaskSpec": "tasks.registry",
    "get_task": "tasks.registry",
    "Message": "tasks.sample",
    "Sample": "tasks.sample",
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
