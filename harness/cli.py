"""Command line: `harness eval | report | compare | score`. Any user error is one line on stderr and exit 2."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.config import DEFAULT_MODEL, EvalConfig, GenerationConfig
from harness.report import FORMATS, load_results, render
from tasks.errors import UserError

__all__ = ["main"]


def _json_arg(text: str, flag: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{flag} is not valid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(value, dict):
        raise UserError(f'{flag} must be a JSON object, e.g. \'{{"general_mcq": {{"local_path": "data"}}}}\'')
    return value


def _batch_size(text: str) -> int | str:
    if text == "auto":
        return text
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise argparse.ArgumentTypeError("use a positive integer or auto")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description="Evaluate LLMs on general_mcq / general_qa data.")
    sub = parser.add_subparsers(dest="command", required=True)

    ev = sub.add_parser("eval", help="evaluate a model")
    ev.add_argument("--model", default=None, help=f"model path, hub id, GGUF file or alias (default {DEFAULT_MODEL}; fake: hash)")
    ev.add_argument("--backend", default="hf", help="hf, vllm, api or fake")
    ev.add_argument("--datasets", nargs="+", default=["general_mcq", "general_qa"])
    ev.add_argument("--dataset-args", default="{}", help='JSON: {"general_mcq": {"local_path": ..., "subset_list": [...]}}')
    ev.add_argument("--model-args", default="{}", help="JSON of backend options")
    ev.add_argument("--dtype", default=None, help="auto, float32, bfloat16, float16")
    ev.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N")
    ev.add_argument("--limit", type=int, default=None, help="at most N samples per subset")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--batch-size", type=_batch_size, default="auto")
    ev.add_argument("--max-new-tokens", type=int, default=GenerationConfig.max_new_tokens)
    ev.add_argument("--temperature", type=float, default=0.0)
    ev.add_argument("--output", default="results", help="root folder of run folders")
    ev.add_argument("--run-dir", default=None, help="exact run folder (default: OUTPUT/MODEL-FINGERPRINT)")
    ev.add_argument("--use-cache", action="store_true", help="answer repeated requests from the SQLite request cache")
    api = ev.add_argument_group("api backend (--backend api)")
    api.add_argument("--api-url", default=None, help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    api.add_argument("--api-key-env", default=None, metavar="VAR", help="environment variable holding the API key (never written anywhere)")
    api.add_argument("--concurrency", type=int, default=8, help="requests in flight at once (default 8)")
    api.add_argument("--timeout", type=float, default=120.0, help="seconds per request before it is retried (default 120)")
    api.add_argument("--max-retries", type=int, default=6, help="retries on 429/5xx/timeouts/resets (default 6)")
    api.add_argument("--allow-failures", action="store_true", help="exit 0 even when some samples failed")

    rep = sub.add_parser("report", help="re-render finished runs (several runs: html only)")
    rep.add_argument("run_dirs", type=Path, nargs="+")
    rep.add_argument("--format", choices=(*FORMATS, "html"), default="table")
    rep.add_argument("-o", "--out", type=Path, default=None, help="write to this file instead of stdout")

    ck = sub.add_parser("eval-checkpoints", help="evaluate every checkpoint of a fine-tune and chart the trend")
    ck.add_argument("output_dir", type=Path, help="Trainer or ms-swift output folder")
    ck.add_argument("--model", default=None, help="base model for LoRA/PEFT adapters (default: from adapter_config.json)")
    ck.add_argument("--datasets", nargs="+", default=["general_mcq"])
    ck.add_argument("--dataset-args", default="{}")
    ck.add_argument("--limit", type=int, default=None)
    ck.add_argument("--max-new-tokens", type=int, default=GenerationConfig.max_new_tokens)
    ck.add_argument("--batch-size", type=_batch_size, default="auto")
    ck.add_argument("--dtype", default="auto")
    ck.add_argument("--device", default="auto")
    ck.add_argument("--results", type=Path, default=None, help="where runs go (default OUTPUT_DIR/harness_eval)")

    qc = sub.add_parser("quant-compare", help="quantized variants vs a reference: scores, agreement, memory, speed")
    qc.add_argument("--model", default=DEFAULT_MODEL)
    qc.add_argument("--quant", default="fp32,bf16,int8,nf4,torchao-int8", help="methods, the first is the reference")
    qc.add_argument("--variant", action="append", default=[], metavar="NAME=PATH", help="a pre-quantized checkpoint or GGUF file")
    qc.add_argument("--datasets", nargs="+", default=["general_mcq"])
    qc.add_argument("--dataset-args", default="{}")
    qc.add_argument("--limit", type=int, default=None)
    qc.add_argument("--batch-size", type=_batch_size, default="auto")
    qc.add_argument("--max-new-tokens", type=int, default=GenerationConfig.max_new_tokens)
    qc.add_argument("--device", default="auto")
    qc.add_argument("--output", type=Path, default=Path("results") / "quant-compare")
    qc.add_argument("--format", choices=("table", "md", "csv"), default="table")

    cmp = sub.add_parser("compare", help="compare runs on shared samples; optionally fail on a regression")
    cmp.add_argument("base", type=Path)
    cmp.add_argument("new", type=Path, nargs="+")
    cmp.add_argument("--format", choices=("table", "md", "json"), default="table")
    cmp.add_argument("--fail-on-regression", action="store_true", help="exit 1 when any metric regresses")
    cmp.add_argument("--alpha", type=float, default=0.05)
    cmp.add_argument("--min-delta", type=float, default=0.01)
    cmp.add_argument("--seed", type=int, default=0)
    cmp.add_argument("--skip-changed", action="store_true", help="compare the samples that are the same question, leave out changed ones")
    cmp.add_argument("--allow-missing-tasks", action="store_true", help="a task missing from a new run does not fail the gate")

    sc = sub.add_parser("score", help="score predictions made elsewhere")
    sc.add_argument("pairs", type=Path, help="JSONL with prediction and reference per line")
    sc.add_argument("--metrics", default="bleu,rouge")
    sc.add_argument("--per-sample", type=Path, default=None)
    sc.add_argument("--format", choices=FORMATS, default="table")
    return parser


def _eval(ns: argparse.Namespace) -> int:
    from harness.progress import rich_progress
    from harness.runner import evaluate

    model_args = _json_arg(ns.model_args, "--model-args")
    if ns.backend == "api":
        if not ns.api_url:
            raise UserError("--backend api needs --api-url URL (e.g. http://127.0.0.1:8000/v1)")
        model_args.update(api_url=ns.api_url, concurrency=ns.concurrency, timeout=ns.timeout, max_retries=ns.max_retries)
        if ns.api_key_env:
            model_args["api_key_env"] = ns.api_key_env
    elif ns.backend != "fake":
        for key in ("dtype", "device"):
            if getattr(ns, key) is not None:
                model_args[key] = getattr(ns, key)
        model_args.setdefault("batch_size", ns.batch_size)
    defaults = {"fake": "hash", "api": ""}
    config = EvalConfig(
        model=ns.model or defaults.get(ns.backend, DEFAULT_MODEL),
        backend=ns.backend,
        datasets=tuple(ns.datasets),
        dataset_args=_json_arg(ns.dataset_args, "--dataset-args"),
        limit=ns.limit,
        seed=ns.seed,
        batch_size=ns.batch_size,
        output=ns.output,
        generation=GenerationConfig(max_new_tokens=ns.max_new_tokens, temperature=ns.temperature, seed=ns.seed),
        model_args=model_args,
        use_cache=ns.use_cache,
    )
    with rich_progress() as progress:
        result = evaluate(config, run_dir=Path(ns.run_dir) if ns.run_dir else None, progress=progress)
    if not result.main:
        return 0  # torchrun: rank 0 writes the reports and prints the table
    from harness.store import atomic_write_text

    for fmt, name in (("md", "report.md"), ("csv", "report.csv")):
        atomic_write_text(result.run_dir / name, render(result.results, fmt))
    sys.stdout.write(render(result.results, "table"))
    sys.stdout.write(f"run folder: {result.run_dir}\n")
    failed = sum(info.get("failed", 0) for info in result.results["tasks"].values())
    if failed and not ns.allow_failures:
        first = next(r.get("error") for r in result.records if r.get("failed"))
        print(
            f"error: {failed} samples failed (first: {first}); run the same command to retry them, or pass --allow-failures",
            file=sys.stderr,
        )
        return 1
    return 0


def _score(ns: argparse.Namespace) -> int:
    from harness.score_file import score_pairs_file, write_per_sample

    metrics = [m.strip() for m in ns.metrics.split(",") if m.strip()]
    results, per_line = score_pairs_file(ns.pairs, metrics)
    if ns.per_sample:
        write_per_sample(ns.per_sample, per_line)
    sys.stdout.write(render(results, ns.format))
    return 0


def _report(ns: argparse.Namespace) -> int:
    if ns.format == "html":
        from harness.html_report import render_html

        text = render_html(ns.run_dirs)
    elif len(ns.run_dirs) > 1:
        raise UserError(f"--format {ns.format} renders one run; several runs need --format html (or harness compare)")
    else:
        text = render(load_results(ns.run_dirs[0]), ns.format)
    if ns.out:
        ns.out.write_text(text, encoding="utf-8")
        print(f"wrote {ns.out}")
    else:
        sys.stdout.write(text)
    return 0


def _eval_checkpoints(ns: argparse.Namespace) -> int:
    from harness.checkpoints import evaluate_checkpoints, trend_rows, write_trend

    config = EvalConfig(
        backend="hf",
        datasets=tuple(ns.datasets),
        dataset_args=_json_arg(ns.dataset_args, "--dataset-args"),
        limit=ns.limit,
        generation=GenerationConfig(max_new_tokens=ns.max_new_tokens),
        model_args={"dtype": ns.dtype, "device": ns.device, "batch_size": ns.batch_size},
    )
    runs = evaluate_checkpoints(ns.output_dir, config, base_model=ns.model, results_root=ns.results)
    root = ns.results or ns.output_dir / "harness_eval"
    files = write_trend(runs, root)
    header, rows = trend_rows(runs)
    from rich.console import Console
    from rich.table import Table

    table = Table(*header)
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    sys.stdout.write("trend: " + ", ".join(str(p) for p in files.values()) + "\n")
    return 0


def _quant_compare(ns: argparse.Namespace) -> int:
    from harness.quantization import compare, render_quant

    variants = {}
    for item in ns.variant:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise UserError(f"--variant {item!r}: write NAME=PATH")
        variants[name] = path
    config = EvalConfig(
        model=ns.model,
        datasets=tuple(ns.datasets),
        dataset_args=_json_arg(ns.dataset_args, "--dataset-args"),
        limit=ns.limit,
        batch_size=ns.batch_size,
        generation=GenerationConfig(max_new_tokens=ns.max_new_tokens),
    )
    methods = [m.strip() for m in ns.quant.split(",") if m.strip()]
    report = compare(ns.model, methods, config, variants=variants, output=ns.output, device=ns.device)
    for v in report.variants:
        if v.error:
            print(f"error: {v.error}", file=sys.stderr)
    sys.stdout.write(render_quant(report, ns.format))
    sys.stdout.write(f"run folder: {ns.output}\n")
    return 0


def _compare(ns: argparse.Namespace) -> int:
    from harness.compare import compare_runs, render_compare

    comparison = compare_runs(ns.base, ns.new, alpha=ns.alpha, min_delta=ns.min_delta, seed=ns.seed, skip_changed=ns.skip_changed)
    sys.stdout.write(render_compare(comparison, ns.format, alpha=ns.alpha, min_delta=ns.min_delta))
    failed = ns.fail_on_regression and comparison.failed_gate(allow_missing_tasks=ns.allow_missing_tasks)
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `harness` console script; everything it prints passes through `harness.redact`."""
    from harness.redact import RedactingStream

    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = RedactingStream(sys.stdout), RedactingStream(sys.stderr)
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = streams


def _main(argv: Sequence[str] | None) -> int:
    ns = _parser().parse_args(argv)
    try:
        if ns.command == "eval":
            return _eval(ns)
        if ns.command == "eval-checkpoints":
            return _eval_checkpoints(ns)
        if ns.command == "quant-compare":
            return _quant_compare(ns)
        if ns.command == "compare":
            return _compare(ns)
        if ns.command == "report":
            return _report(ns)
        return _score(ns)
    except UserError as exc:
        from harness.distributed import DistributedError

        rank = os.environ.get("RANK") if int(os.environ.get("WORLD_SIZE", "1")) > 1 else None
        print(f"error{f' (rank {rank})' if rank else ''}: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, DistributedError) else 2
    except KeyboardInterrupt:
        print("interrupted: finished samples are saved; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
