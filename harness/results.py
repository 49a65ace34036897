"""results.json from a stream of records: scores with intervals, per-task counts, usage, provenance.

Records go by one at a time (`add`) as the store writes the final samples file, and only what the
scores need is kept (subset, category, failed flag and the score values), so a 200,000-sample run
never holds its records in memory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from harness import provenance
from harness.aggregate import ScoreAccumulator
from harness.backends.base import Backend
from harness.config import EvalConfig
from harness.prepare import PreparedTask

__all__ = ["ResultsBuilder"]


class ResultsBuilder:
    """Collects the few fields of each record that results.json is computed from."""

    def __init__(self) -> None:
        """Nothing seen yet."""
        self._scores: dict[str, ScoreAccumulator] = defaultdict(ScoreAccumulator)
        self._counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._first_error: dict[str, str] = {}
        self.prompt_tokens = 0
        self.completion_tokens = 0

    def add(self, rec: dict[str, Any]) -> None:
        """Take one record's scores and counts."""
        task = rec["task"]
        self._scores[task].add(rec["subset"], rec.get("category"), bool(rec.get("failed")), rec["scores"])
        counts = self._counts[task]
        counts["num_samples"] += 1
        for flag in ("failed", "no_answer", "truncated"):
            counts[flag] += bool(rec.get(flag))
        if rec.get("failed") and task not in self._first_error:
            self._first_error[task] = str(rec.get("error"))
        tokens = rec.get("tokens") or {}
        self.prompt_tokens += int(tokens.get("prompt", 0))
        self.completion_tokens += int(tokens.get("completion", 0))

    def build(self, config: EvalConfig, tasks: Sequence[PreparedTask], backend: Backend, *, started: str, seconds: float) -> dict[str, Any]:
        """The whole results.json."""
        scores: list[dict[str, Any]] = []
        task_info: dict[str, Any] = {}
        for task in tasks:
            scores.extend(self._scores[task.name].rows(task.name, config.seed))
            counts = self._counts[task.name]
            task_info[task.name] = {
                "version": task.version,
                "kind": task.kind,
                "scoring": task.scoring,
                "metrics": list(task.metrics),
                "language": task.loaded.language,
                "languages": task.loaded.languages,
                "subsets": sorted({s.subset for s in task.loaded.samples}),
                "files": [str(p) for p in task.loaded.files],
                "num_samples": counts["num_samples"],
                "skipped_rows": task.loaded.skipped,
                "failed": counts["failed"],
                "first_error": self._first_error.get(task.name),
                "scoring_via": backend.scoring_via.get(task.scoring),
                "no_answer": counts["no_answer"],
                "truncated": counts["truncated"],
            }
            if task.scoring == "generate":
                gen = task.generation(config.generation)
                task_info[task.name]["generation"] = {"max_new_tokens": gen.max_new_tokens, "stop": list(gen.stop)}
        return {
            "schema_version": provenance.SCHEMA_VERSION,
            "harness_version": provenance.harness_version(),
            "git_hash": provenance.git_hash(),
            "started": started,
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "wall_seconds": round(seconds, 3),
            "config": replace(config).to_dict(),
            "model": {"name": config.model, "backend": config.backend, "fingerprint": backend.fingerprint()},
            "packages": provenance.package_versions(),
            "tasks": task_info,
            "usage": {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens},
            "scores": scores,
        }
