"""Command line: `harness eval | report | compare | score`. Any user error is one line on stderr and exit 2."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.cli.args import build_parser
from harness.cli.exit_codes import INPUT_ERROR, INTERNAL_ERROR, INTERRUPTED, TERMINATED
from harness.cli.failures import describe_os_error, log_traceback
from harness.cli.quiet import quiet_libraries
from harness.core.errors import UserError
from harness.engine.config import DEFAULT_MODEL, EvalConfig, GenerationConfig
from harness.reports.scores import render
from harness.runs.results_file import load_results

__all__ = ["main"]


def _json_arg(text: str, flag: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{flag} is not valid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(value, dict):
        raise UserError(f'{flag} must be a JSON object, e.g. \'{{"general_mcq": {{"local_path": "data"}}}}\'')
    return value


def _emit(text: str, out: Path | None) -> None:
    """Write a command's output to `out` (atomically, secrets masked), or to stdout."""
    if out is None:
        sys.stdout.write(text)
        return
    from harness.runs.store import atomic_write_text

    atomic_write_text(out, text)
    print(f"wrote {out}")


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub: argparse.ArgumentParser = action.choices[name]
    return sub


def _parser() -> argparse.ArgumentParser:
    from harness.metrics.qa import QA_METRICS
    from harness.workflows.quant_methods import METHODS

    return build_parser(metric_names=tuple(QA_METRICS), quant_names=tuple(METHODS))


def _eval(ns: argparse.Namespace) -> int:
    from harness.backends import backend_spec
    from harness.cli.progress import rich_progress
    from harness.engine.runner import evaluate

    spec = backend_spec(ns.backend)
    if "api_url" in spec.cli_options and not ns.api_url:
        raise UserError(f"--backend {ns.backend} needs --api-url URL (e.g. http://127.0.0.1:8000/v1)")
    model_args = _json_arg(ns.model_args, "--model-args")
    for key in spec.cli_options:  # the flags this backend takes, when given; --model-args wins
        if getattr(ns, key) is not None:
            model_args.setdefault(key, getattr(ns, key))
    config = EvalConfig(
        model=ns.model or (DEFAULT_MODEL if spec.default_model is None else spec.default_model),
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
        truncate=ns.truncate,
    )
    from harness.cli.config_file import settings_yaml

    with rich_progress() as progress:
        result = evaluate(
            config,
            run_dir=Path(ns.run_dir) if ns.run_dir else None,
            progress=progress,
            settings=settings_yaml(ns),
            replace_stale=ns.replace_stale,
        )
    if not result.main:
        return 0  # torchrun: rank 0 writes the reports and prints the table
    sys.stdout.write(render(result.results, "table", run_dir=result.run_dir))
    sys.stdout.write(f"run folder: {result.run_dir}{' (finished earlier; nothing recomputed)' if result.reused else ''}\n")
    failed = sum(info.get("failed", 0) for info in result.results["tasks"].values())
    if failed and not ns.allow_failures:
        first = next(info.get("first_error") for info in result.results["tasks"].values() if info.get("failed"))
        print(
            f"error: {failed} samples failed (first: {first}); run the same command to retry them, or pass --allow-failures",
            file=sys.stderr,
        )
        return 1
    return 0


def _score(ns: argparse.Namespace) -> int:
    from harness.workflows.score_file import score_pairs_file, write_per_sample

    metrics = [m.strip() for m in ns.metrics.split(",") if m.strip()]
    results, per_line = score_pairs_file(ns.pairs, metrics)
    if ns.per_sample:
        write_per_sample(ns.per_sample, per_line)
    sys.stdout.write(render(results, ns.format))
    return 0


def _report(ns: argparse.Namespace) -> int:
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
    _emit(text, ns.out)
    return 0


def _eval_checkpoints(ns: argparse.Namespace) -> int:
    from harness.workflows.checkpoints import evaluate_checkpoints, trend_table, write_trend

    config = EvalConfig(
        backend="hf",
        datasets=tuple(ns.datasets),
        dataset_args=_json_arg(ns.dataset_args, "--dataset-args"),
        limit=ns.limit,
        generation=GenerationConfig(max_new_tokens=ns.max_new_tokens),
        model_args={"dtype": ns.dtype, "device": ns.device, "batch_size": ns.batch_size},
    )
    runs = evaluate_checkpoints(ns.output_dir, config, base_model=ns.model, results_root=ns.results)
    files = write_trend(runs, ns.results or ns.output_dir / "harness_eval")
    sys.stdout.write(trend_table(runs).terminal())
    sys.stdout.write("trend: " + ", ".join(str(p) for p in files.values()) + "\n")
    return 0


