"""`harness perf` against a server with planted timings: TTFT and TPOT measured within 10%."""

from __future__ import annotations

import json
import time

import pytest
from conftest import write
from fault_server import FaultServer

pytest.importorskip("httpx")

from harness.cli.main import main  # noqa: E402


@pytest.fixture
def server():
    srv = FaultServer(stream_ttft=0.25, stream_tpot=0.02, stream_tokens=20).start()
    yield srv
    srv.stop()


def test_planted_ttft_and_tpot_are_measured_within_ten_percent(server, tmp_path, capsys):
    out = tmp_path / "perf.json"
    args = ["perf", "--api-url", server.url, "--concurrency", "1,4", "--requests", "8", "--format", "json", "-o", str(out)]
    assert main(args) == 0
    report = json.loads(out.read_text())
    assert report["model"] == "fault-model" and [lv["level"] for lv in report["levels"]] == ["concurrency 1", "concurrency 4"]
    for level in report["levels"]:
        assert level["ok"] == 8 and level["errors"] == 0
        assert level["ttft_ms"]["p50"] == pytest.approx(250, rel=0.10)
        assert level["tpot_ms"]["p50"] == pytest.approx(20, rel=0.10)
        e2e = 250 + 19 * 20
        assert level["e2e_ms"]["p50"] == pytest.approx(e2e, rel=0.10)
        assert level["output_tokens_per_s"] > 0
    one, four = report["levels"]
    assert four["requests_per_s"] > 2.5 * one["requests_per_s"]  # four in flight: about four times the throughput
    assert server.max_in_flight <= 4


def test_rate_levels_errors_and_the_table(server, tmp_path, capsys):
    server.rates = {"500": 0.3}
    assert main(["perf", "--api-url", server.url, "--rate", "20", "--requests", "10", "--format", "md", "--max-error-rate", "1"]) == 0
    md = capsys.readouterr().out
    assert "| rate 20/s |" in md and "TTFT p50/p90/p99 ms" in md
    (row,) = [line for line in md.splitlines() if line.startswith("| rate")]
    ok, errors = int(row.split("|")[2]), int(row.split("|")[3])
    assert ok + errors == 10 and errors == server.faults["500"] and "first error: HTTP 500" in md


def test_perf_refuses_unbounded_or_bad_levels(capsys):
    assert main(["perf", "--api-url", "http://127.0.0.1:9/v1", "--requests", "20000"]) == 2
    assert "--requests must be from 1 to 10000" in capsys.readouterr().err
    assert main(["perf", "--api-url", "http://127.0.0.1:9/v1", "--concurrency", "0"]) == 2
    assert "expected whole numbers of at least 1" in capsys.readouterr().err


# --- hostile servers: perf counts honestly and never hangs (the whole request has a deadline)


@pytest.mark.parametrize(
    ("mode", "error"),
    [("error_event", "error event"), ("negative_usage", "impossible usage"), ("no_done", "ended before [DONE]")],
)
def test_a_bad_stream_is_an_error_and_exits_1(server, capsys, mode, error):
    server.stream_mode = mode
    code = main(["perf", "--api-url", server.url, "--format", "json", "--requests", "3", "--concurrency", "1"])
    out, err = capsys.readouterr()
    level = json.loads(out)["levels"][0]
    assert code == 1 and level["ok"] == 0 and level["errors"] == 3 and error in level["first_error"]
    assert level["output_tokens_per_s"] >= 0 and "errors above --max-error-rate 0" in err.splitlines()[-1] and err.count("error:") == 1


