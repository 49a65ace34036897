"""Opt-in acceptance runs on the real data sets in ../shared/data (`pytest -m acceptance`)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT

from harness.cli.main import main
from harness.tasks import load_mcq, load_qa, parse_dataset_args

pytestmark = pytest.mark.acceptance


def test_fake_eval_on_shared_example_both_formats(shared_data, tmp_path, capsys):
    args = json.dumps(
        {"general_mcq": {"local_path": str(shared_data / "example")}, "general_qa": {"local_path": str(shared_data / "example")}}
    )
    assert main(["eval", "--backend", "fake", "--dataset-args", args, "--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| Model" not in out and "general_mcq" in out and "Rouge-L-F" in out
    (run_dir,) = tmp_path.iterdir()
    assert {"results.json", "samples.jsonl", "report.md", "report.csv"} <= {p.name for p in run_dir.iterdir()}


def test_shared_malformed_example_exits_2(shared_data, tmp_path):
    args = json.dumps({"general_mcq": {"local_path": str(shared_data / "example_malformed")}})
    cmd = [sys.executable, "-m", "harness", "eval", "--backend", "fake", "--datasets", "general_mcq", "--dataset-args", args]
    proc = subprocess.run([*cmd, "--output", str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert "example_val.csv line 3: 11 fields, header has 9 (quote fields that contain commas)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_real_data_sets_load(shared_data):
    arc = load_mcq("general_mcq", parse_dataset_args("general_mcq", {"local_path": str(shared_data / "arc_easy")}), "letter")
    assert len(arc.samples) == 2376 and {len(s.choices) for s in arc.samples} >= {3, 4, 5}
    cmmlu = load_mcq("general_mcq", parse_dataset_args("general_mcq", {"local_path": str(shared_data / "cmmlu")}), "letter")
    assert len({s.subset for s in cmmlu.samples}) == 67 and len(cmmlu.samples) == 11582 and cmmlu.language == "zh"
    qa = load_qa("general_qa", parse_dataset_args("general_qa", {"local_path": str(shared_data / "arc_easy_qa")}))
    assert len(qa.samples) == 2376


def test_shared_parity_file_matches_the_project_copy(shared_data):
    from conftest import TEST_DATA

    assert (shared_data / "metric_parity" / "evalscope_zh_pairs.jsonl").read_bytes() == (
        TEST_DATA / "evalscope_zh_pairs.jsonl"
    ).read_bytes()
