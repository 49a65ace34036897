"""The CLI explains itself: every flag has help text with its default, names are listed, --version works."""

from __future__ import annotations

import argparse

import pytest

from harness.backends import BACKENDS
from harness.cli.args import BACKEND_NAMES, DATASET_NAMES
from harness.cli.main import _parser, main
from harness.metrics.qa import QA_METRICS
from harness.tasks import TASKS
from harness.workflows.quant_methods import METHODS


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_flag_of_every_subcommand_has_help():
    parser = _parser()
    commands = subparsers(parser)
    assert set(commands) >= {"eval", "report", "compare", "score", "eval-checkpoints", "quant-compare"}
    missing = []
    for name, sub in commands.items():
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


def test_help_shows_defaults_names_examples_and_exit_codes(capsys):
    assert main(["--help"]) == 0
    top = capsys.readouterr().out
    assert "examples:" in top and "exit codes:" in top and "harness eval" in top
    assert main(["eval", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 256)" in text and "(default: hf)" in text
    assert all(name in text for name in BACKEND_NAMES) and all(name in text for name in DATASET_NAMES)
    assert main(["quant-compare", "--help"]) == 0
    text = "".join(capsys.readouterr().out.split())  # argparse may wrap a name at its hyphen
    assert all(m in text for m in METHODS)
    assert main(["score", "--help"]) == 0
    text = "".join(capsys.readouterr().out.split())
    assert all(m in text for m in QA_METRICS)


def test_lists_in_the_grammar_match_the_registries():
    assert set(BACKENDS) == set(BACKEND_NAMES) and tuple(TASKS) == DATASET_NAMES


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("harness ")


@pytest.mark.parametrize(("old", "new"), [(["--results", "X"], ["--output", "X"]), (["--out", "F"], ["-o", "F"])])
def test_old_flag_names_stay_as_aliases(old, new):
    command = "eval-checkpoints" if old[0] == "--results" else "report"
    positional = ["T"] if command == "eval-checkpoints" else ["R"]
    a = _parser().parse_args([command, *positional, *old])
    b = _parser().parse_args([command, *positional, *new])
    assert vars(a) == vars(b)


def test_small_things_users_tripped_over(capsys):
    import harness

    assert {"load_run", "compare_runs", "evaluate"} <= set(dir(harness))
    assert main(["list", "datasets"]) == 0 and "general_mcq" in capsys.readouterr().out
    ns = _parser().parse_args(["eval", "--dtype", "bf16"])
    assert ns.dtype == "bfloat16"
    assert main(["eval", "--dtype", "int3"]) == 2
    assert "expected one of auto" in capsys.readouterr().err
