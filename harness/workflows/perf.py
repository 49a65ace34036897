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
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import UserError
from harness.core.redact import read_api_key, redact, register_url_secrets, split_url_credentials
from harness.workflows.stream_events import parse_event

__all__ = ["OWN_FIELDS", "Level", "LevelResult", "PerfRun", "RequestShape", "load_prompts", "run_perf"]

MAX_REQUESTS = 10_000
_FILLER = ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "while", "the", "harness", "measures",
           "how", "fast", "the", "server", "answers"]  # fmt: skip


# Fields perf sets itself: --extra-body may not change them (the measurement depends on each). Every field that
# sets how many tokens are generated (or how many replies) is among them: its flag sets it, or nothing does.
OWN_FIELDS = ("model", "messages", "prompt", "stream", "stream_options", "max_tokens", "max_completion_tokens", "min_tokens",
              "ignore_eos", "n", "best_of")  # fmt: skip
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class RequestShape:
    """What every request sends besides its prompt: endpoint, output length controls, extra fields."""

    max_tokens: int = 64
    endpoint: str = "chat"  # or "completions"
    ignore_eos: bool = False
    min_tokens: int | None = None
    extra_body: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """`/chat/completions` or `/completions`."""
        return "/chat/completions" if self.endpoint == "chat" else "/completions"

    def payload(self, model: str, prompt: str) -> dict[str, Any]:
        """The request body for one prompt."""
        body: dict[str, Any] = {**self.extra_body, "model": model, "max_tokens": self.max_tokens,
                                "stream": True, "stream_options": {"include_usage": True}}  # fmt: skip
        body.setdefault("temperature", 0.0)
        if self.endpoint == "chat":
            body["messages"] = [{"role": "user", "content": prompt}]
        else:
            body["prompt"] = prompt
        if self.ignore_eos:
            body["ignore_eos"] = True
        if self.min_tokens is not None:
            body["min_tokens"] = self.min_tokens
        return body


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
    """What one level measured; timings in milliseconds.

    `requests` counts the requests sent (ok + errors + cut); `cut` were still running at `--max-seconds` (the
    harness's own limit, never a server error) and `unsent` were never sent because the level's time was up.
    """

    level: str
    requests: int
    ok: int
    errors: int
    seconds: float
    requests_per_s: float
    output_tokens_per_s: float
    input_tokens: int = 0
    output_tokens: int = 0
    input_tokens_per_s: float = 0.0
    total_tokens_per_s: float = 0.0
    ttft_ms: dict[str, float] = field(default_factory=dict)
    tpot_ms: dict[str, float] = field(default_factory=dict)
    itl_ms: dict[str, float] = field(default_factory=dict)
    e2e_ms: dict[str, float] = field(default_factory=dict)
    first_error: str | None = None
    cut: int = 0
    unsent: int = 0


@dataclass
class _Sample:
    start: float = 0.0
    ttft: float | None = None
    e2e: float = 0.0
    end: float = 0.0
    tokens: int = 0
    prompt_tokens: int = 0
    token_times: list[float] = field(default_factory=list)
    error: str | None = None
    cut: bool = False  # still running at --max-seconds: cut by perf itself, not an error of the server

    @property
    def status(self) -> str:
        """`ok`, `error` or `cut`."""
        return "cut" if self.cut else "ok" if self.error is None else "error"

    def record(self, level: str, index: int, level_start: float) -> dict[str, Any]:
        """One line of `--records`: times in milliseconds, `start_ms` from the level's start, token times from the request's."""
        ms = [round(1000 * t, 3) for t in self.token_times]
        return {"level": level, "request": index, "start_ms": round(1000 * (self.start - level_start), 3),
                "ttft_ms": round(1000 * self.ttft, 3) if self.ttft is not None else None, "token_times_ms": ms,
                "e2e_ms": round(1000 * self.e2e, 3), "tokens_in": self.prompt_tokens, "tokens_out": self.tokens,
                "status": self.status, "error": self.error}  # fmt: skip


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


