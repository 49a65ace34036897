"""Every run default in one place: the evaluation request, and (re-exported) the generation settings.

`GenerationConfig` belongs to the backend contract (harness.backends.generation); backends take it and
never repeat a literal such as 256.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from harness.backends.generation import GenerationConfig
from harness.core.errors import UserError
from harness.core.paths import cache_root

__all__ = ["DEFAULT_MODEL", "EvalConfig", "GenerationConfig", "cache_root"]  # re-exported

DEFAULT_MODEL = "smollm2-135m-instruct"


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
    trust_code: bool = False  # the user's opt-in to run their own code (an evaluate: metric script; harness.core.trust)

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

    def backend_options(self) -> dict[str, Any]:
        """The options the backend is created with: `model_args`, and `batch_size` for a backend that takes it.

        `batch_size` has one source, this config; a `batch_size` written into `model_args` by hand still wins.
        """
        from harness.backends import BACKENDS

        options = dict(self.model_args)
        spec = BACKENDS.get(self.backend)
        if spec is not None and "batch_size" in spec.cli_options:
            options.setdefault("batch_size", self.batch_size)
        return options

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)
