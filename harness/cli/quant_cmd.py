"""`harness quant-compare`: quantized variants against a reference: scores, agreement, memory, speed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.backends.generation import GenerationConfig
from harness.cli.args import Help, dataset_flags, generation_flags, json_arg
from harness.cli.exit_codes import RESULT_SAYS_NO
from harness.core.errors import UserError
from harness.core.names import check_name, printable
from harness.engine.config import DEFAULT_MODEL, EvalConfig

NAME = "quant-compare"


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """This command's flags."""
    from harness.workflows.quant_methods import METHODS

    quant_names = tuple(METHODS)
    qc = sub.add_parser("quant-compare", help="quantized variants against a reference: scores, agreement, memory, speed",
                        formatter_class=Help)  # fmt: skip
    qc.add_argument("--model", default=DEFAULT_MODEL, help="the full-precision model")
    qc.add_argument("--quant", default="fp32,bf16,int8,nf4,torchao-int8", metavar="LIST",
                    help=f"comma-separated methods, the first is the reference; from: {', '.join(quant_names)}")  # fmt: skip
    qc.add_argument("--variant", action="append", default=[], metavar="NAME=PATH", help="also a pre-quantized checkpoint or GGUF file")
    dataset_flags(qc, ["general_mcq"])
    generation_flags(qc)
    qc.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    qc.add_argument(
        "--output", "-o", type=Path, default=Path("results") / "quant-compare", metavar="DIR", help="where the variants' runs go"
    )
    qc.add_argument("--format", choices=("table", "md", "csv"), default="table", help="output format")
    qc.add_argument("--force", action="store_true",
                    help="write into an --output folder holding other files (they are kept; the harness's own are replaced)")  # fmt: skip


def run(ns: argparse.Namespace) -> int:
    """Run the command; its exit code."""
    from harness.workflows.quant_compare import compare, render_quant

    variants = {}
    for item in ns.variant:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise UserError(f"--variant {printable(repr(item))}: write NAME=PATH")
        variants[check_name(name, "--variant name")] = path
    config = EvalConfig(
        model=ns.model,
        datasets=tuple(ns.datasets),
        dataset_args=json_arg(ns.dataset_args, "--dataset-args"),
        limit=ns.limit,
        batch_size=ns.batch_size,
        generation=GenerationConfig(max_new_tokens=ns.max_new_tokens),
        trust_code=ns.trust_code,
    )
    methods = [m.strip() for m in ns.quant.split(",") if m.strip()]

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    report = compare(ns.model, methods, config, variants=variants, output=ns.output, device=ns.device, force=ns.force, say=say)
    for v in report.variants:
        if v.error:
            print(f"{'skipped' if v.skipped else 'error'}: {v.error}", file=sys.stderr)
    sys.stdout.write(render_quant(report, ns.format))
    sys.stdout.write(f"run folder: {printable(str(ns.output))}\n")
    failed = [v.name for v in report.variants if v.error and not v.skipped]
    return RESULT_SAYS_NO if failed else 0  # a variant that failed while running is a failure; one that cannot run here is not