def _now() -> float:
    """The running event loop's clock (time.monotonic() on a real loop; virtual time in the tests)."""
    return asyncio.get_running_loop().time()


async def _one(http: Any, model: str, prompt: str, shape: RequestShape, timeout: float, sample: _Sample | None = None) -> _Sample:
    """One streamed request, bounded as a whole by `timeout` seconds, filling `sample` as it goes.

    Cancelled (the level's `--max-seconds`), the sample is marked cut and the cancellation goes on to the caller.
    """
    sample = sample or _Sample()
    start = sample.start = _now()
    try:
        await asyncio.wait_for(_stream(http, model, prompt, shape, sample, start), timeout)
    except asyncio.TimeoutError:
        sample.error = f"no complete answer within {timeout:g} s (--timeout bounds the whole request)"
    except asyncio.CancelledError:
        sample.cut, sample.end = True, _now()
        sample.e2e = sample.end - start
        raise
    except Exception as exc:  # a dropped connection, a broken stream: counted, never retried
        sample.error = redact(f"{type(exc).__name__}: {exc}")[:160]
    sample.end = _now()
    sample.e2e = sample.end - start
    return sample


async def _stream(http: Any, model: str, prompt: str, shape: RequestShape, sample: _Sample, start: float) -> None:
    chunks, done = 0, False
    async with http.stream("POST", shape.path, json=shape.payload(model, prompt)) as response:
        if response.status_code != 200:
            body = (await response.aread()).decode("utf-8", "replace")
            sample.error = f"HTTP {response.status_code}: {redact(body)[:160]}"
            return
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            event = parse_event(line[5:], shape.max_tokens)
            if event.error:
                sample.error = event.error
                return
            if event.done:
                done = True
                break
            if event.usage is not None:
                sample.tokens = event.usage
            if event.prompt_tokens is not None:
                sample.prompt_tokens = event.prompt_tokens
            if event.token:
                chunks += 1
                sample.token_times.append(_now() - start)
                if sample.ttft is None:
                    sample.ttft = sample.token_times[0]
    if not done:
        sample.error = "the stream ended before [DONE]"
    elif not (sample.tokens or chunks):
        sample.error = "no token in the stream"
    sample.tokens = sample.tokens or chunks


@dataclass(frozen=True)
class _Target:
    """Where requests go and what they carry."""

    url: str
    auth: Any
    headers: dict[str, str]
    model: str
    shape: RequestShape
    timeout: float
    transport: Any = None  # an httpx transport in place of the network (tests: a server with planted timings)

    def client(self, connections: int) -> Any:
        import httpx

        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        return httpx.AsyncClient(base_url=self.url, headers=self.headers, auth=self.auth, limits=limits, timeout=self.timeout,
                                 transport=self.transport)  # fmt: skip


async def _served_model(target: _Target) -> str:
    """The server's first model (GET /v1/models); one line when the server does not answer with one."""
    fix = "is the server running? pass --model NAME to skip this call"
    try:
        async with target.client(1) as http:
            response = await asyncio.wait_for(http.get("/models"), target.timeout)
        body = response.json() if response.status_code == 200 else None
    except Exception as exc:  # no server, a refused connection, a reply that is not JSON
        raise UserError(f"{target.url}/models: {redact(type(exc).__name__ + ': ' + str(exc))[:160]} ({fix})") from None
    data = body.get("data") if isinstance(body, dict) else None
    first = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
    if not isinstance(first.get("id"), str) or not first["id"]:
        status = "no model listed" if response.status_code == 200 else f"HTTP {response.status_code}"
        raise UserError(f"{target.url}/models: {status} ({fix})")
    return redact(first["id"])


