"""The task registry: one entry per dataset format, resolved by name from `--datasets`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tasks.args import DatasetArgs
from tasks.errors import UserError
from tasks.mcq import LoadedTask, load_mcq, mcq_files
from tasks.qa import load_qa, qa_files

__all__ = ["EXAMPLE_DATA", "TASKS", "TaskSpec", "get_task"]

EXAMPLE_DATA = Path(__file__).parent / "data" / "example"


@dataclass(frozen=True)
class TaskSpec:
    """A dataset format: how to load it and what it reports by default."""

    name: str
    kind: Literal["mcq", "qa"]
    version: int
    load: Callable[[str, DatasetArgs, str], LoadedTask]
    files: Callable[[str, DatasetArgs], list[Path]]


TASKS: dict[str, TaskSpec] = {
    "general_mcq": TaskSpec("general_mcq", "mcq", 1, load_mcq, mcq_files),
    "general_qa": TaskSpec("general_qa", "qa", 1, lambda name, args, _scoring: load_qa(name, args), qa_files),
}


def get_task(name: str) -> TaskSpec:
    """Look up a task by name; an unknown name is a `UserError` listing the known ones."""
    try:
        return TASKS[name]
    except KeyError:
        raise UserError(f"unknown dataset {name!r} (known: {', '.join(TASKS)})") from None
