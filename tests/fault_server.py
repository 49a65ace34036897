"""A fault-injecting OpenAI-compatible server for the API backend's tests (127.0.0.1 only).

Plain asyncio HTTP/1.1 with keep-alive, so every fault is exact: the first attempt of a request
(identified by its body) draws a fault from its hash at the configured rates; later attempts
succeed, except requests whose text contains `PERMANENT`, which always get a 500. The server
counts requests in flight (from the request read until the answer is sent or the client has
gone) and keeps the maximum, so a test can check the client's concurrency limit.

With `leak` set to a secret, the server tries to leak it everywhere a server can put text: in
every reason phrase and in headers, in the model id, and, for requests whose text names a
marker, in a 200 answer without choices (`LEAK200`), a final 400 (`LEAK400`), a retried then
final 500 (`LEAK500`) and a reply (`LEAKREPLY`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

FAULTS = ("429", "500", "slow", "drop", "malformed")


def judge_score(answer: str) -> int:
    """The score (1-10) the server's judge gives an answer: a fixed function of its length."""
    return len(answer) % 10 + 1


def echo_logprob(token_id: int) -> float:
    """The log-probability the server gives every prompt token in echo mode: a fixed function of its id."""
    return -((token_id % 17) + 1) / 10


@dataclass
class FaultServer:
    """Start with `start()`; `url` is its /v1 base; `stop()` ends it."""

    rates: dict[str, float] = field(default_factory=dict)
    slow_seconds: float = 2.0
    latency: float = 0.0
    retry_after: str = "1"
    api_key: str | None = None
    chat_logprobs: bool = False
    echo_logprobs: bool = False
    judge_requests: int = 0
    judge_reply: Any = None  # a function (answer, prompt) -> reply text, for hostile or odd judges
    judge_prompts: list[str] = field(default_factory=list)
    stream_ttft: float = 0.2  # streamed replies: seconds before the first token, then per token, and how many tokens
    stream_tpot: float = 0.02
    stream_tokens: int = 20
    leak: str | None = None
    stream_mode: str = ""  # hostile streams: error_event, negative_usage, no_done, trickle (one byte per trickle_seconds)
    cold_seconds: float = 0.0  # added to the first streamed request's TTFT (a cold start that warm-up absorbs)
    reasoning_tokens: int = 0  # the first tokens of each streamed reply arrive as reasoning_content
    stream_payloads: list[dict[str, Any]] = field(default_factory=list)
    trickle_seconds: float = 0.5
    echo_headers: bool = False  # replies quote the request's Authorization header, as a careless proxy does
    in_flight: int = 0
    max_in_flight: int = 0
    attempts: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    port: int = 0

    def start(self) -> FaultServer:
        """Serve on a free loopback port from a daemon thread."""
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def main() -> None:
            self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            async with self._server:
                with contextlib.suppress(asyncio.CancelledError):
                    await self._server.serve_forever()

        self._thread = threading.Thread(target=lambda: self._loop.run_until_complete(main()), daemon=True)
        self._thread.start()
        assert ready.wait(10), "fault server did not start"
        return self

    def stop(self) -> None:
        """Close the listening socket and the loop's thread."""
        self._loop.call_soon_threadsafe(self._server.close)
        self._thread.join(5)

    @property
    def url(self) -> str:
        """Base URL of the API."""
        return f"http://127.0.0.1:{self.port}/v1"

    def _fault(self, body: bytes) -> str | None:
        digest = hashlib.sha256(body).hexdigest()
        self.attempts[digest] += 1
        if b"PERMANENT" in body:
            return "permanent"
        if self.attempts[digest] > 1:
            return None
        draw = int(digest[:8], 16) / 2**32
        edge = 0.0
        for name in FAULTS:
            edge += self.rates.get(name, 0.0)
            if draw < edge:
                return name
        return None

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if not await self._handle(method, path, headers, body, reader, writer):
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            return
        finally:
            writer.close()

    async def _handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one request; False when the connection is finished."""
        self.requests += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.api_key and headers.get("authorization") != f"Bearer {self.api_key}":
                return self._send(writer, 401, {"error": f"bad key {headers.get('authorization')}"})
            if method == "GET" and path == "/v1/models":
                name = f"fault-model-{self.leak}" if self.leak else "fault-model"
                return self._send(writer, 200, {"object": "list", "data": [{"id": name, "object": "model"}]})
            if self.leak and b"LEAK" in body:
                return self._send_leak(writer, body)
            fault = self._fault(body)
            if fault:
                self.faults[fault] += 1
            if fault == "permanent":
                return self._send(writer, 500, {"error": f"permanent failure for key {self.api_key}"})
            if fault == "429":
                return self._send(writer, 429, {"error": "slow down"}, {"Retry-After": self.retry_after})
            if fault == "500":
                return self._send(writer, 500, {"error": "internal"})
            if fault == "drop":
                writer.transport.abort()
                return False
            if fault == "slow":
                # Wait past the client's timeout, or until the client hangs up.
                await asyncio.wait([asyncio.ensure_future(reader.read(1))], timeout=self.slow_seconds)
                writer.transport.abort()
                return False
            if fault == "malformed":
                return self._send_raw(writer, 200, b'{"choices": [{"message": {"content": "trunc')
            await asyncio.sleep(self.latency)
            payload = json.loads(body)
            if payload.get("stream"):
                self.stream_payloads.append(payload)
                return await self._stream(writer, completions=path.endswith("/completions") and "chat" not in path)
            if self.stream_mode == "trickle":  # an answer whose body never ends: each read gets a byte in time
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                return await self._trickle(writer)
            answer = self._answer(path, payload)
            if self.echo_headers:
                said = f"you sent Authorization: {headers.get('authorization')} ({headers.get('authorization', '').split()[-1]})"
                for choice in answer.get("choices", []):
                    if "message" in choice:
                        choice["message"]["content"] = said
                    else:
                        choice["text"] = said
            return self._send(writer, 200, answer)
        finally:
            self.in_flight -= 1

    def _answer(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        usage = {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}
        if self.echo_logprobs and payload.get("echo") and path.endswith("/completions"):
            prompts = payload["prompt"] if payload["prompt"] and isinstance(payload["prompt"][0], list) else [payload["prompt"]]
            choices = [{"index": i, "text": "", "logprobs": {"token_logprobs": [None] + [echo_logprob(t) for t in p[1:]]}}
                       for i, p in enumerate(prompts)]  # fmt: skip
            return {"choices": choices, "usage": usage}
        if path.endswith("/completions") and "messages" not in payload:
            return {"choices": [{"index": 0, "text": f"reply to: {payload['prompt'][-20:]}"}], "usage": usage}
        question = payload["messages"][-1]["content"]
        if "Answer to grade:" in question or "\nBEGIN ANSWER #" in question:  # a judge request: score = a function of the answer
            self.judge_requests += 1
            self.judge_prompts.append(question)
            if "Answer to grade:" in question:  # default-v1: a "Score: N" line
                answer = question.split("Answer to grade:\n", 1)[1].split("\n\nRate the answer", 1)[0]
                reply = f"Rationale: graded by length.\nScore: {judge_score(answer)}"
            else:  # default-v2: the answer between markers that carry a code; a JSON verdict
                code = question.split("\nBEGIN ANSWER ", 1)[1].split("\n", 1)[0]
                answer = question.split(f"\nBEGIN ANSWER {code}\n", 1)[1].split(f"\nEND ANSWER {code}", 1)[0]
                reply = json.dumps({"reason": "graded by length.", "score": judge_score(answer)})
            if "UNPARSEABLE" in answer:
                reply = "I would rather not say."
            if self.judge_reply is not None:
                reply = self.judge_reply(answer, question)
            return {"choices": [{"index": 0, "message": {"role": "assistant", "content": reply}}], "usage": usage}
        if self.chat_logprobs and payload.get("logprobs"):
            top = [{"token": " B", "logprob": -0.1}, {"token": " A", "logprob": -2.5}, {"token": "A", "logprob": -3.0}]
            content = [
                {"token": "ANSWER", "logprob": -0.01, "top_logprobs": [{"token": "ANSWER", "logprob": -0.01}]},
                {"token": ":", "logprob": -0.01, "top_logprobs": [{"token": ":", "logprob": -0.01}]},
                {"token": " B", "logprob": -0.1, "top_logprobs": top},
            ]
            return {
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "ANSWER: B"}, "logprobs": {"content": content}}],
                "usage": usage,
            }
        if self.chat_logprobs is False and payload.get("logprobs"):
            return {"choices": [{"index": 0, "message": {"role": "assistant", "content": "A"}, "logprobs": None}], "usage": usage}
        return {"choices": [{"index": 0, "message": {"role": "assistant", "content": f"reply to: {question}"}}], "usage": usage}

    async def _stream(self, writer: asyncio.StreamWriter, completions: bool = False) -> bool:
        """A streamed chat completion (server-sent events, chunked): the first token after `stream_ttft`, then one per `stream_tpot`."""
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n")

        def event(obj: dict[str, Any] | str) -> None:
            data = ("data: " + (obj if isinstance(obj, str) else json.dumps(obj)) + "\n\n").encode()
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

        if self.stream_mode == "error_event":
            event({"error": {"message": "the model is overloaded", "code": 503}})
            event("[DONE]")
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            return True
        if self.stream_mode == "trickle":
            return await self._trickle(writer)
        cold, self.cold_seconds = self.cold_seconds, 0.0
        await asyncio.sleep(self.stream_ttft + cold)
        for i in range(self.stream_tokens):
            if i:
                await asyncio.sleep(self.stream_tpot)
            if completions:
                event({"choices": [{"index": 0, "text": f"tok{i} "}]})
            else:
                event({"choices": [{"index": 0, "delta": {"reasoning_content" if i < self.reasoning_tokens else "content": f"tok{i} "}}]})
            await writer.drain()
        tokens = -self.stream_tokens if self.stream_mode == "negative_usage" else self.stream_tokens
        event({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": tokens}})
        if self.stream_mode != "no_done":
            event("[DONE]")
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async def _trickle(self, writer: asyncio.StreamWriter) -> bool:
        """A byte at a time, forever (until the client hangs up): defeats a per-read timeout."""
        with contextlib.suppress(ConnectionError):
            for _ in range(10_000):  # bounded: about 80 minutes at the default pace
                writer.write(b"1\r\n \r\n")
                await writer.drain()
                await asyncio.sleep(self.trickle_seconds)
        return False

    def _send_leak(self, writer: asyncio.StreamWriter, body: bytes) -> bool:
        key = self.leak
        said = f"key Bearer {key} rejected; Authorization: Bearer {key}"
        if b"LEAK200" in body:
            return self._send(writer, 200, {"error": {"message": said, "key": key}})
        if b"LEAK400" in body:
            return self._send(writer, 400, {"error": {"message": said}}, {"WWW-Authenticate": f'Bearer realm="{key}"'})
        if b"LEAK500" in body:
            return self._send(writer, 500, {"error": {"message": said}}, {"X-Debug-Key": str(key)})
        reply = {"role": "assistant", "content": f"your key is {key}"}
        return self._send(writer, 200, {"choices": [{"index": 0, "message": reply}], "usage": {"prompt_tokens": 1, "completion_tokens": 1}})

    def _send(self, writer: asyncio.StreamWriter, status: int, obj: dict[str, Any], extra: dict[str, str] | None = None) -> bool:
        return self._send_raw(writer, status, json.dumps(obj).encode(), extra)

    def _send_raw(self, writer: asyncio.StreamWriter, status: int, body: bytes, extra: dict[str, str] | None = None) -> bool:
        reason = f"Denied {self.leak}" if self.leak else "X"
        head = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json", f"Content-Length: {len(body)}", "Connection: keep-alive"]
        head += [f"{k}: {v}" for k, v in (extra or {}).items()]
        if self.leak:
            head.append(f"X-Echo-Authorization: Bearer {self.leak}")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        return True
