"""A default command prints our progress, our table and our warnings; nothing from the libraries beneath.

Without this a run of the default model prints torchao's failed `.so` loads, torch's pytree
deprecation notices, transformers' weight-loading and GGUF bars and assorted Python warnings.
The CLI calls `quiet_libraries()` before anything heavy is imported (torch sets its loggers'
levels when imported, but leaves the child loggers alone). `HARNESS_VERBOSE=1` keeps it all.

The harness's own warnings (`harness.tasks.errors.HarnessWarning`: a skipped row, a damaged line worked
around) are shown as one `warning: ...` line each.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any, TextIO

from harness.core.errors import HarnessWarning

__all__ = ["LIBRARY_LOGGERS", "quiet_libraries"]

LIBRARY_LOGGERS = (
    "torch.utils._pytree",
    "torchao",
    "transformers",
    "accelerate",
    "peft",
    "bitsandbytes",
    "httpx",
    "httpcore",
    "huggingface_hub",
    "filelock",
    "jieba",
    "vllm",
    "evaluate",
    "datasets",
)
_ENV = {
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "VLLM_LOGGING_LEVEL": "ERROR",
}


def _show(
    message: Warning | str, category: type[Warning], filename: str, lineno: int, file: TextIO | None = None, line: str | None = None
) -> None:
    if issubclass(category, HarnessWarning):
        (file or sys.stderr).write(f"warning: {message}\n")


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Turn library logging, progress bars and warnings down for the block; ours stay, one line each."""
    if os.environ.get("HARNESS_VERBOSE", "") not in ("", "0"):
        yield
        return
    for key, value in _ENV.items():
        os.environ.setdefault(key, value)
    levels: dict[str, Any] = {}
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        levels[name] = logger.level
        logger.setLevel(logging.ERROR)
    _silence_transformers_bars()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("always", HarnessWarning)
        warnings.showwarning = _show
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


def _silence_transformers_bars() -> None:
    """Transformers' tqdm bars (loading weights, GGUF conversion) check a module flag when already imported."""
    module = sys.modules.get("transformers.utils.logging")
    if module is not None:
        module.disable_progress_bar()
