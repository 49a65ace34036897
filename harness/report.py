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
from typing import Any

from tasks.errors import UserError

__all__ = ["COLUMNS", "FORMATS", "columns", "load_results", "render", "table_rows"]

COLUMNS = ("Model", "Dataset", "Metric", "Subset", "Num", "Score", "Cat.0", "95% CI")
FORMATS = ("table", "md", "csv", "json")


_ROW_KEYS = ("task", "metric", "subset", "category", "aggregation", "n", "score", "ci_low", "ci_high")
_REWRITE = "re-run the evaluation to rewrite it, or restore the file"


def load_results(run_dir: Path) -> dict[str, Any]:
    """Read a finished run's results.json, checking the shape every report relies on."""
    path = run_dir / "results.json" if run_dir.is_dir() else run_dir
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no results.json (is this a finished run folder?)") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} line {exc.lineno}: not valid JSON ({exc.msg}; {_REWRITE})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read it ({getattr(exc, 'strerror', None) or exc}; {_REWRITE})") from None
    problem = _shape_problem(results)
    if problem:
        raise UserError(f"{path}: not a harness results file ({problem}; {_REWRITE})")
    return dict(results)


def _shape_problem(results: Any) -> str | None:
    """What is wrong with a results object, or None."""
    if not isinstance(results, dict):
        return f"a JSON {type(results).__name__}, not an object"
    model = results.get("model")
    if not isinstance(model, dict) or "name" not in model:
        return 'no "model" with a "name"'
    if not isinstance(results.get("tasks"), dict):
        return 'no "tasks" object'
    scores = results.get("scores")
    if not isinstance(scores, list):
        return 'no "scores" list'
    for i, row in enumerate(scores):
        missing = [k for k in _ROW_KEYS if not isinstance(row, dict) or k not in row]
        if missing:
            return f"score row {i} lacks {', '.join(missing)}"
    return None


def _model_label(results: dict[str, Any]) -> str:
    return Path(str(results["model"]["name"])).name or str(results["model"]["name"])


def columns(results: dict[str, Any]) -> tuple[str, ...]:
    """`COLUMNS`, plus `Failed` when any sample failed (API errors): failures are never hidden."""
    return (*COLUMNS, "Failed") if any(row.get("failed") for row in results["scores"]) else COLUMNS


def table_rows(results: dict[str, Any]) -> list[list[str]]:
    """The table's cells as strings, one list per score row."""
    model = _model_label(results)
    with_failed = len(columns(results)) > len(COLUMNS)
    out = []
    for row in results["scores"]:
        metric = row["metric"] + (" (macro)" if row["aggregation"] == "macro" else "")
        ci = f"[{row['ci_low']:.4f}, {row['ci_high']:.4f}]"
        cells = [model, row["task"], metric, row["subset"], str(row["n"]), f"{row['score']:.4f}", row["category"], ci]
        out.append(cells + [str(row.get("failed", 0))] if with_failed else cells)
    return out


def footer(results: dict[str, Any]) -> list[str]:
    """Notes under the table: scoring mode, averaging, skipped rows, failures, no-answers."""
    notes = []
    for name, info in results["tasks"].items():
        parts = [f"scoring={info['scoring']}" + (f" (via {info['scoring_via']})" if info.get("scoring_via") else "")]
        for key, label in (("skipped_rows", "skipped rows"), ("failed", "failed samples"), ("no_answer", "no answer")):
            if info.get(key):
                parts.append(f"{label}: {info[key]}")
        notes.append(f"{name}: " + ", ".join(parts))
    usage = results.get("usage") or {}
    if results["model"].get("backend") == "api":  # what a hosted API bills
        notes.append(f"tokens: {usage.get('prompt_tokens', 0)} prompt, {usage.get('completion_tokens', 0)} completion")
    notes.append("OVERALL = micro average over all samples; (macro) = mean of subset scores.")
    if any(info.get("failed") for info in results["tasks"].values()):
        notes.append("Failed samples have no answer from the backend: Num and Score leave them out; rerun to retry them.")
    return notes


def _markdown(cols: tuple[str, ...], rows: list[list[str]], notes: list[str]) -> str:
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---:" if c in ("Num", "Score", "Failed") else "---" for c in cols) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"


def _csv(cols: tuple[str, ...], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(cols)
    writer.writerows(rows)
    return buf.getvalue()


def _terminal(cols: tuple[str, ...], rows: list[list[str]], notes: list[str]) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(*cols, show_lines=False)
    for row in rows:
        table.add_row(*row)
    console = Console(record=True, width=max(100, sum(len(c) for c in rows[0]) + 40) if rows else 100)
    with console.capture() as capture:
        console.print(table)
        for note in notes:
            console.print(note, markup=False)
    return capture.get()


def render(results: dict[str, Any], fmt: str) -> str:
    """The report of one run in `fmt` (one of `FORMATS`)."""
    cols, rows, notes = columns(results), table_rows(results), footer(results)
    if fmt == "md":
        return _markdown(cols, rows, notes)
    if fmt == "csv":
        return _csv(cols, rows)
    if fmt == "json":
        return json.dumps(results["scores"], indent=2, ensure_ascii=False) + "\n"
    if fmt == "table":
        return _terminal(cols, rows, notes)
    raise UserError(f"unknown format {fmt!r} (use one of {', '.join(FORMATS)})")
