"""The API backend against a fault-injecting local server: retries, failures, concurrency, key handling."""

from __future__ import annotations

import json
import math
import random
import socket

import pytest
from conftest import write
from fault_server import FaultServer

pytest.importorskip("httpx")

from harness.backends.api.client import RetryPolicy, _retry_after  # noqa: E402
from harness.backends.api.replies import ABSENT_LOGPROB, letter_logprobs  # noqa: E402
from harness.cli.main import main  # noqa: E402
from harness.tasks import EXAMPLE_DATA  # noqa: E402

KEY = "sk-test-5ecret-4f9a"
N = 200
PERMANENT = (7, 77, 177)


@pytest.fixture
def server():
    srv = FaultServer().start()
    yield srv
    srv.stop()


def qa_folder(tmp_path):
    lines = []
    for i in range(N):
        marker = " PERMANENT" if i in PERMANENT else ""
        lines.append(json.dumps({"query": f"question {i}{marker}", "response": f"reply to: question {i}"}))
    write(tmp_path / "qa", "faults.jsonl", "\n".join(lines) + "\n")
    return tmp_path / "qa"


def api_eval(server, tmp_path, *extra):
    args = ["eval", "--backend", "api", "--api-url", server.url, "--datasets", "general_qa", "--output", str(tmp_path / "out")]
    args += ["--dataset-args", json.dumps({"general_qa": {"local_path": str(qa_folder(tmp_path))}})]
    return main([*args, *extra])


def test_200_requests_survive_every_fault(server, tmp_path, capsys, monkeypatch):
    server.rates = {"429": 0.1, "500": 0.1, "slow": 0.05, "drop": 0.1, "malformed": 0.05}
    # A "slow" fault holds the reply past the client's --timeout; a healthy reply arrives at once, and the 3 s timeout
    # is far above it even on a busy machine, so no healthy request is timed out (and retried) by chance.
    server.api_key, server.latency, server.slow_seconds = KEY, 0.02, 10.0
    monkeypatch.setenv("HARNESS_TEST_KEY", KEY)
    flags = ("--api-key-env", "HARNESS_TEST_KEY", "--concurrency", "8", "--timeout", "3", "--max-retries", "3")
    code = api_eval(server, tmp_path, *flags)
    out, err = capsys.readouterr()
    print(f"faults {dict(server.faults)}, {server.requests} requests, max in flight {server.max_in_flight}")

    # Every kind of fault happened, none crashed the run, and the concurrency limit held.
    assert all(server.faults[f] > 0 for f in ("429", "500", "slow", "drop", "malformed"))
    assert 6 <= server.max_in_flight <= 8
    # Bounded: 200 first attempts, one retry per transient fault, 4 attempts per permanent failure,
    # and 2 probes at start (GET /v1/models, then whether chat completions return log-probs).
    transient = sum(server.faults[f] for f in ("429", "500", "slow", "drop", "malformed"))
    assert server.requests == 2 + N + transient + 3 * len(PERMANENT)

    (run_dir,) = (tmp_path / "out").iterdir()
    records = {r["index"]: r for r in map(json.loads, (run_dir / "samples.jsonl").read_text().splitlines())}
    for i, rec in records.items():
        if i in PERMANENT:
            assert rec["failed"] and rec["scores"] == {} and rec["prediction"] is None
            assert "HTTP 500" in rec["error"] and "***" in rec["error"]
        else:
            assert not rec.get("failed") and rec["prediction"] == f"reply to: question {i}"
            assert rec["scores"]["Rouge-L-F"] == pytest.approx(1.0)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["tasks"]["general_qa"]["failed"] == 3
    assert results["usage"] == {"prompt_tokens": 10 * (N - 3), "completion_tokens": 3 * (N - 3)}
    row = next(r for r in results["scores"] if r["metric"] == "Rouge-L-F")
    assert row["n"] == N - 3 and row["failed"] == 3 and row["score"] == pytest.approx(1.0)

    # The failures are counted in the table, and the run says so with a non-zero exit.
    assert code == 1 and "3 samples failed" in err and "Failed" in out
    assert next(line for line in (run_dir / "report.md").read_text().splitlines() if line.startswith("| Model")).endswith("| Failed |")
    # The key is never written: not in the run folder, not in the output.
    assert KEY not in out + err
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text(encoding="utf-8", errors="replace"), path

    # A second run retries only the failed samples; --allow-failures makes it exit 0.
    before = server.requests
    assert api_eval(server, tmp_path, *flags, "--allow-failures") == 0
    assert server.requests - before == 2 + 4 * len(PERMANENT)