def _quant_compare(ns: argparse.Namespace) -> int:
    from harness.workflows.quant_compare import compare, render_quant

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
    from harness.reports.compare import compare_runs, render_compare

    comparison = compare_runs(ns.base, ns.new, alpha=ns.alpha, min_delta=ns.min_delta, seed=ns.seed, skip_changed=ns.skip_changed)
    sys.stdout.write(render_compare(comparison, ns.format, alpha=ns.alpha, min_delta=ns.min_delta))
    failed = ns.fail_on_regression and comparison.failed_gate(allow_missing_tasks=ns.allow_missing_tasks)
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `harness` console script; everything it prints passes through `harness.core.redact`."""
    from harness.core.redact import RedactingStream

    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = RedactingStream(sys.stdout), RedactingStream(sys.stderr)
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = streams


def _perf(ns: argparse.Namespace) -> int:
    from harness.workflows.perf import Level, load_prompts, perf_json, perf_table, run_perf

    levels = [Level(rate=r) for r in ns.rate] if ns.rate else [Level(concurrency=int(c)) for c in (ns.concurrency or [1, 4])]
    prompts = load_prompts(ns.prompts, ns.prompt_words, ns.requests)
    model, url, results = run_perf(ns.api_url, levels=levels, prompts=prompts, model=ns.model, api_key_env=ns.api_key_env,
                                   max_tokens=ns.max_tokens, max_seconds=ns.max_seconds, timeout=ns.timeout, seed=ns.seed)  # fmt: skip
    table = perf_table(model, url, results)
    text = perf_json(model, url, results) if ns.format == "json" else table.markdown() if ns.format == "md" else table.terminal()
    _emit(text, ns.out)
    return 0


def _list(ns: argparse.Namespace) -> int:
    from harness.reports.tables import Column, Table

    if ns.what == "tasks":
        from harness.tasks.registry import TASKS

        rows = [[t.name, t.kind, str(t.version), t.description] for t in TASKS.values()]
        table = Table([Column("name"), Column("kind"), Column("version", numeric=True), Column("what it reads and scores")], rows)
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
    sys.stdout.write(table.terminal())
    return 0


_COMMANDS = {
    "eval": "_eval",
    "eval-checkpoints": "_eval_checkpoints",
    "quant-compare": "_quant_compare",
    "compare": "_compare",
    "report": "_report",
    "score": "_score",
    "list": "_list",
    "perf": "_perf",
}


class Terminated(KeyboardInterrupt):
    """SIGTERM (Slurm preemption, `docker stop`, Kubernetes): stop like Ctrl-C, with exit code 143."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def _main(argv: Sequence[str] | None) -> int:
    # Offline unless the user says otherwise: the harness never downloads weights or data on its own.
    # Set HF_HUB_OFFLINE=0 to let transformers fetch a hub id that is not in the local cache.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = _parser()
    try:
        ns = parser.parse_args(argv)
        if ns.command == "eval" and ns.config is not None:
            from harness.cli.config_file import apply_config_file

            apply_config_file(_subparser(parser, "eval"), ns.config)
            ns = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a one-line parse error
        return exc.code if isinstance(exc.code, int) else INPUT_ERROR
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return INPUT_ERROR
    previous = signal.getsignal(signal.SIGTERM)
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        with quiet_libraries():
            code: int = globals()[_COMMANDS[ns.command]](ns)
        return code
    except UserError as exc:
        rank = os.environ.get("RANK") if int(os.environ.get("WORLD_SIZE", "1")) > 1 else None
        print(f"error{f' (rank {rank})' if rank else ''}: {exc}", file=sys.stderr)
        return INPUT_ERROR
    except Terminated:
        print("terminated (SIGTERM): finished samples are saved; run the same command again to resume", file=sys.stderr)
        return TERMINATED
    except KeyboardInterrupt:
        print("interrupted: finished samples are saved; run the same command again to resume", file=sys.stderr)
        return INTERRUPTED
    except OSError as exc:
        print(f"error: {describe_os_error(exc)}", file=sys.stderr)
        return INPUT_ERROR
    except Exception as exc:  # a bug: one line, the traceback in a log file
        print(f"internal error: {type(exc).__name__}: {_first_line(exc)}; {log_traceback(exc)}", file=sys.stderr)
        return INTERNAL_ERROR
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else "(no message)"


if __name__ == "__main__":
    raise SystemExit(main())
