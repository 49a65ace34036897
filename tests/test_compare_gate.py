"""The regression gate compares like with like: same questions under the same keys, every task present."""

from __future__ import annotations

import json
import random

import pytest
from conftest import write

from harness.cli.main import main

N = 2000


def mcq_folder(tmp_path, name: str, *, salt: str = "") -> str:
    rows = ["id,question,A,B,C,D,answer"] + [f"{i},question {i}{salt}?,w{i},x{i},y{i},z{i},{'ABCD'[i % 4]}" for i in range(N)]
    write(tmp_path / name, "gate_val.csv", "\n".join(rows) + "\n")
    return str(tmp_path / name)


def run(tmp_path, capsys, name: str, folder: str, wrong: set[int], datasets=("general_mcq",)) -> str:
    """A fake-backend run whose answers are right except at the `wrong` rows."""
    table = tmp_path / f"{name}.table.jsonl"
    table.write_text("".join(json.dumps({"key": str(i), "prediction": "ABCD"[(i + (i in wrong)) % 4]}) + "\n" for i in range(N)))
    args = json.dumps({"general_mcq": {"local_path": folder}})
    code = main(["eval", "--backend", "fake", "--model", f"table:{table}", "--datasets", *datasets, "--dataset-args", args,
                 "--run-dir", str(tmp_path / name)])  # fmt: skip
    capsys.readouterr()
    assert code == 0
    return str(tmp_path / name)


def gate(capsys, base: str, new: str, *extra: str) -> tuple[int, str, str]:
    code = main(["compare", base, new, "--fail-on-regression", *extra])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def runs(tmp_path, capsys):
    rng = random.Random(3)
    data = mcq_folder(tmp_path, "data")
    base_wrong = set(rng.sample(range(N), 600))
    right = sorted(set(range(N)) - base_wrong)
    return {
        "data": data,
        "base": run(tmp_path, capsys, "base", data, base_wrong),
        "drop": run(tmp_path, capsys, "drop", data, base_wrong | set(rng.sample(right, 200))),
        "noise": run(tmp_path, capsys, "noise", data, base_wrong | set(rng.sample(right, 3))),
        "other": run(tmp_path, capsys, "other", mcq_folder(tmp_path, "other_data", salt=" (edited)"), base_wrong),
    }


def one_line_exit_2(code: int, err: str, *needles: str) -> None:
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert all(n in err for n in needles), err


def test_planted_drop_fails_and_three_flips_pass(runs, capsys):
    code, out, _ = gate(capsys, runs["base"], runs["drop"], "--format", "json")
    row = json.loads(out)["rows"][0]
    assert code == 1 and row["verdict"] == "regression" and row["delta"] == pytest.approx(-0.1) and row["n"] == N
    code, out, _ = gate(capsys, runs["base"], runs["noise"], "--format", "json")
    row = json.loads(out)["rows"][0]
    assert code == 0 and row["verdict"] == "-" and row["delta"] == pytest.approx(-3 / N)


def test_different_questions_under_the_same_keys_are_refused(runs, capsys):
    code, _, err = gate(capsys, runs["base"], runs["other"])
    one_line_exit_2(code, err, "2000 of 2000 shared", "different questions")


def test_runs_of_different_tasks_are_refused(runs, tmp_path, capsys):
    assert main(["eval", "--backend", "fake", "--datasets", "general_qa", "--run-dir", str(tmp_path / "qa")]) == 0
    capsys.readouterr()
    code, _, err = gate(capsys, runs["base"], str(tmp_path / "qa"))
    one_line_exit_2(code, err, "no sample key is in both")


@pytest.mark.parametrize("results", ["{}", "[]", '{"model": {"name": "m"}, "tasks": {}, "scores": [{"task": "t"}]}'])
def test_unusable_results_are_refused(runs, tmp_path, capsys, results):
    write(tmp_path / "bad", "results.json", results)
    write(tmp_path / "bad", "samples.jsonl", (tmp_path / "base" / "samples.jsonl").read_text())
    code, _, err = gate(capsys, runs["base"], str(tmp_path / "bad"))
    one_line_exit_2(code, err, "not a harness results file")


def test_an_empty_run_is_refused(runs, tmp_path, capsys):
    write(tmp_path / "empty", "results.json", json.dumps({"model": {"name": "m"}, "tasks": {}, "scores": []}))
    write(tmp_path / "empty", "samples.jsonl", "")
    code, _, err = gate(capsys, runs["base"], str(tmp_path / "empty"))
    one_line_exit_2(code, err, "holds no samples")


def test_a_task_missing_from_the_new_run_fails_the_gate_unless_allowed(runs, tmp_path, capsys):
    both = run(tmp_path, capsys, "both", runs["data"], set(), datasets=("general_mcq", "general_qa"))
    mcq_only = run(tmp_path, capsys, "mcq_only", runs["data"], set())
    code, out, _ = gate(capsys, both, mcq_only)
    assert code == 1 and "task general_qa of the base run is missing" in out and "1 missing task(s)" in out
    assert gate(capsys, both, mcq_only, "--allow-missing-tasks")[0] == 0


def test_skip_changed_compares_the_rest_and_says_what_was_left_out(runs, tmp_path, capsys):
    rows = (tmp_path / "data" / "gate_val.csv").read_text().split("\n")
    rows[1:6] = [r.replace("?,", "? (typo fixed),", 1) for r in rows[1:6]]
    write(tmp_path / "fixed", "gate_val.csv", "\n".join(rows))
    fixed = run(tmp_path, capsys, "fixed", str(tmp_path / "fixed"), set())
    one_line_exit_2(*gate(capsys, runs["noise"], fixed)[::2], "5 of 2000 shared")
    code, out, _ = gate(capsys, runs["noise"], fixed, "--skip-changed", "--format", "md")
    assert code == 0 and "| fixed | general_mcq | acc | gate | 1995 |" in out and "5 changed questions" in out
