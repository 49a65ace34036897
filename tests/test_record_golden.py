"""Records identical to what the engine wrote before the record was typed: scores, predictions, every log-prob."""

from __future__ import annotations

import json

import pytest
from fault_server import FaultServer
from record_golden import GOLDEN, collect

pytest.importorskip("httpx")


def test_records_equal_the_golden_ones(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JUDGE_KEY", "sk-golden-0a1b2c3d")
    server = FaultServer(api_key="sk-golden-0a1b2c3d").start()
    try:
        now = collect(tmp_path, server.url)
    finally:
        server.stop()
    capsys.readouterr()
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(now) == sorted(golden)
    for run, records in golden.items():
        assert sorted(now[run]) == sorted(records), run
        for key, fields in records.items():
            assert now[run][key] == fields, (run, key)  # exact: floats through JSON both ways
    # The fixture exercises every mode and metric kind it is meant to.
    assert {r["scoring"] for rs in golden.values() for r in rs.values()} == {"letter", "cloze", "generate"}
    assert any("mc2" in r["scores"] for r in golden["mc2_cloze"].values())
    assert any(r.get("judge", {}).get("score") is not None for r in golden["qa_judge"].values())