def test_a_trickling_server_cannot_outlast_the_deadline(server, tmp_path, capsys):
    server.stream_mode, server.trickle_seconds = "trickle", 0.2
    started = time.monotonic()
    code = main(["perf", "--api-url", server.url, "--format", "json", "--requests", "2", "--concurrency", "2", "--timeout", "1"])
    seconds = time.monotonic() - started
    level = json.loads(capsys.readouterr().out)["levels"][0]
    assert code == 1 and level["errors"] == 2 and "within 1 s" in level["first_error"] and seconds < 5
    # The api backend (eval) and so the judge: the same deadline for the whole request.
    write(tmp_path / "qa", "q.jsonl", json.dumps({"query": "hi", "response": "x"}) + "\n")
    started = time.monotonic()
    qa = json.dumps({"general_qa": {"local_path": str(tmp_path / "qa")}})
    args = ["eval", "--backend", "api", "--api-url", server.url, "--model", "m", "--datasets", "general_qa", "--timeout", "1",
            "--max-retries", "0", "--output", str(tmp_path / "o"), "--dataset-args", qa]  # fmt: skip
    assert main(args) == 1
    assert time.monotonic() - started < 8 and "no complete answer within 1 s" in capsys.readouterr().err


def test_max_seconds_bounds_a_level_whatever_the_rate(server, capsys):
    started = time.monotonic()
    code = main(["perf", "--api-url", server.url, "--format", "json", "--requests", "5", "--rate", "0.0001", "--max-seconds", "2"])
    assert time.monotonic() - started < 4
    level = json.loads(capsys.readouterr().out)["levels"][0]
    assert level["requests"] == 1 and level["ok"] == 1 and code == 0  # one arrival; the next would come after the bound


def test_the_rate_clock_ends_at_the_last_completion(server, capsys):
    assert main(["perf", "--api-url", server.url, "--format", "json", "--requests", "1", "--rate", "0.2"]) == 0
    level = json.loads(capsys.readouterr().out)["levels"][0]
    assert level["seconds"] <= level["e2e_ms"]["p50"] / 1000 + 0.1  # no random wait after the last arrival


