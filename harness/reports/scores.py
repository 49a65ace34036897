"""Render a run's score rows: the EvalScope-style table in the terminal, Markdown, CSV or JSON.

Columns: `Model | Dataset | Metric | Subset | Num | Score | Cat.0 | 95% CI`, the first seven
as EvalScope prints them. OVERALL rows say in the Metric column whether they are micro
(pooled over samples) or macro (mean over subsets) averages.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from harness.core.errors import UserError
from harness.reports.tables import Column, Table, csv_cell
from harness.runs.results_file import Results, ScoreRow

__all__ = [
    "CSV_COLUMNS",
    "FORMATS",
    "MIN_N",
    "describe_run",
    "fold_rows",
    "footer",
    "model_label",
    "render",
    "run_label",
    "score_table",
]

CSV_COLUMNS = ("Model", "Dataset", "Metric", "Subset", "Num", "Score", "Cat.0", "CI low", "CI high", "Failed")
FORMATS = ("table", "md", "csv", "json")
MIN_N = 10  # category rows with fewer samples are folded by default: their intervals span most of [0, 1]


def model_label(results: Results) -> str:
    """The model's name as given (a path's last part)."""
    return Path(str(results["model"]["name"])).name or str(results["model"]["name"])


def run_label(run_dir: Path) -> str:
    """A run folder's short name: its own name, or its checkpoint's for `checkpoint-N/harness_eval`."""
    resolved = run_dir.resolve()
    return resolved.parent.name if resolved.name == "harness_eval" else resolved.name or str(run_dir)


def describe_run(results: Results, run_dir: Path | None = None) -> str:
    """One line naming what produced a run: model, backend, fingerprint, data, date, harness version."""
    model = results["model"]
    fingerprint = model.get("fingerprint") or {}
    weights = fingerprint.get("weights") or fingerprint.get("table_sha256") or ""
    parts = [
        f"{model_label(results)} ({model.get('backend', '?')}{', ' + str(fingerprint.get('dtype')) if fingerprint.get('dtype') else ''})"
    ]
    if run_dir is not None:
        parts.append(f"run {run_label(run_dir)}")
    if weights:
        parts.append(f"weights {str(weights)[:16]}")
    if fingerprint.get("origin"):
        parts.append(f"weights from {fingerprint['origin']}")
    if fingerprint.get("adapter"):
        parts.append(f"adapter {Path(str(fingerprint['adapter'])).name}")
    if fingerprint.get("url"):
        parts.append(f"endpoint {fingerprint['url']}")
    tasks = results.get("tasks") or {}
    parts.append("data " + ", ".join(f"{name}: {len(info.get('files', []))} file(s)" for name, info in tasks.items()))
    if results.get("finished"):
        parts.append(str(results["finished"])[:10])
    if results.get("harness_version"):
        parts.append(f"harness {results['harness_version']}")
    return "; ".join(parts)


def fold_rows(results: Results, detail: str, min_n: int) -> tuple[list[ScoreRow], list[str]]:
    """The score rows shown at this level of detail, and a note on what was folded."""
    shown, folded_small, hidden_categories = [], 0, 0
    multi_subset = {row["task"] for row in results["scores"] if row["subset"] == "OVERALL"}
    for row in results["scores"]:
        if row["category"] != "-":
            if detail != "category":
                hidden_categories += 1
                continue
            if row["n"] < min_n:
                folded_small += 1
                continue
        if detail == "overall" and row["task"] in multi_subset and row["subset"] != "OVERALL":
            continue
        shown.append(row)
    notes = []
    if folded_small:
        notes.append(f"{folded_small} category row(s) with fewer than {min_n} samples folded (--min-n 1 shows them)")
    if hidden_categories and detail == "subset":
        notes.append(f"{hidden_categories} category row(s) not shown (--detail category)")
    return shown, notes


def score_table(results: Results, *, detail: str = "category", min_n: int = MIN_N, run_dir: Path | None = None) -> Table:
    """One run's scores, EvalScope's columns first: Model, Dataset, Metric, Subset, Num, Score, Cat.0, 95% CI (and Failed)."""
    rows, notes = fold_rows(results, detail, min_n)
    with_failed = any(row.get("failed") for row in results["scores"])
    with_categories = any(r["category"] != "-" for r in rows)  # no always-empty Cat.0 column (report.csv keeps it)
    columns = [
        Column("Model", drop=3), Column("Dataset"), Column("Metric"), Column("Subset"), Column("Num", numeric=True),
        Column("Score", numeric=True), *([Column("Cat.0", drop=1)] if with_categories else []), Column("95% CI", drop=2),
    ]  # fmt: skip
    if with_failed:
        columns.append(Column("Failed", numeric=True))
    model = model_label(results)
    cells = []
    for row in rows:
        line = [model, row["task"], _metric(row), row["subset"], str(row["n"]), f"{row['score']:.4f}",
                *([row["category"]] if with_categories else []), f"[{row['ci_low']:.4f}, {row['ci_high']:.4f}]"]  # fmt: skip
        cells.append(line + [str(row.get("failed", 0))] if with_failed else line)
    return Table(columns, cells, preamble=[f"Model: {describe_run(results, run_dir)}"], notes=footer(results, rows) + notes)


def _metric(row: ScoreRow) -> str:
    return str(row["metric"]) + (" (macro)" if row["aggregation"] == "macro" else "")


def footer(results: Results, rows: list[ScoreRow] | None = None) -> list[str]:
    """Notes under the table: scoring mode, averaging, skipped rows, failures, no-answers, truncations."""
    notes = []
    for name, info in results["tasks"].items():
        parts = [f"scoring={info['scoring']}" + (f" (via {info['scoring_via']})" if info.get("scoring_via") else "")]
        if info.get("prompt_style") not in (None, "evalscope"):  # EvalScope's wording is the default, unmarked as before
            parts.append(f"prompts={info['prompt_style']}")
        labels = (
            ("skipped_rows", "skipped rows"),
            ("failed", "failed samples"),
            ("no_answer", "no answer"),
            ("truncated", "truncated prompts"),
        )
        for key, label in labels:
            if info.get(key):
                parts.append(f"{label}: {info[key]}")
        gen = info.get("generation")
        if gen:
            stops = " or ".join(repr(s) for s in gen.get("stop") or [])
            parts.append(f"at most {gen['max_new_tokens']} new tokens" + (f", stopping at {stops}" if stops else ""))
        notes.append(f"{name}: " + ", ".join(parts))
        for metric, signature in (info.get("sacrebleu") or {}).items():
            notes.append(f"{name}: {metric} is a corpus score (0-100) by sacrebleu, signature {signature}")
        for spec, module in (info.get("evaluate") or {}).items():
            notes.append(f"{name}: {spec} is a corpus score by evaluate {module['evaluate_version']}, module {module['module']} "
                         f"(code sha256 {module['sha256'][:12]}, {len(module.get('files', [])) or 1} file(s))")  # fmt: skip
        judge = info.get("judge")
        if judge:
            failed = f"; failed judgements: {info.get('judge_failed', 0)} (not in n)" if info.get("judge_failed") else ""
            if info.get("judge_flagged"):
                failed += f"; {info['judge_flagged']} answer(s) address the judge (flagged in samples.jsonl)"
            low, high = judge["scale"]
            notes.append(f"{name}: judge = {judge['model']} (template {judge['template']}, scale {low:g}-{high:g}, mapped to 0-1){failed}")
    usage = results.get("usage") or {}
    if results["model"].get("bills_tokens"):  # what a hosted API bills
        notes.append(f"tokens: {usage.get('prompt_tokens', 0)} prompt, {usage.get('completion_tokens', 0)} completion")
    if any(row["subset"] == "OVERALL" for row in (results["scores"] if rows is None else rows)):
        notes.append("OVERALL = micro average over all samples; (macro) = mean of subset scores.")
    if any(info.get("failed") for info in results["tasks"].values()):
        notes.append("Failed samples have no answer from the backend: Num and Score leave them out; rerun to retry them.")
    return notes


def _csv_rows(results: Results) -> str:
    """Every score row with numbers in numeric columns (interval bounds apart), for spreadsheets and pandas."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    model = model_label(results)
    for row in results["scores"]:
        cells = [model, row["task"], _metric(row), row["subset"], row["n"], f"{row['score']:.6f}", row["category"],
                 f"{row['ci_low']:.6f}", f"{row['ci_high']:.6f}", row.get("failed", 0)]  # fmt: skip
        writer.writerow([csv_cell(c) if isinstance(c, str) else c for c in cells])
    return buf.getvalue()


def render(results: Results, fmt: str, *, detail: str = "category", min_n: int = MIN_N, run_dir: Path | None = None) -> str:
    """The report of one run in `fmt` (one of `FORMATS`)."""
    if fmt == "json":
        return json.dumps(results["scores"], indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return _csv_rows(results)
    table = score_table(results, detail=detail, min_n=min_n, run_dir=run_dir)
    if fmt == "md":
        return table.markdown()
    if fmt == "table":
        return table.terminal()
    raise UserError(f"unknown format {fmt!r} (use one of {', '.join(FORMATS)})")
