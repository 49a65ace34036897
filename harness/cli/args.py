"""What every command's flags share: the parser class, range-checked flag types, common flag groups, JSON flags.

Free of heavy imports, so `harness --help` and a mistyped flag answer in a fraction of a second. Any parse
error is one line on stderr and exit code 2, like every other input error (argparse would print the whole
usage block). Each command's own flags live in its module (harness.cli.eval_cmd, ...), beside its handler.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from harness.backends.generation import GenerationConfig
from harness.cli.exit_codes import INPUT_ERROR
from harness.core.errors import UserError
from harness.core.numbers import Range, load_json, parse_number

__all__ = [
    "BACKEND_NAMES",
    "DATASET_NAMES",
    "EXAMPLES",
    "REPORT_FORMATS",
    "Help",
    "Parser",
    "batch_size",
    "dataset_flags",
    "emit",
    "generation_flags",
    "trust_flag",
    "json_arg",
    "number",
    "version",
    "whole",
]

# Names users can pick; the registries hold the same lists (a test checks they agree) but import more.
BACKEND_NAMES = ("hf", "vllm", "api", "fake")
DATASET_NAMES = ("general_mcq", "general_qa")
REPORT_FORMATS = ("table", "md", "csv", "json")

EXAMPLES = """\
examples:
  harness eval                                          # the built-in model on the built-in example data
  harness eval --model ./my-finetune --datasets general_mcq \\
      --dataset-args '{"general_mcq": {"local_path": "data/mcq"}}' --limit 100
  harness report results/RUN --format md                # a Markdown table for a pull request
  harness compare results/BASE results/NEW --fail-on-regression
  harness quant-compare --quant fp32,bf16,int8 --datasets general_mcq
"""


def version() -> str:
    """`harness X.Y.Z`, from the installed distribution."""
    from importlib import metadata

    try:
        return f"harness {metadata.version('harness')}"
    except metadata.PackageNotFoundError:
        return "harness 0+unknown"


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error: `error: harness eval: argument --alpha: ... (see harness eval --help)`."""

    def error(self, message: str) -> NoReturn:
        """Print one line and exit 2."""
        sys.stderr.write(f"error: {self.prog}: {message} (see {self.prog} --help)\n")
        raise SystemExit(INPUT_ERROR)


class Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown after every flag's help (unless the help already says it), and the epilog's examples kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return super()._get_help_string(action)


def whole(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high] (harness.core.numbers, the one parser of numbers)."""

    def parse(text: str) -> int:
        try:
            value: int = parse_number(text, "it", Range(low, high, whole=True))
        except UserError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix("it ")) from None
        return value

    parse.__name__ = "whole number"
    return parse


def number(low: float, high: float | None = None, *, low_open: bool = False, high_open: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number in the range given (open or closed at each end; harness.core.numbers)."""

    def parse(text: str) -> float:
        try:
            value: float = parse_number(text, "it", Range(low, high, low_open=low_open, high_open=high_open))
        except UserError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix("it ")) from None
        return value

    parse.__name__ = "number"
    return parse


DTYPES = ("auto", "float32", "bfloat16", "float16")
_DTYPE_ALIASES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}  # quant-compare's method names


def dtype(text: str) -> str:
    """A weights dtype by its torch name or its short name (bf16, as quant-compare spells it)."""
    value = _DTYPE_ALIASES.get(text, text)
    if value not in DTYPES:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(DTYPES)} (or bf16, fp16, fp32), got {text!r}")
    return value


def batch_size(text: str) -> int | str:
    """`auto` or a whole number >= 1."""
    return text if text == "auto" else whole(1)(text)


def dataset_flags(p: argparse.ArgumentParser, default: list[str]) -> None:
    """--datasets, --dataset-args and --limit, as every evaluating command takes them."""
    from harness.tasks.catalog import benchmarks

    names = (*DATASET_NAMES, *benchmarks())
    p.add_argument("--datasets", nargs="+", default=default, choices=names, metavar="NAME",
                   help=f"datasets to evaluate, each once: a format ({', '.join(DATASET_NAMES)}) or a pulled benchmark "
                        f"({', '.join(benchmarks())}; harness list benchmarks)")  # fmt: skip
    p.add_argument("--dataset-args", default="{}", metavar="JSON",
                   help='per-dataset options, e.g. \'{"general_mcq": {"local_path": "DIR", "few_shot_num": 5}}\'; see README')  # fmt: skip
    p.add_argument("--limit", type=whole(1), default=None, metavar="N", help="at most N samples per subset (default: all)")
    trust_flag(p)


def trust_flag(p: argparse.ArgumentParser) -> None:
    """--trust-code: the opt-in to run the user's own Python code (an evaluate: metric script or module)."""
    p.add_argument("--trust-code", action="store_true",
                   help="allow evaluate: metrics, which run their Python code with your rights (else: refused in one line)")  # fmt: skip


def generation_flags(p: argparse.ArgumentParser) -> None:
    """--max-new-tokens and --batch-size, with the defaults of GenerationConfig."""
    p.add_argument("--max-new-tokens", type=whole(1, 10_000_000), default=GenerationConfig.max_new_tokens, metavar="N",
                   help="most tokens generated per answer (QA, and MCQ with scoring generate)")  # fmt: skip
    p.add_argument("--batch-size", type=batch_size, default="auto",
                   help="rows per forward pass, or auto: a token budget measured for this machine (probing up on a GPU)")  # fmt: skip


def json_arg(text: str, flag: str) -> dict[str, Any]:
    """A flag holding a JSON object (--dataset-args, --model-args): bounded, strict JSON (harness.core.numbers)."""
    value = load_json(text, flag)
    if not isinstance(value, dict):
        raise UserError(f'{flag} must be a JSON object, e.g. \'{{"general_mcq": {{"local_path": "data"}}}}\'')
    return value


def emit(text: str, out: Path | None, flag: str = "-o") -> None:
    """Write a command's output to `out` (atomically, secrets masked; "wrote" on stderr), or to stdout."""
    if out is None:
        sys.stdout.write(text)
        return
    from harness.core.names import printable
    from harness.runs.store import RUN_FILES, atomic_write_text

    if out.is_dir():
        raise UserError(f"{flag} {printable(str(out))}: that is a folder; give a file path")
    if out.name in RUN_FILES and ((out.parent / "run.json").exists() or (out.parent / "results.json").exists()):
        raise UserError(f"{flag} {printable(str(out))}: that is a run folder's own {out.name}; write the output elsewhere")
    atomic_write_text(out, text)
    print(f"wrote {printable(str(out))}", file=sys.stderr)
