"""`harness perf` against a server with planted timings: TTFT and TPOT measured within 10%."""

from __future__ import annotations

import json

import pytest
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
    assert main(["perf", "--api-url", server.url, "--rate", "20", "--requests", "10", "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert "| rate 20/s |" in md and "TTFT p50/p90/p99 ms" in md
    (row,) = [line for line in md.splitlines() if line.startswith("| rate")]
    ok, errors = int(row.split("|")[2]), int(row.split("|")[3])
    assert ok + errors == 10 and errors == server.faults["500"] and "first error: HTTP 500" in md


def test_perf_refuses_unbounded_or_bad_levels(capsys):
    assert main(["perf", "--api-url", "http://127.0.0.1:9/v1", "--requests", "20000"]) == 2
    assert "--requests must be from 1 to 10000" in capsys.readouterr().err
    assert main(["perf", "--api-url", "http://127.0.0.1:9/v1", "--concurrency", "0"]) == 2
    assert "expected positive numbers" in capsys.readouterr().err
