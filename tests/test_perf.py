"""`harness perf`: its arithmetic checked exactly in virtual time, its protocol handling against a real socket server.

Timings are planted in a server that runs on a virtual-time event loop (tests/virtual_time.py), so TTFT,
TPOT, ITL, throughput and the `--max-seconds` bound are exact figures however busy the machine is: no test
here reads the wall clock. Hostile streams and deadlines are also tried over a real loopback socket
(tests/fault_server.py), where only counts and messages are checked.
"""

from __future__ import annotations

import functools
import json

import pytest
from conftest import write
from fault_server import FaultServer

pytest.importorskip("httpx")

from virtual_time import PlantedServer, VirtualTimeLoop  # noqa: E402

from harness.cli.main import main  # noqa: E402
from harness.workflows import perf as perf_module  # noqa: E402
from harness.workflows.perf import Level, RequestShape, run_perf  # noqa: E402

URL = "http://planted.invalid/v1"


def planted_run(server: PlantedServer, **kwargs):
    """run_perf against the planted server, in virtual time."""
    kwargs.setdefault("prompts", ["hello"] * 8)
    kwargs.setdefault("model", "m")
    return run_perf(URL, transport=server.transport, loop_factory=VirtualTimeLoop, **kwargs)


@pytest.fixture
def planted(monkeypatch):
    """The CLI's perf, pointed at a planted server in virtual time."""
    server = PlantedServer()
    real = perf_module.run_perf
    monkeypatch.setattr(perf_module, "run_perf", functools.partial(real, transport=server.transport, loop_factory=VirtualTimeLoop))
    return server


def test_virtual_time_moves_only_by_timers():
    import asyncio

    loop = VirtualTimeLoop()
    try:
        assert loop.run_until_complete(asyncio.sleep(3600, result="slept")) == "slept" and loop.time() == 3600
    finally:
        loop.close()


def test_planted_ttft_tpot_and_e2e_are_measured_exactly_at_each_level():
    server = PlantedServer()
    run = planted_run(server, levels=[Level(concurrency=1), Level(concurrency=4)], warmup=0)
    for level in run.levels:
        assert level.ok == 8 and level.errors == 0 and level.cut == 0 and level.unsent == 0
        assert level.ttft_ms["p50"] == pytest.approx(250, abs=1e-6) and level.ttft_ms["p99"] == pytest.approx(250, abs=1e-6)
        assert level.tpot_ms["p50"] == pytest.approx(20, abs=1e-6)
        assert level.e2e_ms["p50"] == pytest.approx(250 + 19 * 20, abs=1e-6)
        assert level.itl_ms["p50"] == pytest.approx(20, abs=1e-6) and level.itl_ms["p99"] == pytest.approx(20, abs=1e-6)
    one, four = run.levels
    duration = 0.25 + 19 * 0.02
    assert one.seconds == pytest.approx(8 * duration) and four.seconds == pytest.approx(2 * duration)
    assert one.requests_per_s == pytest.approx(8 / (8 * duration)) and four.requests_per_s == pytest.approx(4 * one.requests_per_s)
    assert one.output_tokens_per_s == pytest.approx(8 * 20 / (8 * duration))
    assert one.input_tokens == 8 * 5 and one.input_tokens_per_s == pytest.approx(40 / one.seconds)
    assert one.total_tokens_per_s == pytest.approx((40 + 160) / one.seconds)
    assert server.max_in_flight == 4


def test_records_hold_every_token_time_and_start_in_pairs():
    server = PlantedServer()
    run = planted_run(server, levels=[Level(concurrency=2)], prompts=["p"] * 6, warmup=1)
    warm, *measured = run.records
    assert warm["warmup"] is True and len(measured) == 6 and sorted(r["request"] for r in measured) == list(range(6))
    for r in measured:
        assert r["status"] == "ok" and r["error"] is None and r["tokens_in"] == 5 and r["tokens_out"] == 20
        times = r["token_times_ms"]
        assert times == pytest.approx([250 + 20 * i for i in range(20)], abs=1e-3) and times[0] == r["ttft_ms"]
        assert r["e2e_ms"] >= times[-1]
    duration_ms = 250 + 19 * 20
    starts = sorted(r["start_ms"] for r in measured)
    assert starts == pytest.approx([0, 0, duration_ms, duration_ms, 2 * duration_ms, 2 * duration_ms], abs=1e-3)


def test_warmup_absorbs_a_cold_start_and_is_not_counted():
    for warmup, slowest in ((1, 250), (0, 1250)):
        server = PlantedServer(cold=1.0)
        run = planted_run(server, levels=[Level(concurrency=1)], prompts=["p"] * 4, warmup=warmup)
        (level,) = run.levels
        assert run.warmup == warmup and level.requests == 4 and level.ok == 4
        # Without warm-up the 1 s cold start is one of the level's four TTFTs: p99 interpolates 97% of the way to it.
        assert level.ttft_ms["p99"] == pytest.approx(250 if warmup else 250 + 0.97 * 1000, abs=1e-6)
        assert max(r["ttft_ms"] for r in run.records if not r.get("warmup")) == pytest.approx(slowest, abs=1e-3)
        assert [r.get("warmup", False) for r in run.records] == [True] * warmup + [False] * 4


