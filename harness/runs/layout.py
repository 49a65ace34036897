"""Where a fine-tune's evaluations live: the folder eval-checkpoints and the training callback share.

`TRAIN_DIR/harness_eval` (or eval-checkpoints' `--output`) holds the trend, the base model's run and the
callback's `step-N` runs; it is a folder the harness owns (harness.core.folders), so it is never taken for
a checkpoint and never written over a user's files. Each checkpoint's own run is `checkpoint-N/harness_eval`.
"""

from __future__ import annotations

from pathlib import Path

from harness.core.folders import OwnedFolder

__all__ = ["TREND_KIND", "trend_folder"]

TREND_KIND = "checkpoint-trend"


def trend_folder(training_dir: Path, results_root: Path | None = None, *, force: bool = False) -> OwnedFolder:
    """The folder the trend, the base run and the callback's step runs go to (enter it to write)."""
    return OwnedFolder(results_root or training_dir / "harness_eval", TREND_KIND, force=force, flag="--output")
