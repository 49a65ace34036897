"""Every code block in docs/ runs as written: Python blocks execute against real run folders, and every fenced
`harness` command that is not a template (placeholders such as BASE_MODEL, or a server) exits 0.

The training script in checkpoint-regression.md is whole (model, data, arguments): the slow test below runs it
exactly as written, in an empty folder, with nothing defined beforehand.
"""

from __future__ import annotations

import glob
import re
import shlex

import pytest
from conftest import ROOT
from test_readme import is_template

from harness.cli.main import main

DOCS = ROOT / "docs"
NEEDS_A_TRAINER = "Trainer("


def blocks(lang: str) -> list[tuple[str, str]]:
    return [
        (p.name, b) for p in sorted(DOCS.glob("*.md")) for b in re.findall(rf"```{lang}\n(.*?)```", p.read_text(encoding="utf-8"), re.S)
    ]


@pytest.fixture
def runs(tmp_path, monkeypatch, capsys):
    """runs/base, runs/finetuned and runs/int8 (the built-in data, fake backend), and a fine-tune's checkpoints' runs."""
    monkeypatch.chdir(tmp_path)
    for name, seed in (("base", "0"), ("finetuned", "1"), ("int8", "2")):
        assert main(["eval", "--backend", "fake", "--seed", seed, "--run-dir", f"runs/{name}"]) == 0
    for step, seed in ((100, "0"), (500, "1")):
        assert main(["eval", "--backend", "fake", "--seed", seed, "--run-dir", f"output/checkpoint-{step}/harness_eval"]) == 0
    assert main(["eval", "--backend", "fake", "--seed", "0", "--run-dir", "output/harness_eval/base"]) == 0  # eval-checkpoints' step 0
    capsys.readouterr()
    return tmp_path


def test_every_python_block_runs(runs):
    pytest.importorskip("pandas")
    ran = 0
    for name, code in blocks("python"):
        if NEEDS_A_TRAINER in code:
            continue
        namespace: dict[str, object] = {}
        exec(compile(code, f"docs/{name}", "exec"), namespace)  # noqa: S102 - our own documentation
        ran += 1
    assert ran >= 1


def test_the_notebook_recipe_takes_the_overall_from_the_micro_row(runs):
    pd = pytest.importorskip("pandas")
    import harness

    namespace: dict[str, object] = {}
    (code,) = [c for name, c in blocks("python") if name == "notebooks.md"]
    exec(compile(code, "docs/notebooks.md", "exec"), namespace)  # noqa: S102
    headline = namespace["headline"]
    pivot = headline.pivot_table(index=["task", "metric", "subset"], columns="run", values="score", aggfunc="first")
    results = harness.load_run("runs/base").scores
    micro = results[(results.subset == "OVERALL") & (results.aggregation == "micro") & (results.metric == "acc")].score.iloc[0]
    assert isinstance(pivot, pd.DataFrame) and pivot.loc[("general_mcq", "acc", "OVERALL"), "base"] == pytest.approx(micro)


def test_every_runnable_docs_command_exits_0(runs):
    commands = []
    for _, block in blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #", 1)[0].strip()
            if line.startswith("harness ") and not is_template(line):
                commands.append(line)
    assert commands
    for command in commands:
        args = [match for arg in shlex.split(command)[1:] for match in (sorted(glob.glob(arg)) if "*" in arg else [arg])]  # as a shell does
        assert main(args) == 0, command


@pytest.mark.slow
def test_the_training_snippet_runs_as_written(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    ((_, code),) = [(name, c) for name, c in blocks("python") if NEEDS_A_TRAINER in c]
    namespace: dict[str, object] = {"__name__": "__main__"}
    exec(compile(code, "docs/checkpoint-regression.md", "exec"), namespace)  # noqa: S102 - nothing given to it: it runs as written
    assert (tmp_path / "output" / "checkpoint-2" / "harness_eval" / "results.json").is_file()
    assert namespace["cb"].history[0]["step"] == 2
    # The base row and the gate the doc shows next (the base given with --model, as the doc's command does).
    assert main(["eval-checkpoints", "output", "--model", "smollm2-135m-instruct", "--datasets", "general_mcq", "--limit", "20"]) == 0
    trend = (tmp_path / "output" / "harness_eval" / "trend.csv").read_text().splitlines()
    assert [row.split(",")[:2] for row in trend[1:3]] == [["base", "0"], ["checkpoint-2", "2"]]
    assert main(["compare", "output/harness_eval/base", "output/checkpoint-2/harness_eval", "--format", "md"]) == 0