def test_max_seconds_cuts_and_leaves_unsent_and_neither_is_an_error():
    server = PlantedServer()  # each request takes 0.63 s
    run = planted_run(server, levels=[Level(concurrency=1)], prompts=["p"] * 5, warmup=0, max_seconds=1.0)
    (level,) = run.levels
    # 0.00-0.63 ok; 0.63 starts (before the bound) and is cut at 1.0; the other three are never sent.
    assert (level.ok, level.errors, level.cut, level.unsent, level.requests) == (1, 0, 1, 3, 2)
    assert level.first_error is None and [r["status"] for r in run.records] == ["ok", "cut"]


def test_a_rate_level_ends_at_its_last_completion_and_at_max_seconds():
    server = PlantedServer()
    run = planted_run(server, levels=[Level(rate=0.2)], prompts=["p"], warmup=0)
    assert run.levels[0].seconds == pytest.approx(0.25 + 19 * 0.02)  # no random wait after the last arrival
    run = planted_run(PlantedServer(), levels=[Level(rate=0.0001)], prompts=["p"] * 5, warmup=0, max_seconds=2)
    (level,) = run.levels
    assert level.requests == 1 and level.ok == 1 and level.unsent == 4  # the next arrival would come after the bound


def test_rate_arrivals_are_poisson_with_the_seed():
    run = planted_run(PlantedServer(), levels=[Level(rate=50)], prompts=["p"] * 200, warmup=0, seed=3)
    starts = sorted(r["start_ms"] for r in run.records)
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert sum(gaps) / len(gaps) == pytest.approx(20, rel=0.2)  # mean gap 1/rate (seeded: the same every run)
    again = planted_run(PlantedServer(), levels=[Level(rate=50)], prompts=["p"] * 200, warmup=0, seed=3)
    assert sorted(r["start_ms"] for r in again.records) == starts


def test_a_trickling_server_cannot_outlast_the_deadline():
    server = PlantedServer(mode="trickle")
    run = planted_run(server, levels=[Level(concurrency=2)], prompts=["p"] * 2, warmup=0, timeout=1.0)
    (level,) = run.levels
    assert level.errors == 2 and "within 1 s" in (level.first_error or "")
    assert all(r["e2e_ms"] == pytest.approx(1000, abs=1e-3) for r in run.records)


def test_reasoning_tokens_count_for_ttft_and_the_completions_endpoint():
    run = planted_run(PlantedServer(reasoning_tokens=10), levels=[Level(concurrency=1)], prompts=["p"] * 3, warmup=0)
    assert run.levels[0].ttft_ms["p50"] == pytest.approx(250, abs=1e-6)  # not 250 + 10 * 20
    server = PlantedServer()
    shape = RequestShape(endpoint="completions")
    run = planted_run(server, levels=[Level(concurrency=1)], prompts=["p"] * 3, warmup=0, shape=shape)
    assert run.levels[0].ok == 3 and run.levels[0].output_tokens == 60
    assert all("prompt" in body and "messages" not in body for body in server.bodies)


# --- the command: table, JSON, exit codes and flags (the planted server, virtual time)


