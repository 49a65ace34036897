"""`harness eval`: evaluate a model on datasets and write a run folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.backends.generation import GenerationConfig
from harness.cli.args import BACKEND_NAMES, DATASET_NAMES, Help, dataset_flags, dtype, generation_flags, json_arg, number, whole
from harness.cli.exit_codes import RESULT_SAYS_NO
from harness.core.errors import UserError
from harness.engine.config import DEFAULT_MODEL, EvalConfig
from harness.reports.scores import score_table
from harness.runs.results_file import Results

NAME = "eval"


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """This command's flags."""
    ev = sub.add_parser("eval", help="evaluate a model on datasets and write a run folder", formatter_class=Help)
    ev.add_argument("--config", type=Path, default=None, metavar="FILE.yaml",
                    help="settings from a YAML file (keys: these flags' names; flags given here win); runs keep theirs")  # fmt: skip
    ev.add_argument("--model", default=None,
                    help=f"model folder, .gguf file, PEFT adapter folder, hub id in the local cache, or alias; "
                         f"default {DEFAULT_MODEL} (fake backend: hash, first or table:FILE)")  # fmt: skip
    ev.add_argument("--backend", default="hf", choices=BACKEND_NAMES, help="what runs the model")
    dataset_flags(ev, list(DATASET_NAMES))
    ev.add_argument("--model-args", default="{}", metavar="JSON", help="backend options as JSON, e.g. '{\"trust_remote_code\": true}'")
    ev.add_argument("--dtype", default=None, type=dtype, metavar="{auto,float32,bfloat16,float16}",
                    help="weights dtype (default auto: float32 on CPU, the checkpoint's on GPU)")  # fmt: skip
    ev.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N (default auto)")
    ev.add_argument("--seed", type=whole(0), default=0, help="seed for sampling and bootstrap intervals")
    generation_flags(ev)
    ev.add_argument("--temperature", type=number(0), default=0.0, help="sampling temperature; 0 is greedy")
    ev.add_argument("--truncate", action="store_true",
                    help="cut prompts longer than the context from the left (counted in the table) instead of stopping")  # fmt: skip
    ev.add_argument("--output", "-o", default="results", metavar="DIR", help="root folder of run folders")
    ev.add_argument("--run-dir", default=None, metavar="DIR", help="exact run folder (default: OUTPUT/MODEL-FINGERPRINT)")
    ev.add_argument("--replace-stale", action="store_true",
                    help="let this run replace a folder that holds another run (other settings, data, or harness version)")  # fmt: skip
    ev.add_argument("--use-cache", action="store_true", help="answer repeated requests from the SQLite request cache")
    ev.add_argument("--timings", action="store_true", help="print where the time went (model load, tokenization, compute...) at the end")
    api = ev.add_argument_group("api backend (--backend api)")
    api.add_argument("--api-url", default=None, metavar="URL", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    api.add_argument("--api-key-env", default=None, metavar="VAR", help="environment variable holding the API key (never written anywhere)")
    api.add_argument("--concurrency", type=whole(1, 4096), default=8, metavar="N", help="requests in flight at once")
    api.add_argument("--timeout", type=number(0, low_open=True), default=120.0, metavar="SECONDS",
                     help="deadline in seconds for a whole request (answer included) before it is retried")  # fmt: skip
    api.add_argument("--max-retries", type=whole(0, 100), default=6, metavar="N", help="retries on 429/5xx/timeouts/dropped connections")
    api.add_argument("--allow-failures", action="store_true", help="exit 0 even when some samples or judgements failed")


def run(ns: argparse.Namespace) -> int:
    """Run the command; its exit code."""
    from harness.backends import backend_spec
    from harness.cli.progress import rich_progress
    from harness.engine.runner import evaluate

    spec = backend_spec(ns.backend)
    if "api_url" in spec.cli_options and not ns.api_url:
        raise UserError(f"--backend {ns.backend} needs --api-url URL (e.g. http://127.0.0.1:8000/v1)")
    model_args = json_arg(ns.model_args, "--model-args")
    for key in spec.cli_options:  # the flags this backend takes, when given; --model-args wins (batch size: EvalConfig's)
        if key != "batch_size" and getattr(ns, key) is not None:
            model_args.setdefault(key, getattr(ns, key))
    config = EvalConfig(
        model=ns.model or (DEFAULT_MODEL if spec.default_model is None else spec.default_model),
        backend=ns.backend,
        datasets=tuple(ns.datasets),
        dataset_args=json_arg(ns.dataset_args, "--dataset-args"),
        limit=ns.limit,
        seed=ns.seed,
        batch_size=ns.batch_size,
        output=ns.output,
        generation=GenerationConfig(max_new_tokens=ns.max_new_tokens, temperature=ns.temperature, seed=ns.seed),
        model_args=model_args,
        use_cache=ns.use_cache,
        truncate=ns.truncate,
        trust_code=ns.trust_code,
    )
    from harness.cli.config_file import settings_yaml
    from harness.core.timing import Phases, process_age

    phases = Phases()
    if (age := process_age()) is not None:
        phases.seconds["startup"] = age  # the interpreter and the harness's imports, before the run (a CLI process's own)
    with rich_progress() as progress:
        result = evaluate(
            config,
            run_dir=Path(ns.run_dir) if ns.run_dir else None,
            progress=progress,
            settings=settings_yaml(ns),
            replace_stale=ns.replace_stale,
            phases=phases,
        )
    if not result.main:
        return 0  # torchrun: rank 0 writes the reports and prints the table
    # Subsets here; categories (often many, small) are in report.md and `harness report --detail category`.
    table = score_table(result.results, detail="subset", run_dir=result.run_dir)
    table.notes = [n for n in table.notes if "category row(s)" not in n]
    table.shows_all = f"{result.run_dir / 'report.md'} shows all"  # eval has no --format: its report does
    sys.stdout.write(table.terminal())
    sys.stdout.write(f"run folder: {result.run_dir}{' (finished earlier; nothing recomputed)' if result.reused else ''}\n")
    if ns.timings:
        print(phases.line(), file=sys.stderr)
    return 0 if ns.allow_failures else _failures(result.results)


def _failures(results: Results) -> int:
    """Exit 1, with one line, when samples or judgements failed: their scores are missing, not zero."""
    tasks = results["tasks"].values()
    failed = sum(info.get("failed", 0) for info in tasks)
    if failed:
        first = next(info.get("first_error") for info in tasks if info.get("failed"))
        print(f"error: {failed} samples failed (first: {first}); run the same command to retry them, or pass --allow-failures",
              file=sys.stderr)  # fmt: skip
        return RESULT_SAYS_NO
    judged = sum(info.get("judge_failed", 0) for info in tasks)
    if judged:
        print(f"error: {judged} judgements failed (left out of n; see each record's judge.error); run the same command to retry "
              "those that failed over HTTP, or pass --allow-failures", file=sys.stderr)  # fmt: skip
        return RESULT_SAYS_NO
    return 0