def test_letter_scoring_through_chat_logprobs(server, tmp_path, capsys):
    server.chat_logprobs = True
    args = ["eval", "--backend", "api", "--api-url", server.url, "--datasets", "general_mcq", "--output", str(tmp_path)]
    assert main(args) == 0
    out, _ = capsys.readouterr()
    assert "scoring=letter (via chat-logprobs)" in out
    (run_dir,) = tmp_path.iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    assert results["tasks"]["general_mcq"]["scoring_via"] == "chat-logprobs"
    assert results["model"]["name"] == "fault-model"  # from /v1/models
    rec = json.loads((run_dir / "samples.jsonl").read_text().splitlines()[0])
    assert rec["prediction"] == "B"
    assert rec["option_logprobs"] == pytest.approx([math.log(math.exp(-2.5) + math.exp(-3.0)), -0.1, ABSENT_LOGPROB, ABSENT_LOGPROB])


def test_without_logprobs_mcq_is_generated_and_letter_is_refused(server, tmp_path, capsys):
    args = ["eval", "--backend", "api", "--api-url", server.url, "--datasets", "general_mcq", "--output", str(tmp_path)]
    assert main(args) == 0
    out, _ = capsys.readouterr()
    assert "scoring=generate" in out
    letter = json.dumps({"general_mcq": {"local_path": str(EXAMPLE_DATA), "scoring": "letter"}})
    assert main([*args, "--dataset-args", letter]) == 2
    _, err = capsys.readouterr()
    assert err.count("\n") == 1 and "use scoring generate" in err


def test_unreachable_server_is_one_line_exit_2(tmp_path, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    args = ["eval", "--backend", "api", "--api-url", f"http://127.0.0.1:{port}/v1", "--max-retries", "1", "--timeout", "1"]
    assert main([*args, "--output", str(tmp_path)]) == 2
    _, err = capsys.readouterr()
    assert err.count("\n") == 1 and "is the server running?" in err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backend", "api"], "needs --api-url"),
        (["--backend", "api", "--api-url", "http://127.0.0.1:9/v1", "--api-key-env", "NOPE_UNSET"], "not set"),
    ],
)
def test_api_flag_errors(args, message, capsys, monkeypatch):
    monkeypatch.delenv("NOPE_UNSET", raising=False)
    assert main(["eval", *args]) == 2
    assert message in capsys.readouterr().err


def test_backoff_is_jittered_capped_and_honours_retry_after():
    policy, rng = RetryPolicy(backoff_base=0.5, backoff_max=4.0), random.Random(1)
    for attempt in range(8):
        cap = min(4.0, 0.5 * 2**attempt)
        delays = [policy.delay(attempt, None, rng) for _ in range(200)]
        assert all(0 <= d <= cap for d in delays) and max(delays) > 0.8 * cap  # full jitter spans the range
    assert all(policy.delay(0, 3.0, rng) >= 3.0 for _ in range(50))
    assert policy.delay(0, 10_000.0, rng) == policy.retry_after_max
    assert _retry_after("2") == 2.0 and _retry_after("0.25") == 0.25 and _retry_after(None) is None and _retry_after("soon") is None
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: retry now


def test_letter_logprobs_read_after_the_answer_prefix():
    top = [{"token": " C", "logprob": -0.2}, {"token": " A", "logprob": -1.9}]
    tokens = [{"token": "ANSWER", "top_logprobs": []}, {"token": ":", "top_logprobs": []}, {"token": " C", "top_logprobs": top}]
    assert letter_logprobs(tokens, "ABCD", "ANSWER:") == (-1.9, ABSENT_LOGPROB, -0.2, ABSENT_LOGPROB)
    # A reply that starts with the letter is read at its first token; one that never gives a letter is None.
    assert letter_logprobs(tokens[2:], "ABCD", "ANSWER:") == (-1.9, ABSENT_LOGPROB, -0.2, ABSENT_LOGPROB)
    assert letter_logprobs([{"token": "I", "top_logprobs": top}, {"token": " think", "top_logprobs": top}], "ABCD", "ANSWER:") is None
