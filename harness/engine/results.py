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

from harness.backends import BACKENDS, backend_spec
from harness.backends.base import Backend, ScoringMode
from harness.core import provenance
from harness.engine.config import EvalConfig
from harness.engine.corpus_scores import corpus_rows, evaluate_rows
from harness.engine.plan import PreparedTask
from harness.metrics.registry import metric_info
from harness.runs.record import SampleRecord
from harness.runs.results_file import SCHEMA_VERSION, Results, ScoreRow
from harness.runs.score_rows import ScoreAccumulator

__all__ = ["ResultsBuilder"]


class ResultsBuilder:
    """Collects the few fields of each record that results.json is computed from."""

    def __init__(self, corpus: dict[str, tuple[str, ...]] | None = None, judges: dict[str, dict[str, Any]] | None = None) -> None:
        """Nothing seen yet; `corpus` names each task's corpus metrics (their predictions are kept), `judges` each task's judge."""
        self._corpus_metrics = {task: metrics for task, metrics in (corpus or {}).items() if metrics}
        self._pairs: dict[str, dict[str, list[tuple[str, str]]]] = defaultdict(lambda: defaultdict(list))
        self._judges = judges or {}
        self._scores: dict[str, ScoreAccumulator] = defaultdict(ScoreAccumulator)
        self._counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._first_error: dict[str, str] = {}
        self.prompt_tokens = 0
        self.completion_tokens = 0

    def add(self, rec: SampleRecord) -> None:
        """Take one record's scores and counts."""
        task = rec["task"]
        self._scores[task].add(rec["subset"], rec.get("category"), bool(rec.get("failed")), rec["scores"])
        counts = self._counts[task]
        counts["num_samples"] += 1
        for flag in ("failed", "no_answer", "truncated"):
            counts[flag] += bool(rec.get(flag))
        verdict = rec.get("judge")
        if verdict and verdict.get("score") is None and not rec.get("failed"):
            counts["judge_failed"] += 1
            counts["judge_retry"] += bool(verdict.get("retry"))
        if verdict and verdict.get("flags"):
            counts["judge_flagged"] += 1
        if task in self._corpus_metrics and not rec.get("failed"):
            self._pairs[task][rec["subset"]].append((rec.get("prediction") or "", str(rec.get("reference", ""))))
        if rec.get("failed") and task not in self._first_error:
            self._first_error[task] = str(rec.get("error"))
        tokens = rec.get("tokens")
        if tokens:
            self.prompt_tokens += int(tokens.get("prompt") or 0)
            self.completion_tokens += int(tokens.get("completion") or 0)

    def _corpus_rows(self, task: PreparedTask, scores: list[ScoreRow], seed: int) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
        """Corpus rows of a task (sacrebleu BLEU / chrF, `evaluate:` modules), added to `scores`; returns what identifies each."""
        signatures: dict[str, str] = {}
        modules: dict[str, dict[str, str]] = {}
        pairs = self._pairs.get(task.name, {})
        for metric in self._corpus_metrics.get(task.name, ()):
            if (found := metric_info(metric)) is not None and found.kind == "module":
                rows, modules[metric] = evaluate_rows(task.name, metric, pairs, seed=seed)
            else:
                rows, signatures[metric] = corpus_rows(task.name, metric, pairs, tokenize=task.args.sacrebleu_tokenize, seed=seed)
            scores.extend(rows)
        return signatures, modules

    def build(self, config: EvalConfig, tasks: Sequence[PreparedTask], backend: Backend, *, started: str, seconds: float) -> Results:
        """The whole results.json."""
        scores: list[ScoreRow] = []
        task_info: dict[str, Any] = {}
        for task in tasks:
            scores.extend(self._scores[task.name].rows(task.name, config.seed))
            signatures, modules = self._corpus_rows(task, scores, config.seed)
            counts = self._counts[task.name]
            task_info[task.name] = {
                "version": task.version,
                "kind": task.kind,
                "scoring": task.scoring,
                "prompt_style": task.args.prompt_style or "evalscope",
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
            if signatures:
                task_info[task.name]["sacrebleu"] = signatures
            if modules:
                task_info[task.name]["evaluate"] = modules
            if task.name in self._judges:
                task_info[task.name]["judge"] = self._judges[task.name]
                task_info[task.name]["judge_failed"] = counts["judge_failed"]
                task_info[task.name]["judge_retry"] = counts["judge_retry"]
                task_info[task.name]["judge_flagged"] = counts["judge_flagged"]
            if task.scoring is ScoringMode.GENERATE:
                gen = task.generation(config.generation)
                task_info[task.name]["generation"] = {"max_new_tokens": gen.max_new_tokens, "stop": list(gen.stop)}
        return {
            "schema_version": SCHEMA_VERSION,
            "harness_version": provenance.harness_version(),
            "git_hash": provenance.git_hash(),
            "started": started,
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "wall_seconds": round(seconds, 3),
            "config": replace(config).to_dict(),
            "model": {
                "name": config.model,
                "backend": config.backend,
                "fingerprint": backend.fingerprint(),
                "bills_tokens": config.backend in BACKENDS and backend_spec(config.backend).bills_tokens,
            },
            "packages": provenance.package_versions(),
            "tasks": task_info,
            "usage": {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens},
            "scores": scores,
        }
