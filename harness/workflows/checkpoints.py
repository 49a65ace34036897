"""`harness eval-checkpoints`: evaluate every checkpoint of a fine-tune, in step order, and chart the trend.

Finds Hugging Face Trainer (`OUT/checkpoint-N/`) and ms-swift (`OUT/vX-.../checkpoint-N/`) checkpoints,
full weights or LoRA/PEFT adapters. Adapters share one base model, loaded once: each adapter is
attached, evaluated and detached. Each checkpoint's run lives in the checkpoint, at
`checkpoint-N/harness_eval/`, the same place `EvalCallback` writes during training; a checkpoint whose
folder holds finished results with the same run identity is not evaluated again. The trend
(`trend.md`, `trend.csv`, `trend.png`: metric by step) goes to `OUT/harness_eval/`, a folder the harness
owns (its manifest marks it, harness.core.folders): it is never scanned as holding checkpoints, and one
that holds a user's files is refused. A checkpoint is named by its path under OUT (`checkpoint-5`,
`seed1/checkpoint-5`), so same-numbered steps of two runs get two run folders. When the base model
is known (`--model`, or the adapters' `adapter_config.json`) it is step 0 (its run in
`OUT/harness_eval/base/`), and MCQ metrics carry their chance level (the mean of 1/options over the
questions), so a collapse reads as one: 0.50 -> 0.22 against a chance of 0.25.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.core.errors import UserError
from harness.core.folders import MANIFEST, OwnedFolder
from harness.core.names import check_name, printable
from harness.engine.config import EvalConfig
from harness.metrics.registry import choice_metrics
from harness.runs.layout import TREND_KIND, trend_folder
from harness.runs.results_file import Results
from harness.tasks.modes import ScoringMode
from harness.workflows.trend import trend_table, write_trend  # re-exported: callers know them from here

__all__ = ["TREND_KIND", "Checkpoint", "evaluate_checkpoints", "find_checkpoints", "run_dir_for", "trend_folder", "trend_table",
           "write_trend"]  # fmt: skip

_STEP = re.compile(r"^checkpoint-(\d+)$")


@dataclass(frozen=True)
class Checkpoint:
    """A saved checkpoint: where, which step, and whether it is a PEFT adapter."""

    path: Path
    step: int
    adapter: bool
    label: str = ""  # "base" for the base model

    run: str = ""  # the folder between the training output and the checkpoint (ms-swift's `v0-...`, `seed1`), if any

    @property
    def name(self) -> str:
        """Unique label: `checkpoint-N`, or `RUN/checkpoint-N` when it sits one level down."""
        if self.label:
            return self.label
        return f"{self.run}/{self.path.name}" if self.run else self.path.name


def _is_ours(folder: Path) -> bool:
    """A folder the harness wrote (a trend folder with its manifest, or a run folder): never a checkpoint's home."""
    return (folder / MANIFEST).is_file() or (folder / "run.json").is_file()


def find_checkpoints(output_dir: Path) -> list[Checkpoint]:
    """Checkpoints directly under `output_dir` or one level down (ms-swift, seeds), ordered by run then step.

    Folders the harness wrote (`harness_eval`, or an `--output` placed inside the training folder) are skipped, so
    a second run never takes its own results for checkpoints.
    """
    if not output_dir.is_dir():
        raise UserError(f"{printable(str(output_dir))}: no such folder (give a Trainer or ms-swift output folder)")
    found = []
    for path in [*output_dir.glob("checkpoint-*"), *output_dir.glob("*/checkpoint-*")]:
        match = _STEP.match(path.name)
        if not match or not path.is_dir() or _is_ours(path) or (path.parent != output_dir and _is_ours(path.parent)):
            continue
        run = "" if path.parent == output_dir else check_name(path.parent.name, "training run folder")
        found.append(Checkpoint(path, int(match.group(1)), (path / "adapter_config.json").exists(), run=run))
    if not found:
        raise UserError(f"{printable(str(output_dir))}: no checkpoint-N folders (looked in it and one level down)")
    return sorted(found, key=lambda c: (c.run, c.step))


def run_dir_for(ckpt: Checkpoint, results: OwnedFolder | None) -> Path:
    """Where a checkpoint's run lives: inside the checkpoint (where `EvalCallback` writes), or in the results folder."""
    if results is None:
        return ckpt.path / "harness_eval"
    return results.subfolder(ckpt.run) / ckpt.path.name if ckpt.run else results.subfolder(ckpt.path.name)


