"""`harness report RUN [RUN ...] --format html -o report.html`: one self-contained page to look at runs.

The page names each run (R1 is the reference), shows the scores side by side with each run's
difference from R1 (marked by the paired test of `harness compare`), a bar chart per task
(subsets and categories, grouped by run), a
metric-over-steps line for checkpoint runs, and a sample browser (filter by run, subset, right or
wrong, flipped against the first run; text search; pages of 50 rows, so 10,000 samples stay fast).
No network: CSS and JavaScript are inlined. Data from runs (questions, model outputs) is embedded as
JSON with every "<" escaped, and the script only ever writes it with `textContent`, never as HTML, so
a model output holding `<script>` or `<img onerror>` is shown, not run. The font stack names the
common CJK fonts; when the data holds CJK text and no installed font can draw it, the page says so.
"""

from __future__ import annotations

import html
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from harness.metrics.registry import METRICS
from harness.reports.scores import MIN_N, run_label
from harness.reports.side_by_side import SideBySide, side_by_side
from harness.runs.record import SampleRecord
from harness.runs.results_file import load_results
from harness.runs.samples import load_samples

__all__ = ["render_html"]

_STEP = re.compile(r"checkpoint-(\d+)")


def _correct(rec: SampleRecord) -> float | None:
    """Right or wrong, from the first 0/1 metric (in the registry's order) the record has; None without one."""
    for metric in _BINARY:
        if metric in rec["scores"]:
            value = rec["scores"][metric]
            return None if value is None else float(value)
    return None


_BINARY = tuple(m.name for m in METRICS.values() if m.binary)  # acc first, then the QA matches


def _prompt(rec: SampleRecord) -> str:
    if rec.get("prompt"):
        return str(rec["prompt"])
    return "\n\n".join(f"[{m['role']}] {m['content']}" for m in rec.get("messages", []))


def _run_data(label: str, run_dir: Path) -> dict[str, Any]:
    results = load_results(run_dir)
    samples = [
        {
            "key": r["key"],
            "task": r["task"],
            "subset": r["subset"],
            "prompt": _prompt(r),
            "output": r.get("prediction") if r.get("prediction") is not None else f"(failed: {r.get('error')})",
            "extracted": ",".join(r["chosen"]) if r.get("chosen") is not None else "",
            "reference": ",".join(r["answer"]) if r.get("answer") else r.get("reference", ""),
            "ok": _correct(r),
        }
        for r in load_samples(run_dir).values()
    ]
    match = _STEP.search(str(results["model"]["name"])) or _STEP.search(run_dir.name)
    return {
        "label": label,
        "name": run_label(run_dir),  # checkpoint-N for checkpoint-N/harness_eval: two checkpoints never read the same
        "step": int(match.group(1)) if match else None,
        "scores": results["scores"],
        "samples": samples,
    }


def _safe_json(data: Any) -> str:
    """JSON that cannot close the <script> element holding it."""
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _score_table(both: SideBySide) -> str:
    """Runs side by side: a value column per run and, after the reference, a difference column each."""
    head = ["Dataset", "Metric", "Subset", "Cat.0", "Num", both.runs[0].label]
    for run in both.runs[1:]:
        head += [run.label, f"\u0394 {run.label}"]
    out = ['<table id="scores"><thead><tr>' + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr></thead><tbody>"]
    data = both.as_json()["rows"]
    for row in data:
        ref = row["scores"].get(both.runs[0].label)
        cells = [(row["task"], ""), (row["metric"] + (" (macro)" if row["aggregation"] == "macro" else ""), ""), (row["subset"], ""),
                 (row["category"], ""), (str(row["n"].get(both.runs[0].label, next(iter(row["n"].values()), ""))), "num"),
                 (_fmt(ref), "num")]  # fmt: skip
        for run in both.runs[1:]:
            value = row["scores"].get(run.label)
            delta = row["delta"].get(run.label, None if value is None or ref is None else value - ref)
            p = row["p_value"].get(run.label)
            marks = "" if p is None else "**" if p < 0.01 else "*" if p < 0.05 else ""
            trend = "" if delta is None or abs(delta) < 1e-12 else "up" if delta > 0 else "down"
            cells += [(_fmt(value), "num"), ("-" if delta is None else f"{delta:+.4f}{marks}", f"num {trend}".strip())]
        out.append(
            "<tr>" + "".join(f'<td class="{c}">{html.escape(t)}</td>' if c else f"<td>{html.escape(t)}</td>" for t, c in cells) + "</tr>"
        )
    out.append("</tbody></table>")
    return "".join(out)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def render_html(run_dirs: list[Path], *, detail: str = "subset", min_n: int = MIN_N) -> str:
    """The whole page as one string."""
    both = side_by_side(run_dirs, detail=detail, min_n=min_n)
    runs = [_run_data(run.label, run.run_dir) for run in both.runs]
    assets = resources.files("harness") / "assets"
    css = (assets / "report.css").read_text(encoding="utf-8")
    script = (assets / "report.js").read_text(encoding="utf-8")
    names = [r["name"] for r in runs]
    if len(set(names)) < len(names):  # still the same (two folders of one name): their paths tell them apart
        names = [str(run.run_dir) for run in both.runs]
    title = html.escape("harness report: " + ", ".join(names))
    table = both.table()
    described = "".join(f"<li><b>{html.escape(run.label)}</b>{' (reference)' if i == 0 else ''}: {html.escape(line.split(': ', 1)[1])}</li>"
                        for i, (run, line) in enumerate(zip(both.runs, table.preamble, strict=True)))  # fmt: skip
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in table.notes)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
  content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>{title}</title><style>{css}</style></head>
<body>
<h1>{title}</h1>
<p id="cjk-note" hidden>This page holds Chinese, Japanese or Korean text, and no font on this computer can show it
(the characters appear as boxes). Install one, e.g. Noto Sans CJK (Debian/Ubuntu: fonts-noto-cjk), and reload.</p>
<h2>Runs</h2><ul id="runs">{described}</ul>
<h2>Scores</h2>
{_score_table(both)}
<ul id="notes">{notes}</ul>
<h2>Charts</h2><div id="charts"></div>
<h2>Samples</h2>
<div id="controls">
  <label>Run <select id="f-run"></select></label>
  <label>Subset <select id="f-subset"></select></label>
  <label>Result <select id="f-ok"><option value="all">all</option><option value="right">right</option>
    <option value="wrong">wrong</option></select></label>
  <label><input type="checkbox" id="f-flipped"> flipped vs R1</label>
  <label>Search <input type="search" id="f-text" placeholder="text in prompt, output or reference"></label>
  <span id="count"></span>
</div>
<table id="samples"><thead><tr><th>#</th><th>Subset</th><th>Result</th><th>Extracted</th><th>Reference</th><th>Output</th></tr></thead>
<tbody></tbody></table>
<div id="pager"><button id="prev">previous</button> <span id="page"></span> <button id="next">next</button></div>
<pre id="detail"></pre>
<script type="application/json" id="data">{_safe_json(runs)}</script>
<script>{script}</script>
</body></html>
"""
