"""`harness score`: score predictions made elsewhere (JSONL with prediction and reference)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.cli.args import REPORT_FORMATS, Help, trust_flag
from harness.reports.scores import render

NAME = "score"


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """This command's flags."""
    from harness.metrics.registry import METRICS

    metric_names = tuple(m.name for m in METRICS.values() if m.kind in ("sample", "corpus"))
    sc = sub.add_parser("score", help="score predictions made elsewhere (JSONL with prediction and reference)", formatter_class=Help)
    sc.add_argument("pairs", type=Path, metavar="FILE", help='JSONL, one {"prediction": ..., "reference": ...} per line')
    sc.add_argument("--metrics", default="bleu,rouge", metavar="LIST", help=f"comma-separated, from: {', '.join(metric_names)}")
    sc.add_argument("--per-sample", type=Path, default=None, metavar="FILE", help="also write each line with its scores here")
    sc.add_argument("--format", choices=REPORT_FORMATS, default="table", help="output format")
    trust_flag(sc)


def run(ns: argparse.Namespace) -> int:
    """Run the command; its exit code."""
    from harness.core.names import check_apart
    from harness.workflows.score_file import score_pairs_file, write_per_sample

    check_apart([("--per-sample", ns.per_sample)], [("FILE", ns.pairs)])
    metrics = [m.strip() for m in ns.metrics.split(",") if m.strip()]
    results, per_line = score_pairs_file(ns.pairs, metrics, trust_code=ns.trust_code)
    if ns.per_sample:
        write_per_sample(ns.per_sample, per_line)
    sys.stdout.write(render(results, ns.format))
    return 0
