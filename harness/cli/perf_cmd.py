"""`harness perf`: load-test an OpenAI-compatible endpoint: throughput, TTFT, TPOT, latency."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from harness.cli.args import Help, emit, number, whole
from harness.cli.exit_codes import RESULT_SAYS_NO

NAME = "perf"


def _levels(text: str) -> list[float]:
    """Arrival rates per second: finite numbers above 0 (at most a million a second), separated by commas."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text[:40]!r}") from None
    if not values or any(not math.isfinite(v) or not 0 < v <= 1e6 for v in values):
        raise argparse.ArgumentTypeError(f"expected numbers above 0 and at most 1e6 separated by commas, got {text[:40]!r}")
    return values


def _whole_levels(text: str) -> list[int]:
    """Requests in flight: whole numbers (0.5 or 1.9 requests cannot be in flight)."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas, got {text[:40]!r}") from None
    if not values or any(not 1 <= v <= 10_000 for v in values):
        raise argparse.ArgumentTypeError(f"expected whole numbers of at least 1 and at most 10000 separated by commas, got {text[:40]!r}")
    return values


def _body(text: str) -> dict[str, object]:
    """`--extra-body`: a JSON object of request fields (bounded, no NaN); the fields perf sets itself are refused."""
    from harness.core.errors import UserError
    from harness.core.numbers import load_json
    from harness.workflows.perf import OWN_FIELDS

    try:
        value = load_json(text, "it")
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("it ").replace("is not valid JSON", "not JSON") +
                                         "; e.g. '{\"top_k\": 20}'") from None  # fmt: skip
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object of request fields, got {type(value).__name__}")
    own = sorted(set(value) & set(OWN_FIELDS))
    if own:
        raise argparse.ArgumentTypeError(f"{own[0]!r} is set by perf itself (use --max-tokens, --min-tokens, --ignore-eos, --model, "
                                         "--endpoint); remove it")  # fmt: skip
    return value


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """This command's flags."""
    pf = sub.add_parser("perf", help="load-test an OpenAI-compatible endpoint: throughput, TTFT, TPOT, latency", formatter_class=Help)
    pf.add_argument(
        "--api-url", required=True, metavar="URL", help="the server to measure, e.g. http://127.0.0.1:8000/v1 (nothing else is contacted)"
    )
    pf.add_argument("--model", default=None, help="served model name (default: the server's first, from /v1/models)")
    pf.add_argument("--api-key-env", default=None, metavar="VAR", help="environment variable holding the API key (never written anywhere)")
    load = pf.add_mutually_exclusive_group()
    load.add_argument(
        "--concurrency", type=_whole_levels, default=None, metavar="N,N,...", help="requests in flight per level (default: 1,4)"
    )
    load.add_argument("--rate", type=_levels, default=None, metavar="R,R,...", help="or Poisson arrivals per second per level")
    pf.add_argument("--requests", type=whole(1), default=32, metavar="N", help="requests per level (at most 10000)")
    pf.add_argument("--max-seconds", type=number(0, low_open=True), default=120.0, help="stop a level after this long")
    pf.add_argument(
        "--prompts", default=None, metavar="PATH", help="general_qa folder or JSONL file whose queries are sent (default: synthetic)"
    )
    pf.add_argument("--prompt-words", type=whole(1), default=64, metavar="N", help="words per synthetic prompt")
    pf.add_argument("--max-tokens", type=whole(1), default=64, metavar="N", help="max_tokens of each request")
    pf.add_argument("--ignore-eos", action="store_true", help="ask the server to generate max_tokens every time (vLLM's ignore_eos)")
    pf.add_argument("--min-tokens", type=whole(0), default=None, metavar="N", help="ask for at least N output tokens (vLLM's min_tokens)")
    pf.add_argument("--extra-body", type=_body, default={}, metavar="JSON", help="more request fields, e.g. '{\"top_k\": 20}'")
    pf.add_argument("--endpoint", choices=("chat", "completions"), default="chat",
                    help="/v1/chat/completions (a chat template) or /v1/completions (the prompt as is)")  # fmt: skip
    pf.add_argument("--warmup", type=whole(0), default=1, metavar="N", help="requests sent first and not counted")
    pf.add_argument("--records", type=Path, default=None, metavar="FILE",
                    help="write one JSON line per request: start, TTFT, token times, tokens in/out, status")  # fmt: skip
    pf.add_argument(
        "--timeout", type=number(0, low_open=True), default=120.0, metavar="SECONDS", help="seconds before a request counts as an error"
    )
    pf.add_argument("--seed", type=whole(0), default=0, help="seed of the arrival times with --rate")
    pf.add_argument("--max-error-rate", type=number(0, 1), default=0.0, metavar="FRACTION",
                    help="exit 1 when a level's errors exceed this fraction of its requests")  # fmt: skip
    pf.add_argument("--format", choices=("table", "md", "json"), default="table", help="output format")
    pf.add_argument("-o", "--output", dest="out", type=Path, default=None, metavar="FILE", help="write to this file instead of stdout")


