"""Every run default in one place: generation settings and the evaluation request.

Backends take a `GenerationConfig` and never repeat a literal such as 256.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import UserError

__all__ = ["DEFAULT_MODEL", "EvalConfig", "GenerationConfig", "cache_root"]

DEFAULT_MODEL = "smollm2-135m-instruct"


def cache_root() -> Path:
    """Converted models and the request cache: `$HARNESS_CACHE`, else `$XDG_CACHE_HOME/harness`, else `~/.cache/harness`."""
    if os.environ.get("HARNESS_CACHE"):
        return Path(os.environ["HARNESS_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "harness"


@dataclass(frozen=True)
class GenerationConfig:
    """How text is generated. Greedy unless `temperature` > 0; sampling is seeded by `seed`."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    stop: tuple[str, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        """Out-of-range settings are refused here, so every entry point (CLI, Python, callbacks) gets the same check."""
        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 1:
            raise UserError(f"max_new_tokens must be a whole number of at least 1, got {self.max_new_tokens!r}")
        if not math.isfinite(self.temperature) or self.temperature < 0:
            raise UserError(f"temperature must be a finite number >= 0 (0 is greedy), got {self.temperature!r}")
        if not math.isfinite(self.top_p) or not 0 < self.top_p <= 1:
            raise UserError(f"top_p must be in (0, 1], got {self.top_p!r}")
        if self.top_k < 0:
            raise UserError(f"top_k must be >= 0 (0 turns it off), got {self.top_k!r}")

    @property
    def do_sample(self) -> bool:
        """Sampling instead of greedy decoding."""
        return self.temperature > 0


@dataclass(frozen=True)
class EvalConfig:
    """One `harness eval` invocation, fully resolved (recorded in results.json)."""

    model: str = DEFAULT_MODEL
    backend: str = "hf"
    datasets: tuple[str, ...] = ("general_mcq", "general_qa")
    dataset_args: dict[str, dict[str, Any]] = field(default_factory=dict)
    limit: int | None = None
    seed: int = 0
    batch_size: int | str = "auto"
    output: str = "results"
    generation: GenerationConfig = GenerationConfig()
    model_args: dict[str, Any] = field(default_factory=dict)
    use_cache: bool = False
    truncate: bool = False

    def __post_init__(self) -> None:
        """Refuse settings that would give wrong or misleading numbers (a dataset counted twice, --limit 0)."""
        if not self.datasets:
            raise UserError("no datasets to evaluate: name at least one, e.g. --datasets general_mcq")
        repeated = sorted({d for d in self.datasets if self.datasets.count(d) > 1})
        if repeated:
            raise UserError(f"--datasets names {', '.join(repeated)} more than once: each sample would be counted twice; list each once")
        if self.limit is not None and (not isinstance(self.limit, int) or self.limit < 1):
            raise UserError(f"limit must be a whole number of at least 1 (samples per subset), got {self.limit!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise UserError(f"seed must be a whole number >= 0, got {self.seed!r}")
        if self.batch_size != "auto" and (not isinstance(self.batch_size, int) or self.batch_size < 1):
            raise UserError(f"batch size must be auto or a whole number of at least 1, got {self.batch_size!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)
