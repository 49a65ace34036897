"""`harness perf`: load-test an OpenAI-compatible endpoint: throughput, time to first token, time per token, latency.

Requests are streamed chat completions (`stream: true`; or `/v1/completions` with `--endpoint
completions`), so the time to first token (TTFT) is the arrival of the first generated token (content,
or reasoning content); time per output token (TPOT) is the rest of the response divided by the tokens
after the first; inter-token latency (ITL) is each gap between streamed chunks, pooled over requests
(as `vllm bench serve` reports it); end-to-end latency is the last byte. Output and input tokens are the
server's `usage` when it reports them (`stream_options.include_usage`), else the content chunks (and 0
input tokens). `--ignore-eos` and `--min-tokens` fix the output length (vLLM's sampling extensions), and
`--extra-body` adds any other request fields. `--warmup` requests go first and are not counted.

Each load level is either a number of requests kept in flight (`--concurrency`) or an arrival rate
(`--rate`, Poisson, seeded) and sends `--requests` requests, stopping early at `--max-seconds`.
Requests are sent only to the URL given, and never retried: an error is counted. `--timeout` is a
deadline for the whole request (a server that trickles bytes cannot stretch it), and `--max-seconds`
bounds each level's wall time whatever the rate: requests still in flight then are cut (counted as
`cut`: the harness's own limit, not a server error) and requests not yet sent are counted as `unsent`.
A request is OK only when its stream is well formed (`stream_events`). A level's duration ends at its
last completion.

Every time is read from the event loop's clock (`loop.time()`), and every wait is an asyncio wait, so
the tests run perf on a virtual-time loop and check its arithmetic exactly; the real loop's clock is
`time.monotonic()`.

Prompts come from a general_qa folder or JSONL file (`--prompts`), or are synthetic (`--prompt-words`
words of filler text). Results: a table (`--format table|md|json`) with p50/p90/p99 of each timing,
and with `--records FILE` one JSON line per request (level, start, TTFT, each token's arrival, tokens in
and out, status), so any other statistic can be computed afterwards.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import UserError
from harness.core.redact import read_api_key, register_url_secrets, split_url_credentials
from harness.workflows.perf_load import Progress, Target, served_model
from harness.workflows.perf_load import run_level as _level
from harness.workflows.perf_load import warmup as _warmup
from harness.workflows.perf_types import OWN_FIELDS, Level, LevelResult, RequestShape

__all__ = ["OWN_FIELDS", "Level", "LevelResult", "PerfRun", "RequestShape", "load_prompts", "run_perf"]  # the types re-exported

MAX_REQUESTS = 10_000
_FILLER = ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "while", "the", "harness", "measures",
           "how", "fast", "the", "server", "answers"]  # fmt: skip


def load_prompts(source: str | None, words: int, count: int) -> list[str]:
    """`count` prompts: the queries of a general_qa folder or JSONL file (cycled), or synthetic text of `words` words."""
    if source is None:
        return [" ".join(_FILLER[(i + k) % len(_FILLER)] for k in range(words)) + f" ({i})" for i in range(count)]
    from harness.engine.config import EvalConfig
    from harness.engine.plan import prepare_tasks
    from harness.tasks.modes import ScoringMode

    path = Path(source)
    folder, subsets = (path.parent, [path.stem]) if path.suffix == ".jsonl" else (path, None)
    args: dict[str, Any] = {"local_path": str(folder)}
    if subsets:
        args["subset_list"] = subsets
    (task,) = prepare_tasks(EvalConfig(datasets=("general_qa",), dataset_args={"general_qa": args}), ScoringMode.GENERATE)
    queries = [s.messages[-1]["content"] for s in task.loaded.samples]
    return [queries[i % len(queries)] for i in range(count)]


LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def _run_in_loop(coro: Any, loop_factory: LoopFactory | None) -> Any:
    """`asyncio.run` on a loop of our choosing (a virtual-time loop in the tests; Python 3.10 has no `loop_factory`)."""
    if loop_factory is None:
        return asyncio.run(coro)
    loop = loop_factory()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def run_perf(
    api_url: str,
    *,
    levels: Sequence[Level],
    prompts: Sequence[str],
    model: str | None = None,
    api_key_env: str | None = None,
    shape: RequestShape | None = None,
    max_seconds: float = 120.0,
    timeout: float = 120.0,
    seed: int = 0,
    warmup: int = 1,
    progress: Progress | None = None,
    run: PerfRun | None = None,
    transport: Any = None,
    loop_factory: LoopFactory | None = None,
) -> PerfRun:
    """Warm up with `warmup` requests (not counted), then run each level: `len(prompts)` requests, or until `max_seconds`.

    Levels and records are added to `run` (when given) as each level finishes, so a caller that is
    interrupted still holds every finished level. `transport` and `loop_factory` replace the network and
    the event loop (the tests plant timings in virtual time).
    """
    if not prompts or len(prompts) > MAX_REQUESTS:
        raise UserError(f"perf: --requests must be from 1 to {MAX_REQUESTS}")
    base = api_url.rstrip("/")
    register_url_secrets(base)
    url, auth = split_url_credentials(base if base.endswith("/v1") else base + "/v1")
    headers: dict[str, str] = {}
    key = read_api_key(api_key_env)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    target = Target(url, auth, headers, model or "", shape or RequestShape(), timeout, transport)
    if not model:
        model = _run_in_loop(served_model(target), loop_factory)
        target = dataclasses.replace(target, model=model)
    run = run or PerfRun(model, url, target.shape)
    run.model, run.url, run.shape = model, url, target.shape
    warm = _run_in_loop(_warmup(target, [prompts[i % len(prompts)] for i in range(warmup)]), loop_factory) if warmup else []
    run.warmup, run.warmup_errors = len(warm), sum(s.status != "ok" for s in warm)
    run.records += [{**s.record("warm-up", i, s.start), "warmup": True} for i, s in enumerate(warm)]
    for level in levels:
        result, records = _run_in_loop(_level(target, prompts, level, max_seconds, seed, progress), loop_factory)
        run.levels.append(result)
        run.records += records
    return run


@dataclass
class PerfRun:
    """A whole `harness perf`: the model and endpoint measured, what each request sent, each level, each request."""

    model: str
    url: str
    shape: RequestShape
    warmup: int = 0
    warmup_errors: int = 0
    levels: list[LevelResult] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)

    def records_text(self) -> str:
        """`--records`: one JSON line per request, warm-up included (flagged)."""
        return "".join(json.dumps(r) + "\n" for r in self.records)
