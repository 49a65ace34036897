"""The checkpoint trend: one row per checkpoint (base model first, chance last), as a table and a chart.

trend.md and trend.csv hold every metric; trend.png plots each headline metric by step with its 95% interval
shaded and the chance level dashed, zoomed to the intervals unless they span half the range.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harness.core.folders import OwnedFolder
from harness.reports.tables import Column, Table
from harness.runs.results_file import Results, ScoreRow

if TYPE_CHECKING:
    from harness.workflows.checkpoints import Checkpoint

__all__ = ["trend_table", "write_trend"]


def _headline(results: Results) -> dict[str, ScoreRow]:
    """Per task/metric, the row a trend follows: OVERALL (micro) when the task has several subsets, else its one subset."""
    chosen: dict[str, ScoreRow] = {}
    for row in results["scores"]:
        subsets = {r["subset"] for r in results["scores"] if r["task"] == row["task"]}
        wanted = "OVERALL" if "OVERALL" in subsets else sorted(subsets)[0]
        if row["subset"] == wanted and row["category"] == "-" and row["aggregation"] == "micro":
            chosen.setdefault(f"{row['task']}/{row['metric']}", row)
    return chosen


def trend_table(
    runs: Sequence[tuple[Checkpoint, Results, bool]], *, primary_only: bool = False, chance: dict[str, float] | None = None
) -> Table:
    """The metric-by-step table (OVERALL when a task has several subsets).

    `primary_only` keeps one metric per task (its first: acc for MCQ, the first QA metric), so the terminal
    table fits 80 columns by design; trend.md and trend.csv hold every metric.
    """
    headlines = [_headline(results) for _, results, _ in runs]
    metrics = list(dict.fromkeys(k for h in headlines for k in h))
    if primary_only:
        metrics = list({m.split("/", 1)[0]: m for m in reversed(metrics)}.values())[::-1]
    columns = [Column("checkpoint"), Column("step", numeric=True), *(Column(m, numeric=True) for m in metrics), Column("evaluated", drop=1)]
    rows = [
        [c.name, str(c.step), *(f"{h[m]['score']:.4f}" if m in h else "" for m in metrics), "earlier (reused)" if reused else "now"]
        for (c, _, reused), h in zip(runs, headlines, strict=True)
    ]
    notes = []
    if chance and any(m in chance for m in metrics):
        rows.append(["chance", "-", *(f"{chance[m]:.4f}" if m in chance else "" for m in metrics), "-"])
        notes.append("chance: the score of guessing (mean of 1/options over the questions)")
    return Table(columns, rows, title="Checkpoint trend", notes=notes)


def write_trend(
    runs: Sequence[tuple[Checkpoint, Results, bool]], results: OwnedFolder, chance: dict[str, float] | None = None
) -> dict[str, Path]:
    """trend.md, trend.csv and (with matplotlib) trend.png in the results folder; the chance level as a dashed line."""
    chance = chance or {}
    table = trend_table(runs, chance=chance)
    files = {"md": results.write_text("trend.md", table.markdown()), "csv": results.write_text("trend.csv", table.csv())}
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ModuleNotFoundError:
        return files
    headlines = [_headline(results) for _, results, _ in runs]
    metrics = list(dict.fromkeys(k for h in headlines for k in h))
    fig, axes = plt.subplots(len(metrics), 1, figsize=(7, 2.4 * len(metrics)), squeeze=False)
    steps = [c.step for c, _, _ in runs]
    for ax, metric in zip(axes[:, 0], metrics, strict=True):
        rows = [h.get(metric) for h in headlines]
        values = [r["score"] if r else float("nan") for r in rows]
        low = [r["ci_low"] if r else float("nan") for r in rows]
        high = [r["ci_high"] if r else float("nan") for r in rows]
        ax.fill_between(steps, low, high, alpha=0.2, label="95% interval")
        ax.plot(steps, values, marker="o")
        if metric in chance:
            ax.axhline(chance[metric], linestyle="--", color="grey", label="chance")
            low, high = [*low, chance[metric]], [*high, chance[metric]]
        ax.set_title(metric, fontsize=9)
        ax.set_xlabel("step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
        ax.set_ylim(*_y_range(low, high))
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    plt.close(fig)
    files["png"] = results.write_bytes("trend.png", png.getvalue())
    return files


def _y_range(low: Sequence[float], high: Sequence[float]) -> tuple[float, float]:
    """A y-axis for a score in [0, 1]: the whole range, or zoomed to the intervals (never narrower than 0.1)."""
    finite = [v for v in (*low, *high) if v == v]
    if not finite:
        return 0.0, 1.0
    lo, hi = min(finite), max(finite)
    if hi - lo >= 0.5:
        return 0.0, 1.0
    mid, half = (lo + hi) / 2, max(0.05, (hi - lo) / 2 * 1.2)
    return max(0.0, mid - half), min(1.0, mid + half)
