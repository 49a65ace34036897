"""Every command that writes, pointed at a place that holds the user's files or its own inputs: refused before work,
the user's files byte-identical (harness.core.folders, harness.core.names)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write

from harness.cli.main import main
from harness.core.folders import MANIFEST, OwnedFolder
from harness.runs.layout import trend_folder
from harness.workflows.checkpoints import find_checkpoints, run_dir_for


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_quant_compare_refuses_a_folder_holding_a_users_files_and_hostile_variant_names(tmp_path, capsys):
    out = tmp_path / "results"
    write(out, "config.yaml", "mine: 1\n")
    write(tmp_path, "report.md", "my report\n")
    before = snapshot(out), (tmp_path / "report.md").read_bytes()
    args = ["quant-compare", "--quant", "fp32", "--datasets", "general_mcq", "--limit", "2", "--output", str(out)]
    assert main(args) == 2
    assert "holds files the harness did not write (config.yaml)" in one_line(capsys)
    for name in ("..", "../x", "a/b", "x\ny", "x\x00"):
        assert main([*args, "--variant", f"{name}=M"]) == 2
        assert "--variant name" in one_line(capsys)
    assert (snapshot(out), (tmp_path / "report.md").read_bytes()) == before


def test_eval_checkpoints_refuses_an_output_holding_a_users_files(tmp_path, capsys):
    (tmp_path / "train" / "checkpoint-5").mkdir(parents=True)
    write(tmp_path / "mine", "notes.txt", "keep\n")
    before = snapshot(tmp_path / "mine"), snapshot(tmp_path / "train")
    assert main(["eval-checkpoints", str(tmp_path / "train"), "--output", str(tmp_path / "mine"), "--limit", "1"]) == 2
    assert "holds files the harness did not write (notes.txt)" in one_line(capsys)
    assert (snapshot(tmp_path / "mine"), snapshot(tmp_path / "train")) == before


def test_the_trend_folder_and_run_folders_are_never_taken_for_checkpoints(tmp_path):
    train = tmp_path / "train"
    for rel in ("checkpoint-5", "seed1/checkpoint-5", "seed2/checkpoint-5"):
        (train / rel).mkdir(parents=True)
    with trend_folder(train, train / "harness_eval") as results:  # --output TRAIN/harness_eval, written out
        for ckpt in find_checkpoints(train):
            run_dir_for(ckpt, results).mkdir(parents=True)
            (run_dir_for(ckpt, results) / "run.json").write_text("{}")
    with OwnedFolder(train / "elsewhere", "quant-compare") as other:
        (other.subfolder("checkpoint-9")).mkdir()
    found = find_checkpoints(train)
    assert [c.name for c in found] == ["checkpoint-5", "seed1/checkpoint-5", "seed2/checkpoint-5"]
    with trend_folder(train, train / "harness_eval") as results:
        dirs = {run_dir_for(c, results) for c in found}
    assert len(dirs) == 3  # same-numbered steps of two runs get two folders
    assert (train / "harness_eval" / MANIFEST).is_file()


def test_perf_and_score_never_write_over_their_inputs(tmp_path, capsys):
    pairs = write(tmp_path, "pairs.jsonl", json.dumps({"prediction": "a", "reference": "a"}) + "\n")
    before = pairs.read_bytes()
    assert main(["score", str(pairs), "--per-sample", str(pairs)]) == 2
    assert "--per-sample" in one_line(capsys) and pairs.read_bytes() == before
    assert main(["perf", "--api-url", "http://127.0.0.1:9/v1", "--model", "m", "--prompts", str(pairs), "--records", str(pairs)]) == 2
    assert "is the input --prompts" in one_line(capsys) and pairs.read_bytes() == before
    assert main(["report", str(tmp_path), "-o", str(tmp_path)]) == 2
    capsys.readouterr()


def test_a_data_pull_into_a_users_folder_keeps_every_file(tmp_path, capsys):
    pytest.importorskip("datasets")
    pytest.importorskip("pyarrow")
    from catalog_fixtures import arc

    arc(tmp_path / "hub")
    mine = write(tmp_path / "mcq", "arc_easy_val.csv", "id,question,A,B,answer\n1,mine,a,b,A\n").parent
    before = snapshot(mine)
    assert main(["data", "pull", "arc_easy", "--from", str(tmp_path / "hub"), "--to", str(mine)]) == 2
    assert "holds files the harness did not write (arc_easy_val.csv)" in one_line(capsys) and snapshot(mine) == before
    write(mine, "notes.txt", "keep\n")
    assert main(["data", "pull", "arc_easy", "--from", str(tmp_path / "hub"), "--to", str(mine), "--force"]) == 0
    assert (mine / "notes.txt").read_text() == "keep\n" and (mine / MANIFEST).is_file()


def test_a_full_disk_names_the_file(tmp_path, capsys, monkeypatch):
    import errno

    from harness.runs.store import RunStore

    real_open = RunStore.open

    class Full:
        def __init__(self, inner):
            self.inner = inner

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.inner, name)

    def open_full(self, **kwargs):
        done = real_open(self, **kwargs)
        self._partial = Full(self._partial)
        return done

    monkeypatch.setattr(RunStore, "open", open_full)
    assert main(["eval", "--backend", "fake", "--datasets", "general_mcq", "--run-dir", str(tmp_path / "run")]) == 2
    line = one_line(capsys)
    assert "samples.partial.jsonl: No space left on device (the disk is full" in line and "(no path)" not in line


def test_quant_agreement_and_flips_are_per_choice_metric(tmp_path):
    """A question whose acc_norm choice moved (acc unchanged) lowers acc_norm's agreement and is a flip of acc_norm."""
    from harness.workflows.quant_compare import _agreement
    from harness.workflows.quant_report import QuantReport, VariantResult, table_rows

    def rec(chosen, chosen_norm):
        return {"chosen": [chosen], "chosen_norm": [chosen_norm], "answer": ["A"], "option_logprobs": [-1.0, -2.0],
                "scores": {"acc": float(chosen == "A"), "acc_norm": float(chosen_norm == "A")}}  # fmt: skip

    ref = {"q1": rec("A", "A"), "q2": rec("A", "B"), "q3": rec("B", "B"), "q4": rec("A", "A")}
    new = {"q1": rec("A", "A"), "q2": rec("A", "A"), "q3": rec("B", "B"), "q4": rec("A", "A")}
    result = VariantResult("int8")
    with OwnedFolder(tmp_path / "out", "quant-compare") as folder:
        _agreement(ref, new, result, folder)
    assert result.agreement_by_metric == {"acc": 1.0, "acc_norm": 0.75} and result.flips == 1
    (flip,) = [json.loads(x) for x in (tmp_path / "out" / "flips_int8.jsonl").read_text().splitlines()]
    assert flip["key"] == "q2" and flip["metric"] == "acc_norm" and flip["reference"] == ["B"] and flip["variant"] == ["A"]
    result.metrics = [{"task": "general_mcq", "metric": m, "n": 4, "score": 0.75, "delta": 0.25, "ci_low": 0, "ci_high": 0.5,
                       "p_value": 1.0} for m in ("acc", "acc_norm")]  # fmt: skip
    rows = table_rows(QuantReport("fp32", [result], str(tmp_path)))
    assert [r[8] for r in rows] == ["100.0%", "75.0%"]
