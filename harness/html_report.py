"""`harness report RUN [RUN ...] --format html -o report.html`: one self-contained page to look at runs.

The page holds the score table, a bar chart per task (subsets and categories, grouped by run), a
metric-over-steps line for checkpoint runs, and a sample browser (filter by run, subset, right or
wrong, flipped against the first run; text search; pages of 50 rows, so 10,000 samples stay fast).
No network: CSS and JavaScript are inlined. Data from runs (questions, model outputs) is embedded as
JSON with every "<" escaped, and the script only ever writes it with `textContent`, never as HTML, so
a model output holding `<script>` or `<img onerror>` is shown, not run.
"""

from __future__ import annotations

import html
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from harness.compare import load_samples
from harness.report import COLUMNS, load_results, table_rows

__all__ = ["render_html"]

_STEP = re.compile(r"checkpoint-(\d+)")
_PAGE_COLUMNS = ("Run", *COLUMNS, "Failed")


def _correct(rec: dict[str, Any]) -> float | None:
    for metric in ("acc", "exact_match", "contains", "numeric_match"):
        if metric in rec["scores"]:
            return float(rec["scores"][metric])
    return None


def _prompt(rec: dict[str, Any]) -> str:
    if rec.get("prompt"):
        return str(rec["prompt"])
    return "\n\n".join(f"[{m['role']}] {m['content']}" for m in rec.get("messages", []))


def _run_data(run_dir: Path) -> dict[str, Any]:
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
        "label": run_dir.name,
        "step": int(match.group(1)) if match else None,
        "scores": results["scores"],
        "samples": samples,
    }


def _safe_json(data: Any) -> str:
    """JSON that cannot close the <script> element holding it."""
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_html(run_dirs: list[Path]) -> str:
    """The whole page as one string."""
    runs = [_run_data(d) for d in run_dirs]
    rows = []
    for run_dir, run in zip(run_dirs, runs, strict=True):
        results = load_results(run_dir)
        for cells, score in zip(table_rows(results), results["scores"], strict=True):
            cells = [run["label"], *cells[: len(COLUMNS)], str(score.get("failed", 0))]
            rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    assets = resources.files("harness") / "assets"
    css = (assets / "report.css").read_text(encoding="utf-8")
    script = (assets / "report.js").read_text(encoding="utf-8")
    title = html.escape("harness report: " + ", ".join(r["label"] for r in runs))
    head = "".join(f"<th>{c}</th>" for c in _PAGE_COLUMNS)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
  content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>{title}</title><style>{css}</style></head>
<body>
<h1>{title}</h1>
<h2>Scores</h2>
<table id="scores"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>
<h2>Charts</h2><div id="charts"></div>
<h2>Samples</h2>
<div id="controls">
  <label>Run <select id="f-run"></select></label>
  <label>Subset <select id="f-subset"></select></label>
  <label>Result <select id="f-ok"><option value="all">all</option><option value="right">right</option>
    <option value="wrong">wrong</option></select></label>
  <label><input type="checkbox" id="f-flipped"> flipped vs first run</label>
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