def test_the_command_json_and_table(planted, tmp_path, capsys):
    out = tmp_path / "perf.json"
    assert main(["perf", "--api-url", URL, "--concurrency", "1,4", "--requests", "8", "--format", "json", "-o", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["model"] == "planted-model" and [lv["level"] for lv in report["levels"]] == ["concurrency 1", "concurrency 4"]
    assert all(lv["ok"] == 8 and lv["cut"] == 0 and lv["unsent"] == 0 for lv in report["levels"])
    assert main(["perf", "--api-url", URL, "--concurrency", "1", "--requests", "2", "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert "| concurrency 1 |" in md and "ITL p50/p90/p99 ms" in md


def test_rate_levels_errors_and_the_table(planted, capsys):
    planted.rates = {"500": 0.3}
    assert main(["perf", "--api-url", URL, "--rate", "20", "--requests", "10", "--format", "md", "--max-error-rate", "1"]) == 0
    md = capsys.readouterr().out
    (row,) = [line for line in md.splitlines() if line.startswith("| rate")]
    ok, errors = int(row.split("|")[2]), int(row.split("|")[3])
    assert ok + errors == 10 and errors == planted.errors > 0 and "first error: HTTP 500" in md


def test_a_cut_level_exits_0_and_says_what_was_cut(planted, capsys):
    args = ["perf", "--api-url", URL, "--concurrency", "1", "--requests", "5", "--max-seconds", "1", "--format", "md", "--warmup", "0"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "concurrency 1: 1 request(s) cut while running, 3 not sent (--max-seconds" in out


def test_a_level_with_nothing_finished_exits_1(planted, capsys):
    args = ["perf", "--api-url", URL, "--concurrency", "1", "--requests", "2", "--max-seconds", "0.1", "--format", "json"]
    assert main(args) == 1
    assert "no request finished within --max-seconds 0.1" in capsys.readouterr().err


def test_request_shape_fields_reach_the_server(planted, capsys):
    args = ["perf", "--api-url", URL, "--concurrency", "1", "--requests", "2", "--format", "md", "--max-tokens", "20",
            "--ignore-eos", "--min-tokens", "20", "--extra-body", '{"top_k": 5, "temperature": 0.7}', "--warmup", "0"]  # fmt: skip
    assert main(args) == 0
    md = capsys.readouterr().out
    for body in planted.bodies:
        assert body["ignore_eos"] is True and body["min_tokens"] == 20 and body["top_k"] == 5 and body["temperature"] == 0.7
        assert body["max_tokens"] == 20 and body["stream"] is True and body["messages"][0]["role"] == "user"
    assert "/chat/completions, model planted-model, max_tokens 20, ignore_eos, min_tokens 20, temperature 0.7, top_k 5" in md


def test_records_are_written_and_outputs_never_overwrite_inputs(planted, tmp_path, capsys):
    prompts = write(tmp_path / "qa", "q.jsonl", json.dumps({"query": "hi", "response": "x"}) + "\n")
    before = prompts.read_bytes()
    records = tmp_path / "requests.jsonl"
    base = ["perf", "--api-url", URL, "--concurrency", "1", "--requests", "2", "--format", "json", "--prompts", str(prompts)]
    assert main([*base, "--records", str(records)]) == 0
    assert len(records.read_text().splitlines()) == 3 and json.loads(capsys.readouterr().out)["levels"][0]["ok"] == 2
    assert main([*base, "--records", str(prompts)]) == 2
    assert "--records" in capsys.readouterr().err and prompts.read_bytes() == before
    assert main([*base, "--records", str(records), "-o", str(records)]) == 2
    assert "are the same path" in capsys.readouterr().err


def test_sigterm_during_perf_saves_finished_levels_and_promises_no_resume(planted, tmp_path, capsys, monkeypatch):
    from harness.cli.main import Terminated

    real = perf_module._level
    calls = []

    async def level_then_stop(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise Terminated()
        return await real(*args, **kwargs)

    monkeypatch.setattr(perf_module, "_level", level_then_stop)
    records, out = tmp_path / "r.jsonl", tmp_path / "t.md"
    code = main(["perf", "--api-url", URL, "--concurrency", "1,4", "--requests", "3", "--format", "md", "--records", str(records),
                 "-o", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 143 and "resume" not in err.replace("does not resume", "")
    assert "1 finished level(s) in" in err and "4 request record(s)" in err and "does not resume" in err
    assert "| concurrency 1 |" in out.read_text() and len(records.read_text().splitlines()) == 4


def test_perf_refuses_unbounded_or_bad_levels(capsys):
    assert main(["perf", "--api-url", "http://127.0.0.1:9/v1", "--requests", "20000"]) == 2
    assert "--requests must be from 1 to 10000" in capsys.readouterr().err
    assert main(["perf", "--api-url", "http://127.0.0.1:9/v1", "--concurrency", "0"]) == 2
    assert "expected whole numbers of at least 1" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0.5", "1.9", "2,x"])
def test_concurrency_is_a_whole_number(capsys, value):
    assert main(["perf", "--api-url", "http://127.0.0.1:9/v1", "--concurrency", value]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "whole numbers" in err


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


# --- hostile servers over a real socket: perf counts honestly and never hangs (only counts and messages are checked)


@pytest.fixture
def server():
    srv = FaultServer(stream_ttft=0.01, stream_tpot=0.001, stream_tokens=5).start()
    yield srv
    srv.stop()


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


def test_a_real_socket_stream_is_counted_token_by_token(server, tmp_path, capsys):
    records = tmp_path / "r.jsonl"
    assert main(["perf", "--api-url", server.url, "--format", "json", "--requests", "4", "--concurrency", "2", "--records",
                 str(records)]) == 0  # fmt: skip
    (level,) = json.loads(capsys.readouterr().out)["levels"]
    assert level["ok"] == 4 and level["output_tokens"] == 20 and level["input_tokens"] == 20 and server.max_in_flight <= 2
    lines = [json.loads(x) for x in records.read_text().splitlines() if not json.loads(x).get("warmup")]
    assert all(len(r["token_times_ms"]) == 5 and r["token_times_ms"] == sorted(r["token_times_ms"]) for r in lines)


def test_the_api_backend_has_one_deadline_for_the_whole_request(server, tmp_path, capsys):
    """The api backend (eval) and so the judge: a server trickling bytes cannot stretch a request past --timeout."""
    server.stream_mode, server.trickle_seconds = "trickle", 0.2
    write(tmp_path / "qa", "q.jsonl", json.dumps({"query": "hi", "response": "x"}) + "\n")
    qa = json.dumps({"general_qa": {"local_path": str(tmp_path / "qa")}})
    args = ["eval", "--backend", "api", "--api-url", server.url, "--model", "m", "--datasets", "general_qa", "--timeout", "1",
            "--max-retries", "0", "--output", str(tmp_path / "o"), "--dataset-args", qa]  # fmt: skip
    assert main(args) == 1
    assert "no complete answer within 1 s" in capsys.readouterr().err
