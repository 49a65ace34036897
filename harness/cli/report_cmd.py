"""`harness report`: render finished runs as a table, Markdown, CSV, JSON or an HTML page."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from harness.cli.args import REPORT_FORMATS, Help, emit, whole
from harness.reports.scores import render
from harness.runs.results_file import load_results

NAME = "report"


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """This command's flags."""
    rep = sub.add_parser("report", help="render finished runs as a table, Markdown, CSV, JSON or an HTML page", formatter_class=Help)
    rep.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN", help="run folders (the first is the reference)")
    rep.add_argument("--format", choices=(*REPORT_FORMATS, "html"), default="table", help="output format")
    rep.add_argument("--detail", choices=("overall", "subset", "category"), default=None,
                     help="rows: OVERALL only, each subset, or each category too "
                          "(default: category for one run, subset for several)")  # fmt: skip
    rep.add_argument("--min-n", type=whole(1), default=10, metavar="N", help="category rows with fewer samples are folded")
    rep.add_argument("-o", "--output", "--out", dest="out", type=Path, default=None, metavar="FILE",
                     help="write to this file instead of stdout")  # fmt: skip


def run(ns: argparse.Namespace) -> int:
    """Run the command; its exit code."""
    if ns.format == "html":
        from harness.reports.html import render_html

        text = render_html(ns.run_dirs)
    elif len(ns.run_dirs) == 1:
        text = render(load_results(ns.run_dirs[0]), ns.format, detail=ns.detail or "category", min_n=ns.min_n, run_dir=ns.run_dirs[0])
    else:
        from harness.reports.side_by_side import side_by_side

        both = side_by_side(ns.run_dirs, detail=ns.detail or "subset", min_n=ns.min_n)
        table = both.table()
        text = {"md": table.markdown, "csv": table.csv, "table": table.terminal}.get(
            ns.format, lambda: json.dumps(both.as_json(), indent=2)
        )()
    emit(text, ns.out)
    return 0
