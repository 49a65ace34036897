"""The load itself for `harness perf`: streamed requests, levels in flight or at a rate, each request's timings.

What perf measures, and how, is in harness.workflows.perf; this module sends the requests. Every time is the
running event loop's clock (`loop.time()`), every wait an asyncio wait, so the tests run it on a virtual-time
loop and check the arithmetic exactly.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.core.errors import UserError
from harness.core.redact import redact
from harness.workflows.perf_types import Level, LevelResult, RequestShape
from harness.workflows.stream_events import parse_event

__all__ = ["Progress", "Target", "run_level", "served_model", "warmup"]

Progress = Callable[[str, int, int], None]


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
class Target:
    """Where requests go and what they carry."""

    url: str
    auth: Any
    headers: dict[str, str]
    model: str
    shape: RequestShape
    timeout: float
    transport: Any = None  # an httpx transport in place of the network (tests: a server with planted timings)

    def client(self, connections: int) -> Any:
        """An httpx client with `connections` connections to the server (or the transport that stands in for it)."""
        import httpx

        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        return httpx.AsyncClient(base_url=self.url, headers=self.headers, auth=self.auth, limits=limits, timeout=self.timeout,
                                 transport=self.transport)  # fmt: skip


async def served_model(target: Target) -> str:
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


async def warmup(target: Target, prompts: Sequence[str]) -> list[_Sample]:
    """Requests sent one at a time before any level (connections, caches, compiled graphs warm); never counted."""
    async with target.client(1) as http:
        return [await _one(http, target.model, prompt, target.shape, target.timeout) for prompt in prompts]


async def run_level(target: Target, prompts: Sequence[str], level: Level, max_seconds: float, seed: int,
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
