"""`harness perf`: load-test an OpenAI-compatible endpoint: throughput, time to first token, time per token, latency.

Requests are streamed chat completions (`stream: true`), so the time to first token (TTFT) is the
arrival of the first generated token (content, or reasoning content); time per output token (TPOT) is the rest of the response
divided by the tokens after the first; end-to-end latency is the last byte. Output tokens are the
server's `usage.completion_tokens` when it reports them (`stream_options.include_usage`), else the
content chunks. Each load level is either a number of requests kept in flight (`--concurrency`)
or an arrival rate (`--rate`, Poisson, seeded) and sends `--requests` requests, stopping early at
`--max-seconds`. Requests are sent only to the URL given, and never retried: an error is counted.
`--timeout` is a deadline for the whole request (a server that trickles bytes cannot stretch it), and
`--max-seconds` bounds each level's wall time whatever the rate: requests still in flight then are
cut and counted as errors. A request is OK only when its stream is well formed (`stream_events`).
A level's duration ends at its last completion.

Prompts come from a general_qa folder or JSONL file (`--prompts`), or are synthetic (`--prompt-words`
words of filler text). Results: a table (`--format table|md|json`) with p50/p90/p99 of each timing.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import UserError
from harness.core.redact import read_api_key, redact, register_url_secrets, split_url_credentials
from harness.reports.tables import Column, Table
from harness.workflows.stream_events import parse_event

__all__ = ["Level", "LevelResult", "load_prompts", "perf_json", "perf_table", "run_perf"]

MAX_REQUESTS = 10_000
_FILLER = ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "while", "the", "harness", "measures",
           "how", "fast", "the", "server", "answers"]  # fmt: skip


@dataclass(frozen=True)
class Level:
    """One load level: `concurrency` requests in flight, or a Poisson arrival `rate` per second."""

    concurrency: int | None = None
    rate: float | None = None

    @property
    def label(self) -> str:
        """`concurrency 4` or `rate 2.0/s`."""
        return f"concurrency {self.concurrency}" if self.concurrency else f"rate {self.rate:g}/s"


@dataclass
class LevelResult:
    """What one level measured; timings in milliseconds."""

    level: str
    requests: int
    ok: int
    errors: int
    seconds: float
    requests_per_s: float
    output_tokens_per_s: float
    ttft_ms: dict[str, float] = field(default_factory=dict)
    tpot_ms: dict[str, float] = field(default_factory=dict)
    e2e_ms: dict[str, float] = field(default_factory=dict)
    first_error: str | None = None


@dataclass
class _Sample:
    ttft: float | None = None
    e2e: float = 0.0
    end: float = 0.0
    tokens: int = 0
    error: str | None = None


def _percentiles(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> float:  # linear interpolation, as numpy's default
        pos = (len(ordered) - 1) * q
        low = int(pos)
        high = min(low + 1, len(ordered) - 1)
        return 1000 * (ordered[low] + (ordered[high] - ordered[low]) * (pos - low))

    return {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99)}


def load_prompts(source: str | None, words: int, count: int) -> list[str]:
    """`count` prompts: the queries of a general_qa folder or JSONL file (cycled), or synthetic text of `words` words."""
    if source is None:
        return [" ".join(_FILLER[(i + k) % len(_FILLER)] for k in range(words)) + f" ({i})" for i in range(count)]
    from harness.engine.config import EvalConfig
    from harness.engine.plan import prepare_tasks

    path = Path(source)
    folder, subsets = (path.parent, [path.stem]) if path.suffix == ".jsonl" else (path, None)
    args: dict[str, Any] = {"local_path": str(folder)}
    if subsets:
        args["subset_list"] = subsets
    (task,) = prepare_tasks(EvalConfig(datasets=("general_qa",), dataset_args={"general_qa": args}), "generate")
    queries = [s.messages[-1]["content"] for s in task.loaded.samples]
    return [queries[i % len(queries)] for i in range(count)]


async def _one(http: Any, model: str, prompt: str, max_tokens: int, timeout: float) -> _Sample:
    """One streamed request, bounded as a whole by `timeout` seconds."""
    sample = _Sample()
    start = time.perf_counter()
    try:
        await asyncio.wait_for(_stream(http, model, prompt, max_tokens, sample, start), timeout)
    except asyncio.TimeoutError:
        sample.error = f"no complete answer within {timeout:g} s (--timeout bounds the whole request)"
    except asyncio.CancelledError:
        sample.error = "still running at --max-seconds (cut)"
    except Exception as exc:  # a dropped connection, a broken stream: counted, never retried
        sample.error = redact(f"{type(exc).__name__}: {exc}")[:160]
    sample.end = time.perf_counter()
    sample.e2e = sample.end - start
    return sample


async def _stream(http: Any, model: str, prompt: str, max_tokens: int, sample: _Sample, start: float) -> None:
    payload = {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens, "temperature": 0.0,
               "stream": True, "stream_options": {"include_usage": True}}  # fmt: skip
    chunks, done = 0, False
    async with http.stream("POST", "/chat/completions", json=payload) as response:
        if response.status_code != 200:
            body = (await response.aread()).decode("utf-8", "replace")
            sample.error = f"HTTP {response.status_code}: {redact(body)[:160]}"
            return
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            event = parse_event(line[5:], max_tokens)
            if event.error:
                sample.error = event.error
                return
            if event.done:
                done = True
                break
            if event.usage is not None:
                sample.tokens = event.usage
            if event.token:
                chunks += 1
                if sample.ttft is None:
                    sample.ttft = time.perf_counter() - start
    if not done:
        sample.error = "the stream ended before [DONE]"
    elif not (sample.tokens or chunks):
        sample.error = "no token in the stream"
    sample.tokens = sample.tokens or chunks


async def _level(url: str, auth: Any, headers: dict[str, str], model: str, prompts: Sequence[str], level: Level,
                 max_tokens: int, deadline: float, timeout: float, seed: int) -> LevelResult:  # fmt: skip
    import httpx

    limit = level.concurrency or 1024
    limits = httpx.Limits(max_connections=limit, max_keepalive_connections=limit)
    results: list[_Sample] = []
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, headers=headers, auth=auth, limits=limits, timeout=timeout) as http:
        if level.concurrency:
            queue = iter(prompts)

            async def worker() -> None:
                for prompt in queue:
                    if time.perf_counter() > deadline:
                        return
                    results.append(await _one(http, model, prompt, max_tokens, timeout))

            workers = [asyncio.ensure_future(worker()) for _ in range(min(level.concurrency, len(prompts)))]
            await _until(deadline, workers)
        else:
            rng = random.Random(seed)
            tasks: list[asyncio.Future[_Sample]] = []
            for n, prompt in enumerate(prompts):
                tasks.append(asyncio.ensure_future(_one(http, model, prompt, max_tokens, timeout)))
                if n + 1 == len(prompts):
                    break  # no wait after the last arrival: it would only pad the level's duration
                gap = rng.expovariate(level.rate or 1.0)
                if time.perf_counter() + gap > deadline:
                    break
                await asyncio.sleep(gap)
            await _until(deadline, tasks)
            cut = _Sample(error="still running at --max-seconds (cut)", end=deadline)
            results.extend(cut if t.cancelled() else t.result() for t in tasks)
    ends = [r.end for r in results]
    seconds = (max(ends) if ends else time.perf_counter()) - started
    ok = [r for r in results if r.error is None]
    tokens = sum(r.tokens for r in ok)
    tpot = [(r.e2e - r.ttft) / (r.tokens - 1) for r in ok if r.ttft is not None and r.tokens > 1]
    return LevelResult(
        level=level.label, requests=len(results), ok=len(ok), errors=len(results) - len(ok), seconds=seconds,
        requests_per_s=len(ok) / seconds if seconds else 0.0, output_tokens_per_s=tokens / seconds if seconds else 0.0,
        ttft_ms=_percentiles([r.ttft for r in ok if r.ttft is not None]), tpot_ms=_percentiles(tpot),
        e2e_ms=_percentiles([r.e2e for r in ok]), first_error=next((r.error for r in results if r.error), None),
    )  # fmt: skip


async def _until(deadline: float, tasks: Sequence[asyncio.Future[Any]]) -> None:
    """Wait for `tasks`, cancelling what still runs at `deadline` (each request then records itself as cut)."""
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=max(0.0, deadline - time.perf_counter()))
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


def run_perf(
    api_url: str,
    *,
    levels: Sequence[Level],
    prompts: Sequence[str],
    model: str | None = None,
    api_key_env: str | None = None,
    max_tokens: int = 64,
    max_seconds: float = 120.0,
    timeout: float = 120.0,
    seed: int = 0,
) -> tuple[str, str, list[LevelResult]]:
    """(model name, endpoint without credentials, one result per level).

    Each level sends `len(prompts)` requests, or stops at `max_seconds`.
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
    if not model:
        from harness.backends.api.client import ApiClient, Failure, RetryPolicy

        answer = ApiClient(url, api_key=key, concurrency=1, policy=RetryPolicy(timeout, 1)).get("/models")
        if isinstance(answer, Failure):
            raise UserError(f"{url}/models: {answer.error} (is the server running? pass --model NAME to skip this call)")
        model = redact(str((answer.get("data") or [{}])[0].get("id", "")))
    results = []
    for level in levels:
        deadline = time.perf_counter() + max_seconds
        results.append(asyncio.run(_level(url, auth, headers, model, prompts, level, max_tokens, deadline, timeout, seed)))
    return model, url, results


