"""`EvalCallback`: evaluate the in-memory model at each save (and/or evaluation) of a transformers `Trainer`.

    cb = EvalCallback(datasets=("general_mcq",), dataset_args={"general_mcq": {"local_path": "data"}})
    trainer = Trainer(..., callbacks=[cb])
    cb.attach(trainer)  # optional: metrics then go through trainer.log (TensorBoard, W&B, ...)

`at_save` / `at_evaluate` choose the events. The model is not reloaded; it works with PEFT models.
The run folder goes into the checkpoint folder
(`checkpoint-N/harness_eval/`) on save, or `OUTPUT/harness_eval/step-N/` on evaluate. Evaluation
leaves the training state as it found it: train/eval mode, gradients (none are computed) and the
RNG states of Python, NumPy, torch and CUDA.
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import TrainerCallback

from harness.backends import create_backend
from harness.backends.generation import GenerationConfig
from harness.engine.config import EvalConfig
from harness.engine.runner import evaluate

__all__ = ["EvalCallback", "preserved_training_state"]


def _fingerprint(model: Any, run_dir: Path, args: Any, state: Any) -> dict[str, Any]:
    """What identifies the weights evaluated.

    On save, the saved checkpoint folder is fingerprinted exactly as `harness eval-checkpoints`
    would fingerprint it, so that command recognises these results and does not evaluate the
    checkpoint again. On evaluate there is no folder: the run and step identify the weights.
    """
    saved = run_dir.parent
    if saved.name == f"checkpoint-{state.global_step}" and saved.is_dir():
        from harness.backends.hf.loading import expected_fingerprint

        dtype = str(model.dtype).removeprefix("torch.")
        return expected_fingerprint(str(saved), device=next(model.parameters()).device.type, dtype=dtype)
    return {"backend": "hf", "model": str(Path(args.output_dir).resolve()), "step": state.global_step, "dtype": str(model.dtype)}


@contextmanager
def preserved_training_state(model: Any) -> Any:
    """Put the model in eval mode for the block; restore its mode and every RNG state afterwards."""
    was_training = model.training
    states = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


@dataclass
class EvalCallback(TrainerCallback):
    """Evaluate during training; see the module docstring."""

    datasets: tuple[str, ...] = ("general_mcq",)
    dataset_args: dict[str, dict[str, Any]] = field(default_factory=dict)
    at_save: bool = True
    at_evaluate: bool = False
    limit: int | None = None
    generation: GenerationConfig = field(default_factory=GenerationConfig)  # eval's and eval-checkpoints' defaults: runs are reused
    prefix: str = "harness"
    trainer: Any = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def attach(self, trainer: Any) -> EvalCallback:
        """Log through `trainer.log` (so every reporting integration receives the metrics)."""
        self.trainer = trainer
        if self not in trainer.callback_handler.callbacks:
            trainer.add_callback(self)
        return self

    def __hash__(self) -> int:
        return id(self)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """After a checkpoint is written."""
        if self.at_save:
            self._run(args, state, kwargs, Path(args.output_dir) / f"checkpoint-{state.global_step}" / "harness_eval")

    def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """After the trainer's own evaluation."""
        if self.at_evaluate:
            from harness.runs.layout import trend_folder

            with trend_folder(Path(args.output_dir), None) as results:  # the folder eval-checkpoints writes its trend to
                run_dir = results.subfolder(f"step-{state.global_step}")
            self._run(args, state, kwargs, run_dir)

    def _run(self, args: Any, state: Any, kwargs: dict[str, Any], run_dir: Path) -> None:
        model = kwargs["model"]
        tokenizer = kwargs.get("processing_class") or kwargs.get("tokenizer")
        if tokenizer is None:
            raise ValueError("EvalCallback needs the tokenizer: pass processing_class=tokenizer to the Trainer")
        config = EvalConfig(
            model=f"{args.output_dir}@step{state.global_step}",
            backend="hf",
            datasets=tuple(self.datasets),
            dataset_args=self.dataset_args,
            limit=self.limit,
            generation=self.generation,
        )
        fingerprint = _fingerprint(model, run_dir, args, state)
        with preserved_training_state(model):
            backend = create_backend("hf", config.model, loaded=(model, tokenizer), fingerprint=fingerprint, **config.backend_options())
            result = evaluate(config, backend=backend, run_dir=run_dir)
        metrics = {}
        for row in result.results["scores"]:
            if row["category"] == "-" and row["aggregation"] == "micro":
                metrics[f"{self.prefix}/{row['task']}/{row['subset']}/{row['metric']}"] = row["score"]
        self.history.append({"step": state.global_step, "run_dir": str(run_dir), **metrics})
        if self.trainer is not None:
            self.trainer.log(metrics)
        else:
            state.log_history.append({**metrics, "step": state.global_step})
