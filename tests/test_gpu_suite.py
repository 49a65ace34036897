"""benchmarks/gpu_suite.py works before a GPU is lent: every section runs on the CPU (`--smoke`), each printed and
appended as one JSON line the moment it ends, and a failing section (or baseline) is recorded while the rest run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT

pytest.importorskip("torch")
sys.path.insert(0, str(ROOT / "benchmarks"))

import gpu_suite  # noqa: E402


def test_a_failing_section_is_recorded_and_the_next_one_runs(tmp_path):
    out = tmp_path / "suite.jsonl"

    def broken():
        raise RuntimeError("mha_graph.execute(handle, variant_pack, workspace_ptr.get()).is_good() INTERNAL ASSERT FAILED")

    first = gpu_suite.run_section("generation", broken, out)
    second = gpu_suite.run_section("after", lambda: {"value": 1}, out)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert lines == [first, second] and first["status"] == "failed" and "mha_graph" in first["error"]
    assert second["status"] == "ok" and second["value"] == 1


def test_a_baseline_failing_at_one_batch_size_still_counts_the_others():
    def run(batch):
        if batch == 512:
            raise RuntimeError("CUDA out of memory")
        return {64: 2.0, 256: 1.5}[batch]

    timings, best = gpu_suite.best_of(run, (64, 256, 512))
    assert best == 1.5 and timings["64"] == 2.0 and timings["512"].startswith("failed: RuntimeError: CUDA out of memory")
    with pytest.raises(RuntimeError, match="failed at every batch size"):
        gpu_suite.best_of(lambda b: 1 / 0, (64,))


@pytest.mark.slow
def test_the_smoke_run_streams_every_section(tmp_path):
    pytest.importorskip("lm_eval")
    out = tmp_path / "suite.jsonl"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_suite.py"), "--smoke", "--out", str(out)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=1800)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    printed = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith('{"section"')]
    assert lines == printed
    assert [x["section"] for x in lines] == ["setup", "scoring_0shot", "scoring_5shot", "scoring_cloze", "generation",
                                             "cli_vs_lm_eval_0shot", "cli_vs_lm_eval_5shot", "vllm"]  # fmt: skip
    assert all(x["status"] == "ok" for x in lines[:-1]) and lines[-1]["status"] == "skipped"
