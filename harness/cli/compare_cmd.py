"""`harness compare`: paired comparison of runs on the same questions; a regression gate."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.cli.args import Help, number, whole
from harness.cli.exit_codes import RESULT_SAYS_NO

NAME = "compare"


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """This command's flags."""
    cmp = sub.add_parser("compare", help="paired comparison of runs on the same questions; a regression gate", formatter_class=Help)
    cmp.add_argument("base", type=Path, metavar="BASE", help="the reference run folder")
    cmp.add_argument("new", type=Path, nargs="+", metavar="NEW", help="run folders compared with BASE")
    cmp.add_argument("--format", choices=("table", "md", "json"), default="table", help="output format")
    cmp.add_argument("--fail-on-regression", action="store_true", help="exit 1 on a significant drop or a task missing from NEW")
    cmp.add_argument(
        "--alpha", type=number(0, 1, low_open=True, high_open=True), default=0.05, help="significance level of the paired tests"
    )
    cmp.add_argument("--min-delta", type=number(0), default=0.01, help="smallest change of a metric that counts as a regression")
    cmp.add_argument("--seed", type=whole(0), default=0, help="seed of the paired bootstrap")
    cmp.add_argument("--skip-changed", action="store_true", help="compare the samples that are the same question, leave out changed ones")
    cmp.add_argument("--allow-missing-tasks", action="store_true", help="a task missing from a new run does not fail the gate")
    cmp.add_argument(
        "--require-power",
        action="store_true",
        help="exit 1 when a headline row cannot detect a drop of --min-delta with 80%% power (too few samples to tell)",
    )


def run(ns: argparse.Namespace) -> int:
    """Run the command; its exit code."""
    from harness.reports.compare import compare_runs
    from harness.reports.compare_render import render_compare

    comparison = compare_runs(ns.base, ns.new, alpha=ns.alpha, min_delta=ns.min_delta, seed=ns.seed, skip_changed=ns.skip_changed)
    sys.stdout.write(render_compare(comparison, ns.format, alpha=ns.alpha, min_delta=ns.min_delta))
    if not (ns.fail_on_regression or ns.require_power):
        return 0
    reasons = comparison.gate_reasons(allow_missing_tasks=ns.allow_missing_tasks, require_power=ns.require_power)
    if not ns.fail_on_regression:  # --require-power alone gates on power only
        reasons = comparison.underpowered()
    if reasons:  # the headline names every reason the gate failed
        print(f"gate failed: {'; '.join(reasons)}", file=sys.stderr)
        return RESULT_SAYS_NO
    return 0
