"""End to end with the fake backend: CLI, run folder, reports, errors, resume."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import EXAMPLE_ONLY, ROOT, TEST_DATA, write

from harness.cli.main import main
from harness.reports.scores import render
from harness.runs.results_file import load_results
from harness.tasks import EXAMPLE_DATA

FAKE = ["eval", "--backend", "fake"]


def run_cli(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_eval_on_builtin_example_writes_run_folder(tmp_path, capsys):
    code, out, _ = run_cli([*FAKE, "--model", "first", "--dataset-args", EXAMPLE_ONLY, "--output", str(tmp_path)], capsys)
    assert code == 0
    assert "general_mcq" in out and "Rouge-L-F" in out
    (run_dir,) = tmp_path.iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    assert results["schema_version"] == 1 and results["model"]["fingerprint"]["model"] == "first"
    from importlib import metadata

    assert results["packages"]["numpy"] == metadata.version("numpy") and results["harness_version"] == metadata.version("harness")
    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 24
    mcq = [s for s in samples if s["task"] == "general_mcq"]
    # "first" always picks A; 8 of the 12 example answers are A.
    assert sum(s["scores"]["acc"] for s in mcq) == 8
    acc = next(r for r in results["scores"] if r["task"] == "general_mcq" and r["category"] == "-")
    assert acc["score"] == pytest.approx(8 / 12) and acc["n"] == 12
    assert (run_dir / "report.md").exists() and (run_dir / "report.csv").exists()


def test_golden_markdown_table(tmp_path, capsys):
    assert run_cli([*FAKE, "--model", "first", "--dataset-args", EXAMPLE_ONLY, "--output", str(tmp_path)], capsys)[0] == 0
    (run_dir,) = tmp_path.iterdir()
    md = render(load_results(run_dir), "md", run_dir=run_dir)
    # The line above the table names the run (with its date); the table and its notes are fixed.
    preamble, table = md.split("\n\n", 1)
    assert preamble.startswith("Model: first (fake); run first-") and "harness " in preamble
    assert table == (TEST_DATA / "golden_report.md").read_text(encoding="utf-8")
    code, out, _ = run_cli(["report", str(run_dir), "--format", "md"], capsys)
    assert code == 0 and out == md


def test_report_formats(tmp_path, capsys):
    only_mcq = json.dumps({"general_mcq": json.loads(EXAMPLE_ONLY)["general_mcq"]})
    run_cli([*FAKE, "--datasets", "general_mcq", "--dataset-args", only_mcq, "--output", str(tmp_path)], capsys)
    (run_dir,) = tmp_path.iterdir()
    _, csv_out, _ = run_cli(["report", str(run_dir), "--format", "csv"], capsys)
    assert csv_out.splitlines()[0] == "Model,Dataset,Metric,Subset,Num,Score,Cat.0,CI low,CI high,Failed"
    assert csv_out.splitlines()[1].startswith("hash,general_mcq,acc,example,12,0.")
    _, json_out, _ = run_cli(["report", str(run_dir), "--format", "json"], capsys)
    assert json.loads(json_out) == load_results(run_dir)["scores"]


def test_malformed_csv_exits_2_with_one_line_and_no_traceback(tmp_path):
    args = json.dumps({"general_mcq": {"local_path": str(TEST_DATA / "example_malformed")}})
    proc = subprocess.run(
        [sys.executable, "-m", "harness", *FAKE, "--datasets", "general_mcq", "--dataset-args", args, "--output", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert lines[0].endswith("example_val.csv line 3: 11 fields, header has 9 (quote fields that contain commas)")
    assert not any(tmp_path.iterdir())


def test_bad_arguments_exit_2(tmp_path, capsys):
    assert run_cli([*FAKE, "--dataset-args", "{oops"], capsys)[0] == 2
    assert run_cli([*FAKE, "--datasets", "nope"], capsys)[0] == 2
    code, _, err = run_cli(["eval", "--backend", "nope"], capsys)
    assert code == 2 and "argument --backend: invalid choice: 'nope'" in err and err.count("\n") == 1


def test_generate_mode_counts_no_answer(tmp_path, capsys):
    table = tmp_path / "t.jsonl"
    table.write_text(
        '{"key": "0", "prediction": "答案：B"}\n{"key": "general_mcq/example/1", "prediction": "A) x\\nB) y"}\n', encoding="utf-8"
    )
    args = json.dumps({"general_mcq": {"local_path": str(EXAMPLE_DATA), "scoring": "generate", "subset_list": ["example"]}})
    code, out, _ = run_cli(
        [
            *FAKE,
            "--model",
            f"table:{table}",
            "--datasets",
            "general_mcq",
            "--dataset-args",
            args,
            "--limit",
            "2",
            "--output",
            str(tmp_path / "o"),
        ],
        capsys,
    )
    assert code == 0 and "no answer: 1" in out
    (run_dir,) = (tmp_path / "o").iterdir()
    recs = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert recs[0]["chosen"] == ["B"] and recs[0]["extraction"] == "answer_tag_zh" and recs[0]["scores"]["acc"] == 1.0
    assert recs[1]["no_answer"] is True and recs[1]["scores"]["acc"] == 0.0


def test_resume_skips_done_samples_and_gives_identical_files(tmp_path, capsys):
    calls = tmp_path / "calls.txt"
    base = [*FAKE, "--dataset-args", EXAMPLE_ONLY, "--model-args", json.dumps({"calls_file": str(calls)}), "--output"]
    run_cli([*base, str(tmp_path / "full")], capsys)
    (full,) = (tmp_path / "full").iterdir()
    # Simulate a kill after 10 MCQ records: keep a partial file with a torn last line.
    part_root = tmp_path / "part"
    run_dir = part_root / full.name
    run_dir.mkdir(parents=True)
    (run_dir / "run.json").write_text((full / "run.json").read_text())
    lines = (full / "samples.jsonl").read_text().splitlines(keepends=True)
    (run_dir / "samples.partial.jsonl").write_text("".join(lines[:10]) + lines[10][:25])
    calls.write_text("")
    run_cli([*base, str(part_root)], capsys)
    assert len(calls.read_text().splitlines()) == 24 - 10
    assert (run_dir / "samples.jsonl").read_bytes() == (full / "samples.jsonl").read_bytes()
    strip = lambda r: {k: v for k, v in r.items() if k not in ("started", "finished", "wall_seconds", "timings", "config")}  # noqa: E731
    assert strip(load_results(run_dir)) == strip(load_results(full))


def test_changed_data_is_refused_for_an_existing_run_dir(tmp_path, capsys):
    data = tmp_path / "data"
    write(data, "x_val.csv", "question,A,B,answer\nq,a,b,A\n")
    args = json.dumps({"general_mcq": {"local_path": str(data)}})
    cmd = [*FAKE, "--datasets", "general_mcq", "--dataset-args", args, "--run-dir", str(tmp_path / "run")]
    assert run_cli(cmd, capsys)[0] == 0
    before = (tmp_path / "run" / "results.json").read_bytes()
    write(data, "x_val.csv", "question,A,B,answer\nq,a,b,B\n")
    code, _, err = run_cli(cmd, capsys)
    assert code == 2 and "different config" in err
    assert (tmp_path / "run" / "results.json").read_bytes() == before


def test_score_command_writes_evalscope_keys(tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        '{"prediction": "是木星", "reference": "是木星", "id": 1}\n{"prediction": "", "reference": "骆驼"}\n', encoding="utf-8"
    )
    out_file = tmp_path / "per.jsonl"
    code, out, _ = run_cli(
        ["score", str(pairs), "--metrics", "bleu,rouge,exact_match", "--per-sample", str(out_file), "--format", "json"], capsys
    )
    assert code == 0
    rows = {(r["metric"], r["subset"]): r for r in json.loads(out)}
    assert rows[("exact_match", "pairs")]["score"] == 0.5 and rows[("exact_match", "pairs")]["n"] == 2
    first = json.loads(out_file.read_text().splitlines()[0])
    assert first["id"] == 1 and first["bleu-1"] == 1.0 and first["Rouge-L-F"] == pytest.approx(1.0, abs=1e-7)
    assert set(first) >= {"prediction", "reference", "bleu-4", "Rouge-1-R", "Rouge-2-P", "exact_match"}


def test_import_harness_needs_no_torch():
    code = (
        "import sys, harness, metrics, tasks; from harness.backends import create_backend; "
        "create_backend('fake', 'hash'); print('torch' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert proc.stdout.strip() == "False"


def test_the_main_job_shows_the_model_skill_and_says_how(tmp_path, capsys):
    """Built-in data: 50 English + 12 Chinese MCQ scored by cloze, 12 QA with a stop rule; all recorded and shown."""
    code, out, _ = run_cli([*FAKE, "--output", str(tmp_path)], capsys)
    assert code == 0
    (run_dir,) = tmp_path.iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    mcq, qa = results["tasks"]["general_mcq"], results["tasks"]["general_qa"]
    assert mcq["scoring"] == "cloze" and mcq["num_samples"] == 62 and mcq["languages"] == {"arc_easy": "en", "example": "zh"}
    assert qa["generation"] == {"max_new_tokens": 32, "stop": ["\n"]}
    assert "general_mcq: scoring=cloze" in out and "at most 32 new tokens, stopping at '\\n'" in out