@pytest.mark.parametrize("value", ["0.5", "1.9", "2,x"])
def test_concurrency_is_a_whole_number(capsys, value):
    assert main(["perf", "--api-url", "http://127.0.0.1:9/v1", "--concurrency", value]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "whole numbers" in err


# --- on par with evalscope perf / vllm bench serve: warm-up, ITL, records, input tokens, request shape


def test_warmup_absorbs_a_cold_start_and_is_not_counted(tmp_path, capsys):
    for warmup, cold_in_levels in ((1, False), (0, True)):
        srv = FaultServer(stream_ttft=0.1, stream_tpot=0.01, stream_tokens=5, cold_seconds=1.0).start()
        try:
            records = tmp_path / f"records{warmup}.jsonl"
            args = ["perf", "--api-url", srv.url, "--concurrency", "1", "--requests", "4", "--format", "json", "--warmup", str(warmup),
                    "--records", str(records)]  # fmt: skip
            assert main(args) == 0
            report = json.loads(capsys.readouterr().out)
            (level,) = report["levels"]
            assert srv.requests == 1 + warmup + 4  # /models, the warm-up, the level
        finally:
            srv.stop()
        assert report["warmup"] == warmup and level["requests"] == 4 and level["ok"] == 4
        assert (level["ttft_ms"]["p99"] > 900) is cold_in_levels  # the 1 s cold start lands in the level only without warm-up
        lines = [json.loads(x) for x in records.read_text().splitlines()]
        assert [r.get("warmup", False) for r in lines] == [True] * warmup + [False] * 4


def test_itl_records_and_token_counts_with_planted_timings(server, tmp_path, capsys):
    records = tmp_path / "requests.jsonl"
    args = ["perf", "--api-url", server.url, "--concurrency", "2", "--requests", "6", "--format", "json", "--records", str(records)]
    assert main(args) == 0
    (level,) = json.loads(capsys.readouterr().out)["levels"]
    assert level["itl_ms"]["p50"] == pytest.approx(20, rel=0.10) and level["itl_ms"]["p90"] == pytest.approx(20, rel=0.25)
    assert level["input_tokens"] == 6 * 5 and level["output_tokens"] == 6 * 20  # the server's usage
    assert level["input_tokens_per_s"] == pytest.approx(30 / level["seconds"])
    assert level["total_tokens_per_s"] == pytest.approx(150 / level["seconds"])
    lines = [json.loads(x) for x in records.read_text().splitlines()]
    measured = [r for r in lines if not r.get("warmup")]
    assert len(lines) == 7 and len(measured) == 6 and sorted(r["request"] for r in measured) == list(range(6))
    for r in measured:
        assert r["status"] == "ok" and r["error"] is None and r["tokens_in"] == 5 and r["tokens_out"] == 20
        times = r["token_times_ms"]
        assert len(times) == 20 and times == sorted(times) and times[0] == r["ttft_ms"]
        assert r["ttft_ms"] == pytest.approx(250, rel=0.10) and times[-1] - times[0] == pytest.approx(19 * 20, rel=0.10)
        assert r["e2e_ms"] >= times[-1] and r["start_ms"] >= 0
    # two in flight: requests start in pairs, the second pair about one request's duration later
    starts = sorted(r["start_ms"] for r in measured)
    assert starts[1] - starts[0] < 50 and starts[2] - starts[0] == pytest.approx(250 + 19 * 20, rel=0.15)
    table = main(["perf", "--api-url", server.url, "--concurrency", "1", "--requests", "2", "--format", "md"])
    assert table == 0 and "ITL p50/p90/p99 ms" in capsys.readouterr().out


def test_request_shape_fields_reach_the_server(server, capsys):
    args = ["perf", "--api-url", server.url, "--concurrency", "1", "--requests", "2", "--format", "md", "--max-tokens", "20",
            "--ignore-eos", "--min-tokens", "20", "--extra-body", '{"top_k": 5, "temperature": 0.7}', "--warmup", "0"]  # fmt: skip
    assert main(args) == 0
    md = capsys.readouterr().out
    for body in server.stream_payloads:
        assert body["ignore_eos"] is True and body["min_tokens"] == 20 and body["top_k"] == 5 and body["temperature"] == 0.7
        assert body["max_tokens"] == 20 and body["stream"] is True and body["messages"][0]["role"] == "user"
    assert "/chat/completions, model fault-model, max_tokens 20, ignore_eos, min_tokens 20, temperature 0.7, top_k 5" in md


def test_the_completions_endpoint(server, capsys):
    assert (
        main(["perf", "--api-url", server.url, "--endpoint", "completions", "--concurrency", "1", "--requests", "3", "--format", "json"])
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    (level,) = report["levels"]
    assert report["endpoint"].endswith("/v1/completions") and level["ok"] == 3 and level["output_tokens"] == 60
    assert level["ttft_ms"]["p50"] == pytest.approx(250, rel=0.10)
    assert all("prompt" in body and "messages" not in body for body in server.stream_payloads)


def test_ttft_counts_a_reasoning_models_first_token(server, capsys):
    server.reasoning_tokens = 10  # the first half of each reply is reasoning_content
    assert main(["perf", "--api-url", server.url, "--concurrency", "1", "--requests", "3", "--format", "json"]) == 0
    (level,) = json.loads(capsys.readouterr().out)["levels"]
    assert level["ttft_ms"]["p50"] == pytest.approx(250, rel=0.10)  # not 250 + 10 * 20


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--extra-body", '{"stream": false}'], "'stream' is set by perf itself"),
        (["--extra-body", "[1]"], "expected a JSON object"),
        (["--extra-body", "{bad"], "not JSON"),
        (["--min-tokens", "65"], "--min-tokens 65 is above --max-tokens 64"),
    ],
)
def test_bad_request_shape_flags_are_one_line(capsys, flags, says):
    assert main(["perf", "--api-url", "http://127.0.0.1:9/v1", "--model", "m", *flags]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1
