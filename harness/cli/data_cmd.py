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
    pull.add_argument("name", help="a catalogue name (harness list benchmarks)")
    pull.add_argument(
        "--to", type=Path, default=None, metavar="DIR", help="where to write (default: the harness cache, where --datasets NAME looks)"
    )
    pull.add_argument("--from", dest="source", type=Path, default=None, metavar="PATH",
                      help="a local copy instead of the hub: a dataset repository snapshot, a hub cache folder, or "
                           "parquet/arrow/CSV/JSONL files (the columns each benchmark reads: README, Standard benchmarks)")  # fmt: skip
    pull.add_argument("--revision", default=None, metavar="REV",
                      help="with --from a hub cache folder holding several revisions: the one to read (default: refs/main)")  # fmt: skip
    pull.add_argument("--encoding", default=None, metavar="CODEC", help="encoding of CSV/JSON files under --from (default: UTF-8)")
    pull.add_argument("--force", action="store_true",
                      help="write into a --to folder that holds other files (they are kept; same-named files are replaced)")  # fmt: skip


def run(ns: argparse.Namespace) -> int:
    """Run the command; its exit code."""
    import sys

    from harness.core.errors import UserError
    from harness.core.names import check_apart, printable
    from harness.tasks.catalog import get_benchmark, pulled_folder
    from harness.tasks.catalog.convert import pull, resolve_source

    bench = get_benchmark(ns.name)
    if ns.source is not None and not ns.source.exists():
        raise UserError(f"--from {printable(str(ns.source))}: no such file or folder; give a snapshot of {bench.hf_id} or its data files")
    to = ns.to or pulled_folder(bench.name)
    check_apart([("--to", to)], [("--from", ns.source)])
    source = resolve_source(bench, ns.source, revision=ns.revision, encoding=ns.encoding)
    if source.note:
        print(printable(source.note, 1000), file=sys.stderr)
    report = pull(bench, to, source, force=ns.force)
    print(report.line())
    if ns.to is not None and ns.to.resolve() != pulled_folder(bench.name).resolve():
        print(
            f'evaluate it with --datasets {bench.name} --dataset-args \'{{"{bench.name}": {{"local_path": "{printable(str(ns.to))}"}}}}\''
        )
    return 0
