"""Generation settings: part of the backend contract, so every backend reads the same defaults.

The engine's `EvalConfig` holds one; backends take it and never repeat a literal such as 256.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.core.errors import UserError

__all__ = ["GenerationConfig"]


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
