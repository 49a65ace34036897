"""The task registry: one entry per dataset format, resolved by name from `--datasets`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from harness.core.errors import UserError
from harness.tasks.args import DatasetArgs
from harness.tasks.mcq import LoadedTask, load_mcq, mcq_files
from harness.tasks.modes import ScoringMode
from harness.tasks.qa import load_qa, qa_files

__all__ = ["EXAMPLE_ARGS", "EXAMPLE_DATA", "TASKS", "TaskSpec", "get_task"]

EXAMPLE_DATA = Path(__file__).parent / "data" / "example"
# How the built-in data is evaluated when no local_path is given (README, "The main job"):
# - MCQ: 50 ARC-Easy questions (English) and EvalScope's 12-question example (Chinese), scored by
#   cloze: the 135M default model is at chance with letter scoring (0.18 on the 50) and clearly above
#   it with cloze (0.46, 95% interval 0.33-0.60, chance 0.25).
# - QA: EvalScope's 12 short-answer questions; answers are 2-6 characters, so generation stops at a
#   line break or after 32 tokens instead of running on for 256.
EXAMPLE_ARGS: dict[str, dict[str, object]] = {
    "general_mcq": {"scoring": "cloze"},
    "general_qa": {"max_new_tokens": 32, "stop": ["\n"]},
}


@dataclass(frozen=True)
class TaskSpec:
    """A dataset format: how to load it and what it reports by default."""

    name: str
    kind: Literal["mcq", "qa"]
    version: int
    load: Callable[[str, DatasetArgs, ScoringMode], LoadedTask]
    files: Callable[[str, DatasetArgs], list[Path]]
    description: str = ""


TASKS: dict[str, TaskSpec] = {
    "general_mcq": TaskSpec(
        "general_mcq", "mcq", 1, load_mcq, mcq_files, "{subset}_val.csv (+ _dev.csv few-shot pool): id,question,A,B,...,answer; accuracy"
    ),
    "general_qa": TaskSpec(
        "general_qa",
        "qa",
        1,
        lambda name, args, _scoring: load_qa(name, args),
        qa_files,
        "{subset}.jsonl: query/response, history, messages or share-gpt lines; BLEU, ROUGE and more",
    ),
}


def get_task(name: str) -> TaskSpec:
    """Look up a task by name: a format, or a catalogue benchmark read as its format; unknown names list the known ones."""
    if name in TASKS:
        return TASKS[name]
    from harness.tasks.catalog import benchmarks

    bench = benchmarks().get(name)
    if bench is None:
        raise UserError(f"unknown dataset {name!r} (known: {', '.join(TASKS)}, or a benchmark: {', '.join(benchmarks())})")
    fmt = TASKS[bench.format]
    return TaskSpec(name, fmt.kind, fmt.version, fmt.load, fmt.files, f"{bench.title} as {bench.format} (harness data pull {name})")