def run(ns: argparse.Namespace) -> int:
    """Run the command; its exit code."""
    from harness.cli.progress import rich_progress
    from harness.core.errors import UserError
    from harness.core.names import check_apart
    from harness.workflows.perf import Level, PerfRun, RequestShape, load_prompts, run_perf
    from harness.workflows.perf_report import perf_json, perf_table

    if ns.min_tokens is not None and ns.min_tokens > ns.max_tokens:
        raise UserError(f"perf: --min-tokens {ns.min_tokens} is above --max-tokens {ns.max_tokens}; lower it")
    prompts_path = Path(ns.prompts) if ns.prompts else None
    check_apart([("--records", ns.records), ("-o", ns.out)], [("--prompts", prompts_path)])
    levels = [Level(rate=r) for r in ns.rate] if ns.rate else [Level(concurrency=c) for c in (ns.concurrency or [1, 4])]
    prompts = load_prompts(ns.prompts, ns.prompt_words, ns.requests)
    shape = RequestShape(ns.max_tokens, ns.endpoint, ns.ignore_eos, ns.min_tokens, ns.extra_body)
    done = PerfRun(ns.model or "", ns.api_url, shape)
    try:
        with rich_progress("requests") as progress:
            run_perf(ns.api_url, levels=levels, prompts=prompts, model=ns.model, api_key_env=ns.api_key_env, shape=shape,
                     max_seconds=ns.max_seconds, timeout=ns.timeout, seed=ns.seed, warmup=ns.warmup, progress=progress,
                     run=done)  # fmt: skip
    except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM: keep what was measured, and promise no resume
        _save_interrupted(ns, done, stop)
        raise
    if ns.records:
        emit(done.records_text(), ns.records, "--records")
    text = perf_json(done) if ns.format == "json" else perf_table(done).markdown() if ns.format == "md" else perf_table(
        done, compact=True).terminal()  # fmt: skip
    emit(text, ns.out)
    measured = [r.ok + r.errors for r in done.levels]
    over = [r for r, n in zip(done.levels, measured, strict=True) if r.errors > ns.max_error_rate * n or not n]
    if over:
        worst = ", ".join(f"{r.level}: {r.errors}/{r.ok + r.errors} failed" + (f", {r.cut} cut at --max-seconds" if r.cut else "")
                          for r in over)  # fmt: skip
        first = over[0].first_error or f"no request finished within --max-seconds {ns.max_seconds:g}"
        print(f"error: errors above --max-error-rate {ns.max_error_rate:g} ({worst}; first: {first})", file=sys.stderr)
        return RESULT_SAYS_NO
    return 0


def _save_interrupted(ns: argparse.Namespace, done: object, stop: KeyboardInterrupt) -> None:
    """On Ctrl-C or SIGTERM: write the finished levels' records and table where asked, and say what was kept."""
    from harness.workflows.perf import PerfRun
    from harness.workflows.perf_report import perf_json, perf_table

    assert isinstance(done, PerfRun)
    saved = []
    if ns.records and done.records:
        emit(done.records_text(), ns.records, "--records")
        saved.append(f"{len(done.records)} request record(s) in {ns.records}")
    if done.levels:
        text = perf_json(done) if ns.format == "json" else perf_table(done).markdown() if ns.format == "md" else perf_table(
            done, compact=True).terminal()  # fmt: skip
        emit(text, ns.out)
        saved.insert(0, f"{len(done.levels)} finished level(s)" + (f" in {ns.out}" if ns.out else " above"))
    what = "; ".join(saved) if saved else "no level had finished, nothing was written"
    how = "terminated (SIGTERM)" if type(stop).__name__ == "Terminated" else "interrupted"
    print(f"{how}: perf stopped; {what}. perf does not resume: run it again to measure again", file=sys.stderr)
    stop.reported = True  # type: ignore[attr-defined]  # harness.cli.main prints no second line
