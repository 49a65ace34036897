"""Virtual time for perf's tests: an event loop whose clock jumps to the next timer, and a server with planted timings.

The loop's `time()` is a counter that moves only when every task is waiting on a timer: then it jumps to
the earliest one. Nothing sleeps, so a run of "20 tokens at 20 ms each" takes microseconds and measures
exactly 20 ms per token however busy the machine is. The planted server is an httpx transport in the same
loop (no socket), so no real I/O can make virtual time run ahead of the bytes.
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, field
from typing import Any

import httpx


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock advances only by jumping to the next scheduled timer."""

    def __init__(self) -> None:
        super().__init__()
        self._virtual_now = 0.0
        real = self._selector
        loop = self

        class Selector:
            def select(self, timeout: float | None = None) -> list[Any]:
                events = real.select(0)
                if not events and timeout is not None and timeout > 0:
                    loop._virtual_now += timeout  # nothing ready: the next timer is due now
                elif not events and timeout is None:
                    events = real.select(None)
                return events

            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

        self._selector = Selector()

    def time(self) -> float:
        return self._virtual_now


@dataclass
class PlantedServer:
    """An OpenAI-compatible streaming server (httpx transport) whose timings are planted in virtual time.

    Streamed replies: the first token `ttft` seconds after the request (plus `cold` once), then one token
    every `tpot`; `rates` of HTTP 500 drawn per request (seeded). `mode`: "" (well formed), "trickle" (one byte
    every `trickle` seconds, forever), "no_done". Counts requests, in flight, and keeps the bodies sent.
    """

    ttft: float = 0.25
    tpot: float = 0.02
    tokens: int = 20
    prompt_tokens: int = 5
    cold: float = 0.0
    reasoning_tokens: int = 0
    rates: dict[str, float] = field(default_factory=dict)
    mode: str = ""
    trickle: float = 0.2
    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    errors: int = 0
    bodies: list[dict[str, Any]] = field(default_factory=list)
    seed: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if request.method == "GET":
            return httpx.Response(200, json={"data": [{"id": "planted-model"}]})
        body = json.loads(request.content)
        self.bodies.append(body)
        if self._rng.random() < self.rates.get("500", 0.0):
            self.errors += 1
            return httpx.Response(500, json={"error": "internal"})
        completions = request.url.path.endswith("/completions") and "chat" not in request.url.path
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=self._stream(completions))

    async def _stream(self, completions: bool):  # noqa: ANN202
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        done = False
        try:
            if self.mode == "trickle":
                while True:
                    await asyncio.sleep(self.trickle)
                    yield b" "
            cold, self.cold = self.cold, 0.0
            await asyncio.sleep(self.ttft + cold)
            for i in range(self.tokens):
                if i:
                    await asyncio.sleep(self.tpot)
                if completions:
                    event: dict[str, Any] = {"choices": [{"index": 0, "text": f"tok{i} "}]}
                else:
                    key = "reasoning_content" if i < self.reasoning_tokens else "content"
                    event = {"choices": [{"index": 0, "delta": {key: f"tok{i} "}}]}
                yield f"data: {json.dumps(event)}\n\n".encode()
            usage = {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.tokens}
            done, self.in_flight = True, self.in_flight - 1  # the reply is complete: the client may stop reading here
            yield f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n".encode()
            if self.mode != "no_done":
                yield b"data: [DONE]\n\n"
        finally:
            if not done:
                self.in_flight -= 1
