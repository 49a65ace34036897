"""`harness compare`'s output: a terminal table, GitHub Markdown for a pull request, or JSON (harness.reports.compare computes).

Every row shows the observed change, its interval, p and the MDE (the change its test finds 80% of the time),
and for 0/1 metrics the discordance the MDE rests on; one sentence explains each significant change smaller
than its MDE, so the two numbers never read as a contradiction.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, replace
from typing import Any

from harness.core.errors import UserError
from harness.reports.compare import CompareRow, Comparison
from harness.reports.tables import Column, Table

__all__ = ["render_compare"]


_COLUMNS = [
    Column("Run", drop=4), Column("Dataset"), Column("Metric"), Column("Subset"), Column("Num", numeric=True),
    Column("Base", numeric=True), Column("New", numeric=True), Column("Delta", numeric=True), Column("95% CI", numeric=True, drop=2),
    Column("p", numeric=True, drop=1), Column("MDE", numeric=True, drop=3), Column("Disc.", numeric=True, drop=5), Column("Verdict"),
]  # fmt: skip


def _cells(r: CompareRow) -> list[str]:
    mark = {"regression": "🔻 regression", "improvement": "🔺 improvement"}.get(r.verdict, "-")
    return [
        r.run, r.task, r.metric, r.subset, str(r.n), f"{r.base:.4f}", f"{r.new:.4f}", f"{r.delta:+.4f}",
        f"[{r.ci_low:+.4f}, {r.ci_high:+.4f}]", f"{r.p_value:.3g} ({r.test})", _mde_cell(r.mde, 4), _disc(r), mark,
    ]  # fmt: skip


def _mde_cell(mde: float, digits: int) -> str:
    return "n/a" if math.isnan(mde) else f"{mde:.{digits}f}"


def _disc(r: CompareRow) -> str:
    return "-" if r.discordance is None else f"{r.discordance:.3f}"


# The terminal table keeps what a reviewer decides on (metric, delta, interval, p, verdict) at 80 columns by
# design: the task's "general_" prefix goes, the interval has 3 decimals, the test's name moves to a note,
# and Num, Base and New are the columns a narrow terminal leaves out first (--format md shows them).
_TERMINAL_COLUMNS = [
    Column("Run", drop=6), Column("Metric"), Column("Subset"), Column("Num", numeric=True, drop=3), Column("Base", numeric=True, drop=2),
    Column("New", numeric=True, drop=2), Column("Delta", numeric=True), Column("95% CI", numeric=True), Column("p", numeric=True),
    Column("MDE", numeric=True, drop=1), Column("Disc.", numeric=True, drop=4), Column("Verdict"),
]  # fmt: skip


def _terminal_cells(r: CompareRow) -> list[str]:
    task = r.task.removeprefix("general_")
    return [
        r.run, f"{task}/{r.metric}", r.subset, str(r.n), f"{r.base:.4f}", f"{r.new:.4f}", f"{r.delta:+.4f}",
        f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}]", f"{r.p_value:.2g}", _mde_cell(r.mde, 3), _disc(r), r.verdict,
    ]  # fmt: skip


def _json_row(r: CompareRow) -> dict[str, Any]:
    row = asdict(r)
    row["mde"] = None if math.isnan(r.mde) else r.mde  # JSON has no NaN
    return row


def render_compare(comparison: Comparison, fmt: str, *, alpha: float, min_delta: float) -> str:
    """The comparison as a terminal table, GitHub Markdown (for a PR comment) or JSON."""
    rows, notes = comparison.rows, comparison.notes
    regressions = sum(r.verdict == "regression" for r in rows)
    improvements = sum(r.verdict == "improvement" for r in rows)
    missing = f", {len(comparison.missing_tasks)} missing task(s)" if comparison.missing_tasks else ""
    unmeasured = f", {len(comparison.unmeasured)} metric(s) with nothing compared" if comparison.unmeasured else ""
    summary = f"{regressions} regression(s), {improvements} improvement(s){missing}{unmeasured} (alpha {alpha}, min delta {min_delta})"
    underpowered = comparison.underpowered()
    power = [
        f"MDE: the smallest difference each row's test detects with 80% power at its n and alpha {alpha}; Disc.: the share "
        "of questions the two runs answer differently (0/1 metrics), which the MDE depends on (harness power --discordance)"
    ]
    notes = [*notes, *comparison.unmeasured, *underpowered, *comparison.explained()]
    if fmt == "json":
        body = {"runs": dict(comparison.runs), "rows": [_json_row(r) for r in rows], "notes": notes, "pairs": comparison.pairs,
                "missing_tasks": comparison.missing_tasks, "unmeasured": comparison.unmeasured, "underpowered": underpowered,
                "explained": comparison.explained(), "summary": summary}  # fmt: skip
        return json.dumps(body, indent=2, ensure_ascii=False) + "\n"
    preamble = [f"{label}: {description}" for label, description in comparison.runs]
    columns = [replace(c, name=f"{100 * (1 - alpha):g}% CI") if c.name == "95% CI" else c for c in _COLUMNS]
    table = Table(columns, [_cells(r) for r in rows], title="Evaluation comparison", preamble=preamble, notes=[*notes, *power])
    if fmt == "md":
        table.preamble = [f"**{summary}**", "", *(f"- {line}" for line in preamble)]
        return table.markdown()
    if fmt == "table":
        several = len(comparison.runs) > 2  # with several new runs the Run column tells rows apart: never dropped
        columns = [replace(c, name=f"{100 * (1 - alpha):g}% CI") if c.name == "95% CI" else c for c in _TERMINAL_COLUMNS]
        columns[0] = replace(columns[0], drop=0 if several else 5)
        tests = sorted({r.test for r in rows})
        legend = [f"p: {' or '.join(tests)} (the interval is that test's)"] if tests else []
        table = Table(columns, [_terminal_cells(r) for r in rows], title="Evaluation comparison", preamble=preamble,
                      notes=[summary, *notes, *legend, *power])  # fmt: skip
        return table.terminal()
    raise UserError(f"unknown format {fmt!r} (use table, md or json)")
