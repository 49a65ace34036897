"""The HTTP side of the API backend: bounded-concurrency JSON requests with retries.

Real servers answer 429 when busy (with `Retry-After`), 5xx while restarting, time out under load,
drop keep-alive connections and, behind broken proxies, return truncated bodies. Each of those is
retried with exponential backoff and full jitter (AWS's "full jitter": sleep a uniform share of
the capped exponential), never sooner than the server's `Retry-After`; other 4xx answers are final.
A request that still fails becomes a `Failure` for its own sample: one bad sample never stops a run.
The API key travels only in the `Authorization` header; every error text passes through
`harness.core.redact` before it leaves this module.
"""

from __future__ import annotations

import asyncio
import json
import queue
import random
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from harness.core.redact import add_secret, redact, split_url_credentials

__all__ = ["ApiClient", "Failure", "RetryPolicy"]

RETRY_STATUS = frozenset({408, 409, 425, 429}) | frozenset(range(500, 600))


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait for one answer and how to retry: attempts, backoff base and cap (seconds)."""

    timeout: float = 120.0
    max_retries: int = 6
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 120.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds before retry number `attempt` (0-based): full jitter, at least `Retry-After`."""
        backoff = rng.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))
        if retry_after is None:
            return backoff
        return max(min(retry_after, self.retry_after_max), backoff)


@dataclass(frozen=True)
class Failure:
    """A request that failed for good: the last error and how many attempts were made."""

    error: str
    attempts: int


def _excerpt(text: str, limit: int) -> str:
    """The start of a server's text, redacted before it is cut (a cut key would leak its first characters)."""
    return redact(text)[:limit]


def _retry_after(value: str | None) -> float | None:
    """`Retry-After` as seconds: delta-seconds (fractions accepted) or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class ApiClient:
    """POST/GET JSON to one OpenAI-compatible server with at most `concurrency` requests in flight."""

    def __init__(self, base_url: str, *, api_key: str | None, concurrency: int, policy: RetryPolicy, seed: int = 0) -> None:
        """No connection is opened here; each `run` call opens and closes its own pool.

        Credentials in the URL (`http://user:KEY@host/v1`) are sent as HTTP basic auth and kept
        out of `base_url`, which is what the rest of the harness sees and records.
        """
        url, self._basic_auth = split_url_credentials(base_url.rstrip("/"))
        self.base_url = url
        self.api_key = api_key
        add_secret(api_key)
        self.concurrency = concurrency
        self.policy = policy
        self.rng = random.Random(seed)
        self.retries = 0

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def get(self, path: str) -> dict[str, Any] | Failure:
        """One GET, with the same retries as `post_all`."""
        return next(self.stream([("GET", path, None)]))[1]

    def post_all(self, path: str, payloads: Sequence[dict[str, Any]]) -> list[dict[str, Any] | Failure]:
        """POST each payload to `path` concurrently; answers in payload order."""
        out: list[dict[str, Any] | Failure | None] = [None] * len(payloads)
        for i, answer in self.stream([("POST", path, p) for p in payloads]):
            out[i] = answer
        return [a for a in out if a is not None]

    def stream(self, calls: Sequence[tuple[str, str, dict[str, Any] | None]]) -> Iterator[tuple[int, dict[str, Any] | Failure]]:
        """Yield `(index, answer)` for each call as its answer arrives, with at most `concurrency` in flight.

        The requests run on an event loop in a thread of their own, so this works from plain code
        and from inside a running loop (a notebook) alike. Stopping early (an exception, Ctrl-C in
        the caller) stops new requests from being sent.
        """
        answers: queue.Queue[tuple[int, dict[str, Any] | Failure] | BaseException] = queue.Queue()
        stop = threading.Event()
        thread = threading.Thread(target=lambda: self._serve(calls, answers, stop), name="harness-api", daemon=True)
        thread.start()
        try:
            for _ in range(len(calls)):
                item = answers.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            thread.join(timeout=self.policy.timeout + 5)

    def _serve(self, calls: Sequence[tuple[str, str, dict[str, Any] | None]], answers: queue.Queue[Any], stop: threading.Event) -> None:
        try:
            asyncio.run(self._workers(calls, answers, stop))
        except BaseException as exc:  # handed to the consuming thread
            answers.put(exc)

    async def _workers(
        self, calls: Sequence[tuple[str, str, dict[str, Any] | None]], answers: queue.Queue[Any], stop: threading.Event
    ) -> None:
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        gate = asyncio.Semaphore(self.concurrency)
        pending = iter(range(len(calls)))

        async def worker(http: httpx.AsyncClient) -> None:
            for i in pending:  # one shared iterator: each call is taken by exactly one worker
                if stop.is_set():
                    return
                answers.put((i, await self._call(http, gate, *calls[i])))

        async with httpx.AsyncClient(
            base_url=self.base_url, headers=self._headers(), auth=self._basic_auth, limits=limits, timeout=self.policy.timeout
        ) as http:
            # More workers than connections: a worker waiting out a backoff does not leave a connection idle.
            await asyncio.gather(*(worker(http) for _ in range(min(4 * self.concurrency, len(calls)))))

    async def _call(
        self, http: httpx.AsyncClient, gate: asyncio.Semaphore, method: str, path: str, payload: dict[str, Any] | None
    ) -> dict[str, Any] | Failure:
        error = ""
        for attempt in range(self.policy.max_retries + 1):
            retry_after: float | None = None
            async with gate:
                try:
                    # A deadline for the whole request: httpx's timeout bounds each read, so a server that
                    # trickles a byte at a time could otherwise hold a request (and the run) for minutes.
                    response = await asyncio.wait_for(http.request(method, path, json=payload), self.policy.timeout)
                except (httpx.TimeoutException, asyncio.TimeoutError):
                    error = f"no complete answer within {self.policy.timeout:g} s"
                except httpx.TransportError as exc:
                    error = f"connection error: {type(exc).__name__}: {exc}"
                else:
                    if response.status_code == 200:
                        try:
                            body = response.json()
                        except (json.JSONDecodeError, UnicodeDecodeError):
                            body = None
                        if isinstance(body, dict):
                            return body
                        error = f"malformed JSON in a 200 answer: {_excerpt(response.text, 80)!r}"
                    else:
                        error = f"HTTP {response.status_code}: {_excerpt(response.text, 200)}"
                        if response.status_code not in RETRY_STATUS:
                            return Failure(redact(error), attempt + 1)
                        retry_after = _retry_after(response.headers.get("retry-after"))
            if attempt < self.policy.max_retries:
                self.retries += 1
                await asyncio.sleep(self.policy.delay(attempt, retry_after, self.rng))
        return Failure(redact(error), self.policy.max_retries + 1)
