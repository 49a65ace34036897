"""Every run default in one place: generation settings and the evaluation request.

Backends take a `GenerationConfig` and never repeat a literal such as 256.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)
