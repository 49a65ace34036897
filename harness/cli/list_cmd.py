"""`harness list`: list datasets, metrics, quantization methods or backends."""

from __future__ import annotations

import argparse
import sys

from harness.cli.args import Help

NAME = "list"


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """This command's flags."""
    ls = sub.add_parser("list", help="list datasets, metrics, quantization methods or backends", formatter_class=Help)
    ls.add_argument("what", choices=("tasks", "datasets", "benchmarks", "metrics", "quant", "backends"),
                    help="what to list (datasets: the tasks; benchmarks: the catalogue for harness data pull)")  # fmt: skip


def run(ns: argparse.Namespace) -> int:
    """Run the command; its exit code."""
    from harness.reports.tables import Column, Table

    if ns.what in ("tasks", "datasets"):
        from harness.tasks.registry import TASKS

        rows = [[t.name, t.kind, str(t.version), t.description] for t in TASKS.values()]
        table = Table([Column("name"), Column("kind"), Column("version", numeric=True), Column("what it reads and scores")], rows)
    elif ns.what == "benchmarks":
        from harness.tasks.catalog import benchmark_rows

        header, *rows = benchmark_rows()
        table = Table([Column(h, numeric=h == "size", drop=int(h == "licence")) for h in header], rows)
        table.notes.append("format: mcq is general_mcq, qa is general_qa; pulled: yes (intact), no, or damaged (pull it again)")
    elif ns.what == "metrics":
        from harness.cli.metric_catalog import metric_rows

        table = Table([Column("name"), Column("for"), Column("what it is")], metric_rows())
    elif ns.what == "quant":
        from harness.workflows.quant_methods import METHODS

        rows = [
            [name, what, " ".join(packages) or "-", "CUDA" if cuda else "CPU or GPU"] for name, (what, packages, cuda) in METHODS.items()
        ]
        table = Table([Column("name"), Column("what it is"), Column("needs"), Column("runs on")], rows)
    else:
        from harness.backends import BACKENDS

        rows = [[name, spec.summary, spec.install or "-"] for name, spec in BACKENDS.items()]
        table = Table([Column("name"), Column("what it is"), Column("install")], rows)
    table.shows_all = "a wider terminal shows all"
    sys.stdout.write(table.terminal())
    return 0
