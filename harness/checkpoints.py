"""`harness eval-checkpoints`: evaluate every checkpoint of a fine-tune, in step order, and chart the trend.

Finds Hugging Face Trainer (`OUT/checkpoint-N/`) and ms-swift (`OUT/vX-.../checkpoint-N/`) checkpoints,
full weights or LoRA/PEFT adapters. Adapters share one base model, loaded once: each adapter is
attached, evaluated and detached. A checkpoint whose run folder already holds results for the same
datasets is skipped. Writes one run per checkpoint under `OUT/harness_eval/` plus `trend.md`,
`trend.csv` and `trend.png` (metric by step).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.config import EvalConfig
from harness.report import load_results
from tasks.errors import UserError

__all__ = ["Checkpoint", "evaluate_checkpoints", "find_checkpoints", "trend_rows"]

_STEP = re.compile(r"^checkpoint-(\d+)$")


@dataclass(frozen=True)
class Checkpoint:
    """A saved checkpoint: where, which step, and whether it is a PEFT adapter."""

    path: Path
    step: int
    adapter: bool

    @property
    def name(self) -> str:
        """Unique label: `checkpoint-N`, prefixed with the ms-swift version folder when there is one."""
        parent = self.path.parent.name
        return f"{parent}/{self.path.name}" if parent.startswith("v") and "-" in parent else self.path.name


def find_checkpoints(output_dir: Path) -> list[Checkpoint]:
    """Checkpoints directly under `output_dir` or one level down (ms-swift), ordered by run then step."""
    if not output_dir.is_dir():
        raise UserError(f"{output_dir}: no such folder (give a Trainer or ms-swift output folder)")
    found = []
    for path in [*output_dir.glob("checkpoint-*"), *output_dir.glob("*/checkpoint-*")]:
        match = _STEP.match(path.name)
        if match and path.is_dir():
            found.append(Checkpoint(path, int(match.group(1)), (path / "adapter_config.json").exists()))
    if not found:
        raise UserError(f"{output_dir}: no checkpoint-N folders (looked in it and one level down)")
    return sorted(found, key=lambda c: (str(c.path.parent), c.step))


def _done(run_dir: Path, config: EvalConfig) -> bool:
    path = run_dir / "results.json"
    if not path.exists():
        return False
    old = json.loads(path.read_text(encoding="utf-8"))["config"]
    keys = ("datasets", "dataset_args", "limit", "seed", "generation")
    return all(json.dumps(old.get(k), sort_keys=True) == json.dumps(config.to_dict().get(k), sort_keys=True) for k in keys)


def evaluate_checkpoints(
    output_dir: Path, config: EvalConfig, *, base_model: str | None = None, results_root: Path | None = None
) -> list[tuple[Checkpoint, dict[str, Any]]]:
    """Evaluate each checkpoint (skipping finished ones); returns (checkpoint, results) in step order."""
    from harness.runner import evaluate

    root = results_root or output_dir / "harness_eval"
    out = []
    base: Any = None
    for ckpt in find_checkpoints(output_dir):
        run_dir = root / ckpt.name
        cfg = replace(config, model=str(ckpt.path))
        if not _done(run_dir, cfg):
            if ckpt.adapter:
                base = base or _AdapterHost(ckpt, base_model, config.model_args)
                evaluate(cfg, backend=base.backend_for(ckpt), run_dir=run_dir)
            else:
                evaluate(cfg, run_dir=run_dir)
        out.append((ckpt, load_results(run_dir)))
    return out


class _AdapterHost:
    """One base model; adapters are attached one at a time."""

    def __init__(self, first: Checkpoint, base_model: str | None, model_args: dict[str, Any]) -> None:
        from harness.backends.hf_loading import load_model

        config = json.loads((first.path / "adapter_config.json").read_text(encoding="utf-8"))
        name = base_model or config.get("base_model_name_or_path")
        if not name:
            raise UserError(f"{first.path}/adapter_config.json names no base model: pass --model BASE")
        opts = {k: v for k, v in model_args.items() if k in ("device", "dtype", "trust_remote_code")}
        self.base = load_model(
            name, device=opts.get("device", "auto"), dtype=opts.get("dtype", "auto"), trust_remote_code=bool(opts.get("trust_remote_code"))
        )
        self.model: Any = None
        self.batch_size = model_args.get("batch_size", "auto")

    def backend_for(self, ckpt: Checkpoint) -> Any:
        from peft import PeftModel

        from harness.backends.hf import HFBackend
        from harness.backends.hf_loading import _weights_digest

        name = f"step{ckpt.step}"
        if self.model is None:
            self.model = PeftModel.from_pretrained(self.base.model, str(ckpt.path), adapter_name=name)
        else:
            previous = self.model.active_adapter
            self.model.load_adapter(str(ckpt.path), adapter_name=name)
            self.model.set_adapter(name)
            self.model.delete_adapter(previous)
        self.model.eval()
        fingerprint = {**self.base.fingerprint, "adapter": str(ckpt.path.resolve()), "adapter_weights": _weights_digest(ckpt.path)}
        return HFBackend(str(ckpt.path), loaded=(self.model, self.base.tokenizer), fingerprint=fingerprint, batch_size=self.batch_size)


def trend_rows(runs: list[tuple[Checkpoint, dict[str, Any]]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the metric-by-step table (OVERALL when a task has several subsets)."""
    columns: list[str] = []
    table: list[dict[str, float]] = []
    for _, results in runs:
        values: dict[str, float] = {}
        for row in results["scores"]:
            subsets = {r["subset"] for r in results["scores"] if r["task"] == row["task"]}
            wanted = "OVERALL" if "OVERALL" in subsets else next(iter(subsets))
            if row["subset"] == wanted and row["category"] == "-" and row["aggregation"] == "micro":
                label = f"{row['task']}/{row['metric']}"
                values[label] = row["score"]
                if label not in columns:
                    columns.append(label)
        table.append(values)
    header = ["checkpoint", "step", *columns]
    rows = [[c.name, str(c.step), *(f"{v[col]:.4f}" if col in v else "" for col in columns)] for (c, _), v in zip(runs, table, strict=True)]
    return header, rows


def write_trend(runs: list[tuple[Checkpoint, dict[str, Any]]], root: Path) -> dict[str, Path]:
    """trend.md, trend.csv and (with matplotlib) trend.png in `root`."""
    header, rows = trend_rows(runs)
    root.mkdir(parents=True, exist_ok=True)
    md = "| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n" + "".join("| " + " | ".join(r) + " |\n" for r in rows)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *rows])
    files = {"md": root / "trend.md", "csv": root / "trend.csv"}
    files["md"].write_text(md, encoding="utf-8")
    files["csv"].write_text(buf.getvalue(), encoding="utf-8")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ModuleNotFoundError:
        return files
    metrics = header[2:]
    fig, axes = plt.subplots(len(metrics), 1, figsize=(7, 2.2 * len(metrics)), squeeze=False)
    steps = [int(r[1]) for r in rows]
    for ax, (i, metric) in zip(axes[:, 0], enumerate(metrics, start=2), strict=True):
        ax.plot(steps, [float(r[i]) if r[i] else float("nan") for r in rows], marker="o")
        ax.set_title(metric, fontsize=9)
        ax.set_xlabel("step")
    fig.tight_layout()
    files["png"] = root / "trend.png"
    fig.savefig(files["png"], dpi=100)
    plt.close(fig)
    return files
