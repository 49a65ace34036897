"""`harness data pull NAME`: write a catalogue benchmark as a general_mcq / general_qa folder, once."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.args import Help

NAME = "data"


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """This command's flags."""
    data = sub.add_parser("data", help="fetch and convert standard benchmarks (harness list benchmarks)", formatter_class=Help)
    actions = data.add_subparsers(
        dest="action", required=True, metavar="ACTION", help="pull: convert a catalogue benchmark into our format"
    )
    pull = actions.add_parser("pull", help="convert a catalogue benchmark into our format (the only command that may use the network)",
                              formatter_class=Help)  # fmt: skip
    pull.add_argument("name", help="a catalogue name: mmlu, cmmlu, ceval, arc_easy, arc_challenge, hellaswag, gsm8k")
    pull.add_argument(
        "--to", type=Path, default=None, metavar="DIR", help="where to write (default: the harness cache, where --datasets NAME looks)"
    )
    pull.add_argument("--from", dest="source", type=Path, default=None, metavar="PATH",
                      help="a local copy instead of the hub: a dataset repository snapshot, or parquet/arrow/CSV/JSONL files")  # fmt: skip


def run(ns: argparse.Namespace) -> int:
    """Run the command; its exit code."""
    from harness.core.errors import UserError
    from harness.tasks.catalog import get_benchmark, pulled_folder
    from harness.tasks.catalog.convert import pull

    bench = get_benchmark(ns.name)
    if ns.source is not None and not ns.source.exists():
        raise UserError(f"--from {ns.source}: no such file or folder; give a snapshot of {bench.hf_id} or its data files")
    report = pull(bench, ns.to or pulled_folder(bench.name), ns.source)
    print(report.line())
    if ns.to is not None and ns.to.resolve() != pulled_folder(bench.name).resolve():
        print(f'evaluate it with --datasets {bench.name} --dataset-args \'{{"{bench.name}": {{"local_path": "{ns.to}"}}}}\'')
    return 0
