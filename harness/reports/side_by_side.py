"""Several runs in one table, the first as the reference: what people paste into a pull request.

Runs are labelled R1, R2, ... (the preamble names each: model, backend, run folder, weights,
data, date, harness version), so the table stays narrow however long the model names are. Each
row is a (dataset, metric, subset[, category]) score; every run after the first shows its score
and its difference from R1, marked by the paired test `harness compare` uses on the samples both
runs hold with the same question (exact McNemar for 0/1 metrics, paired bootstrap otherwise):
`*` p < 0.05, `**` p < 0.01. Runs that share no question with R1 get values without marks, and
a note says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import UserError
from harness.reports.compare import Comparison, paired_rows
from harness.reports.scores import MIN_N, describe_run, fold_rows
from harness.reports.tables import Column, Table
from harness.runs.results_file import Results, ScoreRow, load_results
from harness.runs.samples import load_samples

__all__ = ["Run", "SideBySide", "side_by_side"]

RowKey = tuple[str, str, str, str, str]  # task, metric, subset, category, aggregation


@dataclass(frozen=True)
class Run:
    """One run folder, its label and results."""

    label: str
    run_dir: Path
    results: Results


@dataclass
class SideBySide:
    """Runs and rows: per row each run's score, n, and (after R1) difference and p-value."""

    runs: list[Run]
    keys: list[RowKey]
    scores: dict[str, dict[RowKey, ScoreRow]]
    paired: dict[str, dict[tuple[str, str, str], tuple[float, float]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def cell(self, label: str, key: RowKey) -> str:
        """`0.6234` for R1; `0.5912 (-0.0322**)` for the others; `-` where the run has no such row."""
        row = self.scores[label].get(key)
        if row is None:
            return "-"
        value = f"{row['score']:.4f}"
        ref = self.scores[self.runs[0].label].get(key)
        if label == self.runs[0].label or ref is None:
            return value
        paired = self.paired.get(label, {}).get((key[0], key[1], key[2])) if key[3] == "-" and key[4] == "micro" else None
        delta = paired[0] if paired else row["score"] - ref["score"]
        return f"{value} ({delta:+.4f}{_marks(paired[1]) if paired else ''})"

    def table(self) -> Table:
        """The side-by-side table."""
        with_categories = any(k[3] != "-" for k in self.keys)
        # A narrow terminal drops the category first, then n, then the dataset (the metric names it); never a run's column.
        columns = [Column("Dataset", drop=2), Column("Metric"), Column("Subset")]
        columns += [Column("Category", drop=4)] if with_categories else []
        columns += [Column("Num", numeric=True, drop=3)] + [Column(run.label, numeric=True) for run in self.runs]
        rows = []
        reference = self.scores[self.runs[0].label]
        for key in self.keys:
            task, metric, subset, category, aggregation = key
            row = reference.get(key) or next((s[key] for s in self.scores.values() if key in s), None)
            n = row["n"] if row else ""
            line = [task, metric + (" (macro)" if aggregation == "macro" else ""), subset]
            line += [category] if with_categories else []
            rows.append(line + [str(n)] + [self.cell(run.label, key) for run in self.runs])
        preamble = [
            f"{run.label}{' (reference)' if i == 0 else ''}: {describe_run(run.results, run.run_dir)}" for i, run in enumerate(self.runs)
        ]
        notes = list(self.notes)
        if len(self.runs) > 1:
            notes.append("(+/-x) = difference from R1 on the same questions; * p < 0.05, ** p < 0.01 (paired test, as harness compare).")
        if any(k[2] == "OVERALL" for k in self.keys):
            notes.append("OVERALL = micro average over all samples; (macro) = mean of subset scores.")
        return Table(columns, rows, title="Evaluation results", preamble=preamble, notes=notes)

    def as_json(self) -> dict[str, Any]:
        """Runs and rows as plain data (for `--format json` and the HTML page)."""
        rows = []
        for key in self.keys:
            task, metric, subset, category, aggregation = key
            entry: dict[str, Any] = {"task": task, "metric": metric, "subset": subset, "category": category, "aggregation": aggregation,
                                     "scores": {}, "n": {}, "delta": {}, "p_value": {}}  # fmt: skip
            for run in self.runs:
                row = self.scores[run.label].get(key)
                if row is None:
                    continue
                entry["scores"][run.label], entry["n"][run.label] = row["score"], row["n"]
                paired = self.paired.get(run.label, {}).get((task, metric, subset)) if category == "-" and aggregation == "micro" else None
                if paired:
                    entry["delta"][run.label], entry["p_value"][run.label] = paired
            rows.append(entry)
        runs = [{"label": r.label, "run_dir": str(r.run_dir), "description": describe_run(r.results, r.run_dir)} for r in self.runs]
        return {"runs": runs, "rows": rows, "notes": self.notes}


def _marks(p: float) -> str:
    return "**" if p < 0.01 else "*" if p < 0.05 else ""


def side_by_side(run_dirs: list[Path], *, detail: str = "subset", min_n: int = MIN_N, seed: int = 0) -> SideBySide:
    """Load the runs and pair each with the first."""
    runs = [Run(f"R{i + 1}", d, load_results(d)) for i, d in enumerate(run_dirs)]
    keys: list[RowKey] = []
    scores: dict[str, dict[RowKey, ScoreRow]] = {}
    notes: list[str] = []
    for run in runs:
        shown, folded = fold_rows(run.results, detail, min_n)
        if run is runs[0]:
            notes += folded
        scores[run.label] = {}
        for row in shown:
            key = (row["task"], row["metric"], row["subset"], row["category"], row["aggregation"])
            scores[run.label][key] = row
            if key not in keys:
                keys.append(key)
    result = SideBySide(runs, keys, scores, notes=notes)
    if len(runs) > 1:
        base = load_samples(runs[0].run_dir)
        for run in runs[1:]:
            try:
                rows, pair_notes = paired_rows(base, load_samples(run.run_dir), run.label, seed=seed, skip_changed=True)
            except UserError as exc:
                result.notes.append(f"{run.label}: no paired test ({str(exc).split(': ', 1)[-1]})")
                continue
            result.notes += pair_notes
            result.paired[run.label] = {(r.task, r.metric, r.subset): (r.delta, r.p_value) for r in rows}
            # What the paired test could not have seen (harness compare's power line, at its default min delta).
            result.notes += Comparison(rows, [], []).underpowered()
    return result