def perf_table(model: str, url: str, results: Sequence[LevelResult]) -> Table:
    """One row per level."""
    columns = [Column("Level"), Column("OK", numeric=True), Column("Errors", numeric=True), Column("req/s", numeric=True),
               Column("out tok/s", numeric=True), Column("TTFT p50/p90/p99 ms", numeric=True), Column("TPOT p50/p90/p99 ms", numeric=True),
               Column("E2E p50/p90/p99 ms", numeric=True, drop=1)]  # fmt: skip

    def triple(values: dict[str, float]) -> str:
        return "/".join(f"{values[k]:.0f}" if values[k] >= 10 else f"{values[k]:.1f}" for k in ("p50", "p90", "p99")) if values else "-"

    rows = [[r.level, str(r.ok), str(r.errors), f"{r.requests_per_s:.2f}", f"{r.output_tokens_per_s:.1f}", triple(r.ttft_ms),
             triple(r.tpot_ms), triple(r.e2e_ms)] for r in results]  # fmt: skip
    notes = [f"{r.level}: first error: {r.first_error}" for r in results if r.first_error]
    notes.append("TTFT: time to the first streamed token; TPOT: time per output token after the first; E2E: request start to last byte.")
    return Table(columns, rows, title="Serving performance", preamble=[f"Endpoint: {url}, model {model}"], notes=notes)


def perf_json(model: str, url: str, results: Sequence[LevelResult]) -> str:
    """The results as JSON."""
    return json.dumps({"endpoint": url, "model": model, "levels": [asdict(r) for r in results]}, indent=2) + "\n"
