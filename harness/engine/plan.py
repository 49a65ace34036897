"""From the config to tasks ready to run: parse dataset args, resolve scoring and metrics, load the data.

Two steps, so a finished run can be recognised without reading its data: `plan_tasks` checks
every argument and finds the files (cheap; all argument errors surface here), `load_task` parses
the rows and builds the prompts (all data errors surface here, before the model is loaded on a
fresh run).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.backends.generation import GenerationConfig
from harness.engine.config import EvalConfig
from harness.engine.judge import parse_judge_args
from harness.metrics.hf_evaluate import load_module
from harness.metrics.registry import DEFAULT_QA_METRICS, JUDGE_METRIC, METRICS, metric_info, names_of
from harness.tasks import EXAMPLE_DATA, DatasetArgs, LoadedTask, Sample, UserError, get_task, parse_dataset_args
from harness.tasks.catalog import LM_EVAL_GENERIC, get_benchmark, pulled_folder
from harness.tasks.catalog.manifest import verify_pulled
from harness.tasks.modes import ALL_MODES, ScoringMode
from harness.tasks.registry import EXAMPLE_ARGS, TASKS

__all__ = ["PreparedTask", "TaskPlan", "load_task", "plan_tasks", "prepare_tasks"]


@dataclass(frozen=True)
class TaskPlan:
    """One dataset to evaluate: its arguments, scoring mode, metrics and files, before any row is read."""

    name: str
    kind: str
    version: int
    args: DatasetArgs
    scoring: ScoringMode
    metrics: tuple[str, ...]
    files: tuple[Path, ...]

    def generation(self, default: GenerationConfig) -> GenerationConfig:
        """The run's generation settings with this dataset's `max_new_tokens` and `stop` applied."""
        return _generation(self.args, default)


@dataclass(frozen=True)
class PreparedTask(TaskPlan):
    """A planned dataset with its rows loaded (and cut to `--limit`)."""

    loaded: LoadedTask


def _generation(args: DatasetArgs, default: GenerationConfig) -> GenerationConfig:
    changes: dict[str, object] = {}
    if args.max_new_tokens is not None:
        changes["max_new_tokens"] = args.max_new_tokens
    if args.stop is not None:
        changes["stop"] = tuple(args.stop)
    return replace(default, **changes) if changes else default  # type: ignore[arg-type]


def plan_tasks(config: EvalConfig, default_scoring: ScoringMode, offered: Collection[ScoringMode] = ALL_MODES) -> list[TaskPlan]:
    """Check every dataset argument and find the files; reads no rows.

    `offered` lists the MCQ scoring modes the backend can compute (an API server may lack
    log-probabilities): the built-in data's preferred mode is used only when it is offered.
    """
    default_scoring = ScoringMode(default_scoring)  # scripts pass the word
    stray = [name for name in config.dataset_args if name not in config.datasets]
    if stray:
        raise UserError(f"--dataset-args names {stray[0]!r}, which is not among --datasets ({', '.join(config.datasets)}); fix the name")
    plans = []
    for name in config.datasets:
        spec = get_task(name)
        raw = config.dataset_args.get(name, {})
        if not isinstance(raw, dict):
            raise UserError(f'--dataset-args: the value for {name} must be an object, e.g. {{"{name}": {{"local_path": "DIR"}}}}')
        # The built-in data comes with the settings that suit it, unless the user sets them; a catalogue
        # benchmark with its entry's (and its prompt style's) settings, read from where it was pulled.
        builtin = _catalogue_args(name, raw) if name not in TASKS else {} if "local_path" in raw else {
            "local_path": str(EXAMPLE_DATA), **EXAMPLE_ARGS.get(name, {})}  # fmt: skip
        if builtin.get("scoring") not in (None, *offered):
            del builtin["scoring"]
        args = parse_dataset_args(name, {**builtin, **raw})
        if spec.kind == "mcq":
            given = ScoringMode(args.scoring) if args.scoring else None
            scoring = given or (ScoringMode.GENERATE if args.multiple_correct else default_scoring)
            # Several correct options: generate scores the exact set; letter and cloze also give mc2 (TruthfulQA MC2).
            metrics: tuple[str, ...] = ("acc", "mc2") if args.multiple_correct and scoring.scores_choices else ("acc",)
        else:
            scoring = ScoringMode.GENERATE
            metrics = args.metrics or DEFAULT_QA_METRICS
            unknown = [m for m in metrics if (found := metric_info(m)) is None or found.task != "general_qa"]
            if unknown:
                known = ", ".join(m.name for m in METRICS.values() if m.task == "general_qa")
                raise UserError(f"{name}: unknown metric {unknown[0]!r} (known: {known}, evaluate:NAME_OR_PATH)")
            for metric in names_of(metrics, "module"):
                load_module(metric, trusted=config.trust_code)  # not opted in, missing offline or broken: before any work
            if (JUDGE_METRIC in metrics) != (args.judge_args is not None):
                raise UserError(f'{name}: the "judge" metric and dataset arg judge_args go together: give both or neither')
            if args.judge_args is not None:
                parse_judge_args(name, args.judge_args)  # every mistake in judge_args surfaces before any work
        if name not in TASKS and args.local_path:
            # A catalogue benchmark is only the benchmark when its folder is exactly what the pull wrote.
            verify_pulled(Path(args.local_path), name)
        if args.prompt_style == "lm-eval" and name in TASKS:
            # lm-eval's prompts on custom data: the generic bundle for the scoring, under anything the user set.
            args = parse_dataset_args(name, {**builtin, **LM_EVAL_GENERIC[scoring], **raw})
        plans.append(TaskPlan(name, spec.kind, spec.version, args, scoring, metrics, tuple(spec.files(name, args))))
    return plans


def _catalogue_args(name: str, raw: dict[str, Any]) -> dict[str, Any]:
    """A catalogue benchmark's dataset args: its folder, defaults and prompt style (lm-eval unless given)."""
    bench = get_benchmark(name)
    style = raw.get("prompt_style") or "lm-eval"
    if style not in ("lm-eval", "evalscope"):
        return {}  # parse_dataset_args names the allowed values
    folder = pulled_folder(name)
    if "local_path" not in raw and not folder.is_dir():
        raise UserError(f"{name} is not pulled yet ({folder} does not exist): run `harness data pull {name}` once "
                        f"(online, or --from a local copy), or give the folder it was pulled to as local_path")  # fmt: skip
    return {"local_path": str(folder), **bench.dataset_args(style)}


def load_task(plan: TaskPlan, limit: int | None) -> PreparedTask:
    """Parse the plan's rows and build their prompts."""
    loaded = get_task(plan.name).load(plan.name, plan.args, plan.scoring)
    if limit is not None:
        loaded.samples = _limit(loaded.samples, limit)
    return PreparedTask(plan.name, plan.kind, plan.version, plan.args, plan.scoring, plan.metrics, plan.files, loaded)


def prepare_tasks(config: EvalConfig, default_scoring: ScoringMode) -> list[PreparedTask]:
    """Plan and load every dataset (all input errors surface here, before any work)."""
    return [load_task(plan, config.limit) for plan in plan_tasks(config, default_scoring)]


def _limit(samples: Sequence[Sample], limit: int) -> list[Sample]:
    """The first `limit` samples of each subset."""
    counts: dict[str, int] = {}
    kept = []
    for s in samples:
        counts[s.subset] = counts.get(s.subset, 0) + 1
        if counts[s.subset] <= limit:
            kept.append(s)
    return kept
