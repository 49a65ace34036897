"""Runs as pandas DataFrames, for notebooks: `harness.load_run(path)` and `harness.compare_runs(base, new)`.

    import harness
    run = harness.load_run("results/smollm2-135m-instruct-a90ce8c49d")
    run.scores            # one row per score: task, metric, subset, category, aggregation, n, score, ci_low, ci_high, failed
    run.samples           # one row per sample, every field of samples.jsonl (nested ones as Python objects)
    harness.compare_runs("runs/base", "runs/new")   # one row per (run, task, metric, subset): delta, interval, p, verdict

pandas is an optional extra (`pip install 'harness[notebook]'`); without it these raise one clear
error. Sample rows keep the values exactly as stored (object columns, no float conversion of ints),
and a field a record does not have is NaN in its row: `Run.records()` gives the records themselves.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, overload

from harness.core.errors import UserError
from harness.reports.scores import describe_run, run_label
from harness.runs.record import SampleRecord
from harness.runs.results_file import Results, load_results
from harness.runs.samples import iter_samples

__all__ = ["Run", "compare_runs", "load_run"]


def _pandas() -> Any:
    try:
        import pandas
    except ModuleNotFoundError:
        raise UserError("harness.load_run and compare_runs return pandas DataFrames: pip install 'harness[notebook]' (or pandas)") from None
    return pandas


@dataclass(frozen=True)
class Run:
    """A finished run folder."""

    path: Path
    results: Results

    @property
    def label(self) -> str:
        """The folder's short name (a checkpoint's name for `checkpoint-N/harness_eval`)."""
        return run_label(self.path)

    @property
    def description(self) -> str:
        """One line: model, backend, weights, data, date, harness version."""
        return describe_run(self.results, self.path)

    @property
    def scores(self) -> Any:
        """The score rows of results.json as a DataFrame, with the run's label in a `run` column."""
        frame = _pandas().DataFrame(self.results["scores"])
        frame.insert(0, "run", self.label)
        return frame

    @property
    def samples(self) -> Any:
        """Every record of samples.jsonl as a DataFrame row, values as stored."""
        records = list(self.records())
        return _pandas().DataFrame(records, columns=_columns(records), dtype=object)  # None stays None; absent is NaN

    def records(self) -> Iterator[SampleRecord]:
        """The records of samples.jsonl, in order."""
        return iter_samples(self.path)


def _columns(records: Sequence[SampleRecord]) -> list[str]:
    return list(dict.fromkeys(k for rec in records for k in rec))


@overload
def load_run(path: str | Path) -> Run: ...


@overload
def load_run(path: list[str | Path] | list[str] | list[Path] | tuple[str | Path, ...]) -> list[Run]: ...


def load_run(path: str | Path | list[str | Path] | list[str] | list[Path] | tuple[str | Path, ...]) -> Run | list[Run]:
    """One finished run (or a list of them, for a list of paths)."""
    if isinstance(path, str | Path):
        folder = Path(path)
        return Run(folder, load_results(folder))
    return [load_run(p) for p in path]


def compare_runs(
    base: str | Path, *new: str | Path, alpha: float = 0.05, min_delta: float = 0.01, seed: int = 0, skip_changed: bool = False
) -> Any:
    """`harness compare` as a DataFrame: paired tests of each new run against `base`, on the same questions."""
    from harness.reports.compare import compare_runs as compare

    if not new:
        raise UserError("compare_runs needs a base run and at least one run to compare with it")
    comparison = compare(Path(base), [Path(p) for p in new], alpha=alpha, min_delta=min_delta, seed=seed, skip_changed=skip_changed)
    frame = _pandas().DataFrame([asdict(r) for r in comparison.rows])
    frame.attrs["notes"] = comparison.notes
    frame.attrs["missing_tasks"] = comparison.missing_tasks
    return frame