def evaluate_checkpoints(
    output_dir: Path,
    config: EvalConfig,
    *,
    base_model: str | None = None,
    results: OwnedFolder,
    separate: bool = False,
    say: Callable[[str], None] | None = None,
) -> list[tuple[Checkpoint, Results, bool]]:
    """Evaluate each checkpoint in step order; returns (checkpoint, results, reused).

    A checkpoint whose folder already holds finished results with the same run identity (the
    weights' digest, dtype, device, data and settings) is not evaluated again, whether the
    results came from an earlier `eval-checkpoints` or from `EvalCallback` during training. A
    folder holding results for other inputs (an edited data file, other settings) is evaluated
    again and replaced. `results` (an entered `trend_folder`) holds the base run, and with `separate` every
    checkpoint's run too (`--output`); otherwise each checkpoint's run is in the checkpoint.
    """
    from harness.backends.hf.loading import expected_fingerprint
    from harness.engine.runner import evaluate, finished_results

    out = []
    host: _AdapterHost | None = None
    device, dtype = str(config.model_args.get("device", "auto")), str(config.model_args.get("dtype", "auto"))
    checkpoints = find_checkpoints(output_dir)
    base = base_model or _adapters_base(checkpoints)
    say = say or (lambda line: None)
    if base is None:
        say("no base model known (not given with --model, not named by the checkpoints): the trend has no step 0; pass --model BASE")
    total = len(checkpoints) + bool(base)
    if base:
        say(f"[1/{total}] base model {base} (step 0)")
        result = evaluate(replace(config, model=base), run_dir=results.subfolder("base"))
        out.append((Checkpoint(Path(base), 0, False, label="base"), result.results, result.reused))
    for n, ckpt in enumerate(checkpoints, start=len(out) + 1):
        run_dir = run_dir_for(ckpt, results if separate else None)
        cfg = replace(config, model=str(ckpt.path))
        expected = expected_fingerprint(str(ckpt.path), device=device, dtype=dtype, base_model=base_model)
        earlier = finished_results(run_dir, cfg, expected)  # the runner's own check: reused on the same terms
        if earlier is not None:
            say(f"[{n}/{total}] {ckpt.name}: finished earlier (reused)")
            out.append((ckpt, earlier, True))
            continue
        say(f"[{n}/{total}] {ckpt.name} (step {ckpt.step}): evaluating")
        if ckpt.adapter:
            host = host or _AdapterHost(ckpt, base_model, config)
            result = evaluate(cfg, backend=host.backend_for(ckpt, expected), run_dir=run_dir, replace_stale=True)
        else:
            result = evaluate(cfg, run_dir=run_dir, replace_stale=True)
        out.append((ckpt, result.results, False))
    return out


def _adapters_base(checkpoints: Sequence[Checkpoint]) -> str | None:
    """The base model the checkpoints name, or None.

    Adapters: `base_model_name_or_path` (adapter_config.json). Full checkpoints: the `_name_or_path` transformers
    writes into config.json, when it is a folder on this machine (so the trend gets its step 0).
    """
    import json

    for ckpt in checkpoints:
        config = ckpt.path / ("adapter_config.json" if ckpt.adapter else "config.json")
        try:
            raw = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        name = raw.get("base_model_name_or_path" if ckpt.adapter else "_name_or_path") if isinstance(raw, dict) else None
        if not isinstance(name, str) or not name:
            return None
        if ckpt.adapter or (Path(name).is_dir() and Path(name).resolve() != ckpt.path.resolve()):
            return name
        return None
    return None


def chance_levels(config: EvalConfig) -> dict[str, float]:
    """Per MCQ task, acc and acc_norm of guessing: the mean of 1/options over the evaluated questions (single answer)."""
    from harness.engine.plan import prepare_tasks

    levels: dict[str, float] = {}
    for task in prepare_tasks(config, ScoringMode.LETTER):
        inverse = [1 / len(s.choices) for s in task.loaded.samples if s.choices and len(s.answer) == 1]
        if inverse:
            levels.update({f"{task.name}/{m}": sum(inverse) / len(inverse) for m in choice_metrics()})  # acc, acc_norm
    return levels


class _AdapterHost:
    """One base model; adapters are attached one at a time."""

    def __init__(self, first: Checkpoint, base_model: str | None, config: EvalConfig) -> None:
        from harness.backends.hf.loading import adapter_base, load_model

        opts = {k: v for k, v in config.model_args.items() if k in ("device", "dtype", "trust_remote_code")}
        self.base = load_model(
            adapter_base(first.path, base_model),
            device=opts.get("device", "auto"),
            dtype=opts.get("dtype", "auto"),
            trust_remote_code=bool(opts.get("trust_remote_code")),
        )
        self.model: Any = None
        self.batch_size = config.backend_options().get("batch_size", "auto")

    def backend_for(self, ckpt: Checkpoint, fingerprint: dict[str, Any]) -> Any:
        from peft import PeftModel

        from harness.backends import create_backend

        name = f"step{ckpt.step}"
        if self.model is None:
            self.model = PeftModel.from_pretrained(self.base.model, str(ckpt.path), adapter_name=name)
        else:
            previous = self.model.active_adapter
            self.model.load_adapter(str(ckpt.path), adapter_name=name)
            self.model.set_adapter(name)
            self.model.delete_adapter(previous)
        self.model.eval()
        return create_backend("hf", str(ckpt.path), loaded=(self.model, self.base.tokenizer), fingerprint=fingerprint,
                              batch_size=self.batch_size)  # fmt: skip
