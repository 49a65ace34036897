"""`harness eval --config FILE.yaml` and `harness list`."""

from __future__ import annotations

import json

import pytest
from conftest import EXAMPLE, write

from harness.cli.main import main


def test_a_yaml_file_gives_the_same_run_as_the_command_line(tmp_path, capsys):
    args = {"general_mcq": {"local_path": str(EXAMPLE), "subset_list": ["example"], "scoring": "cloze"}}
    assert main(["eval", "--backend", "fake", "--datasets", "general_mcq", "--limit", "5", "--seed", "3",
                 "--dataset-args", json.dumps(args), "--output", str(tmp_path / "cli")]) == 0  # fmt: skip
    write(
        tmp_path,
        "run.yaml",
        f"""
backend: fake
datasets: [general_mcq]
limit: 5
seed: 3
output: {tmp_path / "yaml"}
dataset_args:
  general_mcq: {{local_path: {EXAMPLE}, subset_list: [example], scoring: cloze}}
""",
    )
    assert main(["eval", "--config", str(tmp_path / "run.yaml")]) == 0
    (a,), (b,) = (tmp_path / "cli").iterdir(), (tmp_path / "yaml").iterdir()
    assert a.name == b.name  # the same run identity
    assert (a / "samples.jsonl").read_bytes() == (b / "samples.jsonl").read_bytes()
    # The run folder keeps its settings; given back with --config they repeat the run (finished: reported at once).
    saved = b / "config.yaml"
    assert "limit: 5" in saved.read_text() and "general_mcq:" in saved.read_text()
    capsys.readouterr()
    assert main(["eval", "--config", str(saved)]) == 0
    assert "finished earlier; nothing recomputed" in capsys.readouterr().out
    # A flag on the command line wins over the file.
    assert main(["eval", "--config", str(tmp_path / "run.yaml"), "--limit", "3", "--output", str(tmp_path / "three")]) == 0
    (c,) = (tmp_path / "three").iterdir()
    assert json.loads((c / "results.json").read_text())["config"]["limit"] == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("limt: 5\n", "unknown setting 'limt'"),
        ("limit: 0\n", "limit: must be a whole number of at least 1, got '0'"),
        ("backend: nope\n", "backend must be one of hf, vllm, api, fake"),
        ("dataset_args: '{}'\n", "dataset_args must be a mapping"),
        ("truncate: 1\n", "truncate must be true or false"),
        ("- a list\n", "a config file is a mapping of settings"),
        ("limit: [\n", "line 2: not valid YAML"),
    ],
)
def test_config_file_mistakes_are_one_line(tmp_path, capsys, content, message):
    write(tmp_path, "bad.yaml", content)
    assert main(["eval", "--config", str(tmp_path / "bad.yaml")]) == 2
    err = capsys.readouterr().err
    assert message in err and "bad.yaml" in err and err.count("\n") == 1


LISTED = [
    ("tasks", ["general_mcq", "general_qa"]),
    ("metrics", ["acc_norm", "rouge", "sacrebleu", "chrf", "judge"]),
    ("quant", ["nf4", "eetq", "torchao-int4"]),
    ("backends", ["hf", "vllm", "api", "fake"]),
]


@pytest.mark.parametrize(("what", "names"), LISTED)
def test_list(what, names, capsys):
    assert main(["list", what]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in names)