async def _warmup(target: _Target, prompts: Sequence[str]) -> list[_Sample]:
    """Requests sent one at a time before any level (connections, caches, compiled graphs warm); never counted."""
    async with target.client(1) as http:
        return [await _one(http, target.model, prompt, target.shape, target.timeout) for prompt in prompts]


async def _level(target: _Target, prompts: Sequence[str], level: Level, max_seconds: float, seed: int,
                 progress: Progress | None) -> tuple[LevelResult, list[dict[str, Any]]]:  # fmt: skip
    """One level: every request's sample is listed when it is sent, so a cut one keeps its start and partial timings."""
    model, shape, timeout = target.model, target.shape, target.timeout
    sent: list[_Sample] = []
    done = 0
    started = _now()
    deadline = started + max_seconds

    async def request(prompt: str) -> None:
        nonlocal done
        sample = _Sample()
        sent.append(sample)
        await _one(http, model, prompt, shape, timeout, sample)
        done += 1
        if progress:
            progress(level.label, done, len(prompts))

    async with target.client(level.concurrency or 1024) as http:
        if level.concurrency:
            queue = iter(prompts)

            async def worker() -> None:
                for prompt in queue:
                    if _now() >= deadline:
                        return
                    await request(prompt)

            tasks = [asyncio.ensure_future(worker()) for _ in range(min(level.concurrency, len(prompts)))]
        else:
            rng = random.Random(seed)
            tasks = []
            for n, prompt in enumerate(prompts):
                tasks.append(asyncio.ensure_future(request(prompt)))
                if n + 1 == len(prompts):
                    break  # no wait after the last arrival: it would only pad the level's duration
                gap = rng.expovariate(level.rate or 1.0)
                if _now() + gap >= deadline:
                    break
                await asyncio.sleep(gap)
        await _until(deadline, tasks)
    summary = _summary(level.label, sent, started, _now(), len(prompts) - len(sent))
    return summary, [r.record(level.label, i, started) for i, r in enumerate(sent)]


def _summary(label: str, results: Sequence[_Sample], started: float, now: float, unsent: int = 0) -> LevelResult:
    """A level's figures from its requests: only successful ones are timed and counted as throughput; cut ones apart."""
    ends = [r.end for r in results]
    seconds = (max(ends) if ends else now) - started
    ok = [r for r in results if r.status == "ok"]
    errors = [r for r in results if r.status == "error"]
    out_tokens, in_tokens = sum(r.tokens for r in ok), sum(r.prompt_tokens for r in ok)
    tpot = [(r.e2e - r.ttft) / (r.tokens - 1) for r in ok if r.ttft is not None and r.tokens > 1]
    itl = [b - a for r in ok for a, b in zip(r.token_times, r.token_times[1:], strict=False)]

    def per_s(x: float) -> float:
        return x / seconds if seconds else 0.0

    return LevelResult(
        level=label, requests=len(results), ok=len(ok), errors=len(errors), seconds=seconds, cut=len(results) - len(ok) - len(errors),
        unsent=unsent,
        requests_per_s=per_s(len(ok)), output_tokens_per_s=per_s(out_tokens), input_tokens=in_tokens, output_tokens=out_tokens,
        input_tokens_per_s=per_s(in_tokens), total_tokens_per_s=per_s(in_tokens + out_tokens),
        ttft_ms=_percentiles([r.ttft for r in ok if r.ttft is not None]), tpot_ms=_percentiles(tpot), itl_ms=_percentiles(itl),
        e2e_ms=_percentiles([r.e2e for r in ok]), first_error=next((r.error for r in errors), None),
    )  # fmt: skip


async def _until(deadline: float, tasks: Sequence[asyncio.Future[Any]]) -> None:
    """Wait for `tasks`, cancelling what still runs at `deadline` (each request then records itself as cut)."""
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=max(0.0, deadline - _now()))
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


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
    target = _Target(url, auth, headers, model or "", shape or RequestShape(), timeout, transport)
    if not model:
        model = _run_in_loop(_served_model(target), loop_factory)
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
