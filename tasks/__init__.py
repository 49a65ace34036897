"""Tasks: the task registry, the general_mcq and general_qa loaders, and prompt building."""

from tasks.args import DatasetArgs, parse_dataset_args
from tasks.errors import DataError, RowError, UserError
from tasks.mcq import LoadedTask, load_mcq
from tasks.qa import load_qa
from tasks.registry import EXAMPLE_DATA, TASKS, TaskSpec, get_task
from tasks.sample import Message, Sample

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
