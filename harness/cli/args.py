"""The command line's grammar: every subcommand, flag, default and range check, and nothing else.

Kept apart from the command handlers (`harness.cli.main`) and free of heavy imports, so `harness --help`
and a mistyped flag answer in a fraction of a second. Any parse error is one line on stderr and
exit code 2, like every other input error (argparse would print the whole usage block).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from harness.cli.exit_codes import EXIT_CODES_HELP, INPUT_ERROR
from harness.engine.config import DEFAULT_MODEL, GenerationConfig

__all__ = ["BACKEND_NAMES", "DATASET_NAMES", "EXAMPLES", "build_parser", "version"]

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


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error: `error: harness eval: argument --alpha: ... (see harness eval --help)`."""

    def error(self, message: str) -> NoReturn:
        """Print one line and exit 2."""
        sys.stderr.write(f"error: {self.prog}: {message} (see {self.prog} --help)\n")
        raise SystemExit(INPUT_ERROR)


class _Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown after every flag's help (unless the help already says it), and the epilog's examples kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return super()._get_help_string(action)


def whole(low: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= `low`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    parse.__name__ = "whole number"
    return parse


def number(low: float, high: float = math.inf, *, low_open: bool = False, high_open: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number in the range given (open or closed at each end)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        too_low = value <= low if low_open else value < low
        too_high = value >= high if high_open else value > high
        if not math.isfinite(value) or too_low or too_high:
            left, right = "(" if low_open else "[", ")" if high_open or high == math.inf else "]"
            raise argparse.ArgumentTypeError(f"must be a finite number in {left}{low:g}, {high:g}{right}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


def batch_size(text: str) -> int | str:
    """`auto` or a whole number >= 1."""
    return text if text == "auto" else whole(1)(text)


def _datasets(p: argparse.ArgumentParser, default: list[str]) -> None:
    p.add_argument("--datasets", nargs="+", default=default, choices=DATASET_NAMES, metavar="NAME",
                   help=f"datasets to evaluate, each once ({', '.join(DATASET_NAMES)})")  # fmt: skip
    p.add_argument("--dataset-args", default="{}", metavar="JSON",
                   help='per-dataset options, e.g. \'{"general_mcq": {"local_path": "DIR", "few_shot_num": 5}}\'; see README')  # fmt: skip
    p.add_argument("--limit", type=whole(1), default=None, metavar="N", help="at most N samples per subset (default: all)")


def _generation(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-new-tokens", type=whole(1), default=GenerationConfig.max_new_tokens, metavar="N",
                   help="most tokens generated per answer (QA, and MCQ with scoring generate)")  # fmt: skip
    p.add_argument("--batch-size", type=batch_size, default="auto",
                   help="rows per forward pass, or auto: a token budget measured for this machine (probing up on a GPU)")  # fmt: skip


def _eval(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ev = sub.add_parser("eval", help="evaluate a model on datasets and write a run folder", formatter_class=_Help)
    ev.add_argument("--config", type=Path, default=None, metavar="FILE.yaml",
                    help="settings from a YAML file (keys: these flags' names; flags given here win); runs keep theirs")  # fmt: skip
    ev.add_argument("--model", default=None,
                    help=f"model folder, .gguf file, PEFT adapter folder, hub id in the local cache, or alias; "
                         f"default {DEFAULT_MODEL} (fake backend: hash, first or table:FILE)")  # fmt: skip
    ev.add_argument("--backend", default="hf", choices=BACKEND_NAMES, help="what runs the model")
    _datasets(ev, list(DATASET_NAMES))
    ev.add_argument("--model-args", default="{}", metavar="JSON", help="backend options as JSON, e.g. '{\"trust_remote_code\": true}'")
    ev.add_argument("--dtype", default=None, choices=("auto", "float32", "bfloat16", "float16"),
                    help="weights dtype (default auto: float32 on CPU, the checkpoint's on GPU)")  # fmt: skip
    ev.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N (default auto)")
    ev.add_argument("--seed", type=whole(0), default=0, help="seed for sampling and bootstrap intervals")
    _generation(ev)
    ev.add_argument("--temperature", type=number(0), default=0.0, help="sampling temperature; 0 is greedy")
    ev.add_argument("--truncate", action="store_true",
                    help="cut prompts longer than the context from the left (counted in the table) instead of stopping")  # fmt: skip
    ev.add_argument("--output", "-o", default="results", metavar="DIR", help="root folder of run folders")
    ev.add_argument("--run-dir", default=None, metavar="DIR", help="exact run folder (default: OUTPUT/MODEL-FINGERPRINT)")
    ev.add_argument("--replace-stale", action="store_true",
                    help="let this run replace a folder that holds another run (other settings, data, or harness version)")  # fmt: skip
    ev.add_argument("--use-cache", action="store_true", help="answer repeated requests from the SQLite request cache")
    api = ev.add_argument_group("api backend (--backend api)")
    api.add_argument("--api-url", default=None, metavar="URL", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    api.add_argument("--api-key-env", default=None, metavar="VAR", help="environment variable holding the API key (never written anywhere)")
    api.add_argument("--concurrency", type=whole(1), default=8, metavar="N", help="requests in flight at once")
    api.add_argument("--timeout", type=number(0, low_open=True), default=120.0, metavar="SECONDS",
                     help="seconds to wait for one answer before retrying it")  # fmt: skip
    api.add_argument("--max-retries", type=whole(0), default=6, metavar="N", help="retries on 429/5xx/timeouts/dropped connections")
    api.add_argument("--allow-failures", action="store_true", help="exit 0 even when some samples failed")


def _report(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    rep = sub.add_parser("report", help="render finished runs as a table, Markdown, CSV, JSON or an HTML page", formatter_class=_Help)
    rep.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN", help="run folders (the first is the reference)")
    rep.add_argument("--format", choices=(*REPORT_FORMATS, "html"), default="table", help="output format")
    rep.add_argument("--detail", choices=("overall", "subset", "category"), default=None,
                     help="rows: OVERALL only, each subset, or each category too "
                          "(default: category for one run, subset for several)")  # fmt: skip
    rep.add_argument("--min-n", type=whole(1), default=10, metavar="N", help="category rows with fewer samples are folded")
    rep.add_argument("-o", "--output", "--out", dest="out", type=Path, default=None, metavar="FILE",
                     help="write to this file instead of stdout")  # fmt: skip


def _compare(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    cmp = sub.add_parser("compare", help="paired comparison of runs on the same questions; a regression gate", formatter_class=_Help)
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


def _score(sub: argparse._SubParsersAction, metric_names: tuple[str, ...]) -> None:  # type: ignore[type-arg]
    sc = sub.add_parser("score", help="score predictions made elsewhere (JSONL with prediction and reference)", formatter_class=_Help)
    sc.add_argument("pairs", type=Path, metavar="FILE", help='JSONL, one {"prediction": ..., "reference": ...} per line')
    sc.add_argument("--metrics", default="bleu,rouge", metavar="LIST", help=f"comma-separated, from: {', '.join(metric_names)}")
    sc.add_argument("--per-sample", type=Path, default=None, metavar="FILE", help="also write each line with its scores here")
    sc.add_argument("--format", choices=REPORT_FORMATS, default="table", help="output format")


def _checkpoints(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ck = sub.add_parser("eval-checkpoints", help="evaluate every checkpoint of a fine-tune and chart the trend", formatter_class=_Help)
    ck.add_argument("output_dir", type=Path, metavar="TRAIN_DIR", help="Trainer or ms-swift output folder holding checkpoint-N folders")
    ck.add_argument("--model", default=None, help="base model for LoRA/PEFT adapters (default: from adapter_config.json)")
    _datasets(ck, ["general_mcq"])
    _generation(ck)
    ck.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16", "float16"), help="weights dtype")
    ck.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    ck.add_argument("--output", "-o", "--results", dest="results", type=Path, default=None, metavar="DIR",
                    help="where runs and the trend go (default TRAIN_DIR/harness_eval)")  # fmt: skip


def _quant(sub: argparse._SubParsersAction, quant_names: tuple[str, ...]) -> None:  # type: ignore[type-arg]
    qc = sub.add_parser("quant-compare", help="quantized variants against a reference: scores, agreement, memory, speed",
                        formatter_class=_Help)  # fmt: skip
    qc.add_argument("--model", default=DEFAULT_MODEL, help="the full-precision model")
    qc.add_argument("--quant", default="fp32,bf16,int8,nf4,torchao-int8", metavar="LIST",
                    help=f"comma-separated methods, the first is the reference; from: {', '.join(quant_names)}")  # fmt: skip
    qc.add_argument("--variant", action="append", default=[], metavar="NAME=PATH", help="also a pre-quantized checkpoint or GGUF file")
    _datasets(qc, ["general_mcq"])
    _generation(qc)
    qc.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    qc.add_argument(
        "--output", "-o", type=Path, default=Path("results") / "quant-compare", metavar="DIR", help="where the variants' runs go"
    )
    qc.add_argument("--format", choices=("table", "md", "csv"), default="table", help="output format")


def _levels(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None
    if not values or any(not math.isfinite(v) or v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive numbers separated by commas, got {text!r}")
    return values


def _perf(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    pf = sub.add_parser("perf", help="load-test an OpenAI-compatible endpoint: throughput, TTFT, TPOT, latency", formatter_class=_Help)
    pf.add_argument(
        "--api-url", required=True, metavar="URL", help="the server to measure, e.g. http://127.0.0.1:8000/v1 (nothing else is contacted)"
    )
    pf.add_argument("--model", default=None, help="served model name (default: the server's first, from /v1/models)")
    pf.add_argument("--api-key-env", default=None, metavar="VAR", help="environment variable holding the API key (never written anywhere)")
    load = pf.add_mutually_exclusive_group()
    load.add_argument("--concurrency", type=_levels, default=None, metavar="N,N,...", help="requests in flight per level (default: 1,4)")
    load.add_argument("--rate", type=_levels, default=None, metavar="R,R,...", help="or Poisson arrivals per second per level")
    pf.add_argument("--requests", type=whole(1), default=32, metavar="N", help="requests per level (at most 10000)")
    pf.add_argument("--max-seconds", type=number(0, low_open=True), default=120.0, help="stop a level after this long")
    pf.add_argument(
        "--prompts", default=None, metavar="PATH", help="general_qa folder or JSONL file whose queries are sent (default: synthetic)"
    )
    pf.add_argument("--prompt-words", type=whole(1), default=64, metavar="N", help="words per synthetic prompt")
    pf.add_argument("--max-tokens", type=whole(1), default=64, metavar="N", help="max_tokens of each request")
    pf.add_argument(
        "--timeout", type=number(0, low_open=True), default=120.0, metavar="SECONDS", help="seconds before a request counts as an error"
    )
    pf.add_argument("--seed", type=whole(0), default=0, help="seed of the arrival times with --rate")
    pf.add_argument("--format", choices=("table", "md", "json"), default="table", help="output format")
    pf.add_argument("-o", "--output", dest="out", type=Path, default=None, metavar="FILE", help="write to this file instead of stdout")


def _list(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ls = sub.add_parser("list", help="list datasets, metrics, quantization methods or backends", formatter_class=_Help)
    ls.add_argument("what", choices=("tasks", "metrics", "quant", "backends"), help="what to list")


def build_parser(*, metric_names: tuple[str, ...], quant_names: tuple[str, ...]) -> argparse.ArgumentParser:
    """The whole command line; the names of metrics and quantization methods come from their registries."""
    parser = _Parser(
        prog="harness",
        description="Evaluate LLMs on EvalScope-style general_mcq / general_qa data: correct numbers, fast, offline.",
        epilog=EXAMPLES + "\n" + EXIT_CODES_HELP,
        formatter_class=_Help,
    )
    parser.add_argument("--version", action="version", version=version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _eval(sub)
    _report(sub)
    _compare(sub)
    _score(sub, metric_names)
    _checkpoints(sub)
    _quant(sub, quant_names)
    _perf(sub)
    _list(sub)
    return parser
