"""Each bad-input case through the CLI: exit 2, one line naming file and line, earlier results untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write

from harness.cli.main import main

HEADER = "id,question,A,B,C,D,answer\n"
GOOD = HEADER + "1,q,a,b,c,d,A\n"

# (file name, content, extra dataset args, expected message fragment)
CASES = [
    ("x_val.csv", (HEADER + "1,问题,甲,乙,丙,丁,A\n").encode("gbk"), {}, "x_val.csv line 2: not valid UTF-8"),
    ("x_val.csv", HEADER + "1,q,a,b,c,d,e,A\n", {}, "x_val.csv line 2: 8 fields, header has 7 (quote fields that contain commas)"),
    ("x_val.csv", HEADER + "1,q,a,b,c,A\n", {}, "x_val.csv line 2: 6 fields, header has 7"),
    ("x_val.csv", "id,question,A,B,C,D\n1,q,a,b,c,d\n", {}, 'x_val.csv line 1: missing column "answer"'),
    ("x_val.csv", "id,A,B,answer\n1,a,b,A\n", {}, 'x_val.csv line 1: missing column "question"'),
    ("x_val.csv", HEADER + "1,q,a,b,c,d,F\n", {}, "x_val.csv line 2: answer 'F' is not among the options"),
    ("x_val.csv", HEADER + "1,,a,b,c,d,A\n", {}, "x_val.csv line 2: empty question"),
    ("x_val.csv", HEADER + "1,q,a,,,,A\n", {}, "x_val.csv line 2: 1 option(s); at least 2 are needed"),
    ("x_val.csv", HEADER + "1,q,a,,c,d,A\n", {}, "x_val.csv line 2: option B is empty but D is not"),
    ("x_val.csv", "", {}, "x_val.csv: empty file"),
    ("x_val.csv", HEADER, {}, "x_val.csv: no data rows (header only)"),
    ("x_val.csv", GOOD, {"subset_list": ["y"]}, "y_val.csv: subset 'y' from subset_list has no file"),
    ("notes.txt", "hello", {}, "no {subset}_val.csv files"),
    ("x_val.csv", GOOD, {"subset_list": ["../x"]}, "subset name '../x' is a path"),
    ("x_val.jsonl", "{oops\n", {}, "x_val.jsonl line 1: not JSON"),
    ("x_val.jsonl", "[1]\n", {}, "x_val.jsonl line 1: a JSON list, not an object"),
    ("x_val.csv", b"\x00\x01\x02", {}, "x_val.csv: binary file"),
    ("x_val.csv", GOOD, {"few_shot_num": "2"}, "few_shot_num for general_mcq must be a whole number in [0, 10000], got '2'"),
]
QA_CASES = [
    ("qa.jsonl", '{"response": "r"}\n', 'qa.jsonl line 1: no "query"'),
    ("qa.jsonl", '{"query": "q"}\n', "qa.jsonl line 1: no reference"),
    ("qa.jsonl", '{"messages": [{"role": "user", "content": "u"}]}\n', "qa.jsonl line 1: messages has no assistant turn"),
]


@pytest.fixture
def earlier_run(tmp_path) -> tuple[Path, dict[str, bytes]]:
    root = tmp_path / "results"
    assert main(["eval", "--backend", "fake", "--output", str(root)]) == 0
    files = {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    return root, files


def check(root: Path, files: dict[str, bytes], argv: list[str], expected: str, capsys) -> None:
    capsys.readouterr()
    assert main([*argv, "--output", str(root)]) == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()} == files


@pytest.mark.parametrize(("name", "content", "extra", "expected"), CASES)
def test_mcq_bad_input(tmp_path, earlier_run, capsys, name, content, extra, expected):
    data = tmp_path / "data"
    write(data, name, content)
    args = json.dumps({"general_mcq": {"local_path": str(data), **extra}})
    check(*earlier_run, ["eval", "--backend", "fake", "--datasets", "general_mcq", "--dataset-args", args], expected, capsys)


@pytest.mark.parametrize(("name", "content", "expected"), QA_CASES)
def test_qa_bad_input(tmp_path, earlier_run, capsys, name, content, expected):
    data = tmp_path / "data"
    write(data, name, content)
    args = json.dumps({"general_qa": {"local_path": str(data)}})
    check(*earlier_run, ["eval", "--backend", "fake", "--datasets", "general_qa", "--dataset-args", args], expected, capsys)


def test_skip_bad_rows_counts_them_in_results_and_footer(tmp_path, capsys):
    data = tmp_path / "data"
    write(data, "x_val.csv", HEADER + "1,q,a,b,c,d,A\n2,q,a,b,c,d,e,A\n3,q,a,b,c,d,B\n")
    args = json.dumps({"general_mcq": {"local_path": str(data), "on_bad_row": "skip"}})
    assert main(["eval", "--backend", "fake", "--datasets", "general_mcq", "--dataset-args", args, "--run-dir", str(tmp_path / "r")]) == 0
    out, err = capsys.readouterr()
    assert "skipped rows: 1" in out
    assert [line for line in err.splitlines() if line.startswith("warning:")] == [
        f"warning: skipped: {data / 'x_val.csv'} line 3: 8 fields, header has 7 (quote fields that contain commas)"
    ]
    assert json.loads((tmp_path / "r" / "results.json").read_text())["tasks"]["general_mcq"]["skipped_rows"] == 1


FLAG_CASES = [
    (["compare", "A", "B", "--alpha", "5"], "argument --alpha: must be a finite number in (0, 1), got '5'"),
    (["compare", "A", "B", "--alpha", "0"], "argument --alpha: must be a finite number in (0, 1)"),
    (["compare", "A", "B", "--min-delta", "-1"], "argument --min-delta: must be a finite number of at least 0"),
    (["eval", "--limit", "0"], "argument --limit: must be a whole number of at least 1, got '0'"),
    (["eval", "--limit", "-1"], "argument --limit: must be a whole number of at least 1, got '-1'"),
    (["eval", "--temperature", "-1"], "argument --temperature: must be a finite number of at least 0"),
    (["eval", "--temperature", "nan"], "argument --temperature: must be a finite number"),
    (["eval", "--temperature", "inf"], "argument --temperature: must be a finite number"),
    (["eval", "--max-new-tokens", "0"], "argument --max-new-tokens: must be a whole number in [1, 10000000], got '0'"),
    (["eval", "--max-new-tokens", "-5"], "argument --max-new-tokens: must be a whole number in [1, 10000000], got '-5'"),
    (["eval", "--concurrency", "0"], "argument --concurrency: must be a whole number in [1, 4096]"),
    (["eval", "--timeout", "0"], "argument --timeout: must be a finite number above 0"),
    (["eval", "--max-retries", "-1"], "argument --max-retries: must be a whole number in [0, 100]"),
    (["eval", "--seed", "-3"], "argument --seed: must be a whole number of at least 0"),
    (["eval", "--batch-size", "0"], "argument --batch-size: must be a whole number of at least 1"),
    (["eval", "--datasets", "general_mcq", "general_mcq"], "--datasets names general_mcq more than once"),
    (["eval", "--datasets", "general_mcq", "--dataset-args", '{"general_mcq": 5}'], "the value for general_mcq must be an object"),
    (["eval", "--datasets", "general_mcq", "--dataset-args", '{"general_mqc": {}}'], "names 'general_mqc', which is not among --datasets"),
    (["eval", "--dataset-args", '{"general_mcq": {"few_shot_num": -1}}'], "few_shot_num for general_mcq must be a whole number in"),
    (["eval-checkpoints", "X", "--limit", "0"], "argument --limit: must be a whole number of at least 1"),
    (["quant-compare", "--max-new-tokens", "0"], "argument --max-new-tokens: must be a whole number in [1, 10000000]"),
]


@pytest.mark.parametrize(("argv", "expected"), FLAG_CASES)
def test_each_out_of_range_value_is_one_line_exit_2(argv, expected, tmp_path, capsys):
    if argv[0] == "eval":
        argv = [*argv, "--backend", "fake", "--output", str(tmp_path / "out")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()
