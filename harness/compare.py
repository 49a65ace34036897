"""`harness compare BASE NEW [...]`: paired comparison of finished runs, and a regression gate.

For every task, metric and subset (plus OVERALL, pooled, when a task has several subsets) the
runs are compared on the samples both hold (matched by sample key); samples present in only one
run are counted and reported, never silently dropped. A row is a regression when the metric drops
by at least `min_delta` with p < `alpha`, an improvement when it rises likewise.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.report import load_results
from metrics.paired import paired_compare
from tasks.errors import UserError

__all__ = ["CompareRow", "compare_runs", "load_samples", "render_compare"]


@dataclass(frozen=True)
class CompareRow:
    """One metric on one subset: base vs new on shared samples."""

    run: str
    task: str
    metric: str
    subset: str
    n: int
    base: float
    new: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    test: str
    verdict: str


def load_samples(run_dir: Path) -> dict[str, dict[str, Any]]:
    """A finished run's per-sample records by key."""
    path = run_dir / "samples.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UserError(f"{path}: missing (is {run_dir} a finished run folder?)") from None
    return {rec["key"]: rec for rec in map(json.loads, lines)}


def _label(run_dir: Path) -> str:
    return run_dir.name or str(run_dir)


def compare_runs(
    base_dir: Path, new_dirs: list[Path], *, alpha: float = 0.05, min_delta: float = 0.01, seed: int = 0
) -> tuple[list[CompareRow], list[str]]:
    """Rows for each new run against the base, and notes (unshared samples)."""
    load_results(base_dir)  # a clear error when it is not a finished run
    base = load_samples(base_dir)
    rows: list[CompareRow] = []
    notes: list[str] = []
    for new_dir in new_dirs:
        load_results(new_dir)
        new = load_samples(new_dir)
        shared = [k for k in base if k in new]
        only_base, only_new = len(base) - len(shared), len(new) - len(shared)
        if only_base or only_new:
            notes.append(f"{_label(new_dir)}: {only_base} samples only in the base run, {only_new} only in this run (not compared)")
        groups: dict[tuple[str, str, str], list[str]] = defaultdict(list)
        subsets: dict[str, set[str]] = defaultdict(set)
        for key in shared:
            a, b = base[key], new[key]
            subsets[a["task"]].add(a["subset"])
            for metric in a["scores"]:
                if metric in b["scores"]:
                    groups[(a["task"], metric, a["subset"])].append(key)
                    groups[(a["task"], metric, "OVERALL")].append(key)
        for (task, metric, subset), keys in groups.items():
            if subset == "OVERALL" and len(subsets[task]) < 2:
                continue
            x = [float(base[k]["scores"][metric]) for k in keys]
            y = [float(new[k]["scores"][metric]) for k in keys]
            res = paired_compare(x, y, seed)
            significant = res.p_value < alpha and abs(res.delta) >= min_delta
            verdict = ("regression" if res.delta < 0 else "improvement") if significant else "-"
            rows.append(
                CompareRow(
                    _label(new_dir),
                    task,
                    metric,
                    subset,
                    res.n,
                    res.base,
                    res.new,
                    res.delta,
                    res.ci_low,
                    res.ci_high,
                    res.p_value,
                    res.test,
                    verdict,
                )
            )
    return rows, notes


_HEAD = ("Run", "Dataset", "Metric", "Subset", "Num", "Base", "New", "Delta", "95% CI", "p", "Verdict")


def _cells(r: CompareRow) -> list[str]:
    mark = {"regression": "🔻 regression", "improvement": "🔺 improvement"}.get(r.verdict, "-")
    return [
        r.run, r.task, r.metric, r.subset, str(r.n), f"{r.base:.4f}", f"{r.new:.4f}", f"{r.delta:+.4f}",
        f"[{r.ci_low:+.4f}, {r.ci_high:+.4f}]", f"{r.p_value:.3g} ({r.test})", mark,
    ]  # fmt: skip


def render_compare(rows: list[CompareRow], notes: list[str], fmt: str, *, alpha: float, min_delta: float) -> str:
    """The comparison as a terminal table, GitHub Markdown (for a PR comment) or JSON."""
    regressions = sum(r.verdict == "regression" for r in rows)
    improvements = sum(r.verdict == "improvement" for r in rows)
    summary = f"{regressions} regression(s), {improvements} improvement(s) (alpha {alpha}, min delta {min_delta})"
    if fmt == "json":
        return json.dumps({"rows": [asdict(r) for r in rows], "notes": notes, "summary": summary}, indent=2, ensure_ascii=False) + "\n"
    if fmt == "md":
        lines = ["### Evaluation comparison", "", f"**{summary}**", "", "| " + " | ".join(_HEAD) + " |", "|" + "---|" * len(_HEAD)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in _cells(r)) + " |" for r in rows]
        lines += [""] + [f"- {n}" for n in notes]
        return "\n".join(lines) + "\n"
    if fmt == "table":
        from rich.console import Console
        from rich.table import Table

        table = Table(*_HEAD)
        for r in rows:
            table.add_row(*_cells(r))
        console = Console(width=200)
        with console.capture() as capture:
            console.print(table)
            console.print(summary, markup=False)
            for n in notes:
                console.print(n, markup=False)
        return capture.get()
    raise UserError(f"unknown format {fmt!r} (use table, md or json)")
