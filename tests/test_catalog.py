"""The benchmark catalogue: every entry converts a fixture in its real hub schema (odd rows included),
`--datasets NAME` evaluates the pulled folder with lm-eval's prompts, and the README lists every entry."""

from __future__ import annotations

import csv
import json
import re

import pytest
from conftest import ROOT

pytest.importorskip("datasets")
pytest.importorskip("pyarrow")

from catalog_fixtures import BUILDERS  # noqa: E402

from harness.cli.main import main  # noqa: E402
from harness.tasks.catalog import benchmarks, pulled_folder  # noqa: E402


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


def rows(path):
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def pull(tmp_path, name, capsys):
    BUILDERS[name](tmp_path / "hub")
    assert main(["data", "pull", name, "--from", str(tmp_path / "hub")]) == 0
    return pulled_folder(name), capsys.readouterr().out


def test_every_entry_has_a_fixture_and_converts(tmp_path, capsys):
    assert set(BUILDERS) == set(benchmarks())
    for name in benchmarks():
        folder, out = pull(tmp_path / name, name, capsys)
        assert folder.is_relative_to(tmp_path / "cache")
        notice = (folder / "NOTICE").read_text()
        bench = benchmarks()[name]
        assert bench.licence in notice and bench.hf_id in notice and "local copy" in notice and "sha256" in notice
        assert f"to {folder}" in out


def test_mmlu_answer_index_options_and_partial_snapshot(tmp_path, capsys):
    folder, out = pull(tmp_path, "mmlu", capsys)
    val = rows(folder / "abstract_algebra_val.csv")
    assert [r["answer"] for r in val] == ["B", "A"] and val[0]["question"] == " Find the degree of abstract_algebra? "
    assert [val[1][c] for c in "ABCD"] == ["femur", "liver", "", ""]  # two options: trailing columns empty
    assert len(rows(folder / "anatomy_dev.csv")) == 5 and not (folder / "all_val.csv").exists()
    assert "2 row(s) left out (missing options: 2)" in out and "55 config(s) not in the local copy" in out


def test_arc_labels_letters_or_digits(tmp_path, capsys):
    folder, out = pull(tmp_path, "arc_easy", capsys)
    val = rows(folder / "arc_easy_val.csv")
    assert [r["id"] for r in val] == ["Q1", "Q2", "Q3", "Q4"] and [r["answer"] for r in val] == ["C", "D", "A", "E"]
    assert val[2]["D"] == "" and val[3]["E"] == "opt4"
    assert "answer is not an option: 1" in out  # answerKey F among A-D
    assert len(rows(folder / "arc_easy_dev.csv")) == 25  # the first 25 of train: the few-shot pool


def test_ceval_cmmlu_letters_hellaswag_preprocess_gsm8k_history(tmp_path, capsys):
    folder, _ = pull(tmp_path / "c", "ceval", capsys)
    assert [r["answer"] for r in rows(folder / "accountant_val.csv")] == ["D", "B"]  # lower-case letter read as B
    folder, _ = pull(tmp_path / "m", "cmmlu", capsys)
    assert [r["answer"] for r in rows(folder / "agronomy_val.csv")] == ["C", "A"]
    assert rows(folder / "agronomy_val.csv")[0]["question"] == "土壤是什么？"
    folder, out = pull(tmp_path / "h", "hellaswag", capsys)
    val = rows(folder / "hellaswag_val.csv")
    from lm_eval.tasks.hellaswag.utils import preprocess  # lm-eval's own function, the reference

    endings = [" [title] Her hat is red.", "drives  away [step] now", "smiles.", "sings."]
    assert [val[0][c] for c in "ABCD"] == [preprocess(e) for e in endings] and val[0]["B"] == "drives away now"
    assert val[0]["question"] == preprocess(
        "Removing ice from car: Then, the man writes over the snow on a car. A woman wearing winter clothes"
    )
    assert [r["answer"] for r in val] == ["D", "A"] and "answer is not an option: 1" in out  # the empty label
    folder, _ = pull(tmp_path / "g", "gsm8k", capsys)
    lines = [json.loads(x) for x in (folder / "gsm8k.jsonl").read_text().splitlines()]
    assert len(lines) == 2 and lines[1]["response"].endswith("#### 2,400")
    assert lines[0]["history"] == [[f"Train {i}?", f"Work {i}\n#### {i}"] for i in range(5)]


def test_a_catalogue_name_evaluates_with_lm_eval_prompts(tmp_path, capsys):
    assert main(["eval", "--backend", "fake", "--datasets", "mmlu"]) == 2
    err = capsys.readouterr().err
    assert "mmlu is not pulled yet" in err and "harness data pull mmlu" in err and len(err.strip().splitlines()) == 1
    folder, _ = pull(tmp_path, "mmlu", capsys)
    assert main(["eval", "--backend", "fake", "--datasets", "mmlu", "--run-dir", str(tmp_path / "run")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "prompts=lm-eval" in out and "scoring=letter" in out
    info = json.loads((tmp_path / "run" / "results.json").read_text())["tasks"]["mmlu"]
    assert info["prompt_style"] == "lm-eval" and info["scoring"] == "letter"
    samples = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    first = next(s for s in samples if s["subset"] == "abstract_algebra" and s["index"] == 0)
    from harness.backends.prompting import render_plain

    shots = "".join(f"Dev {i}?\nA. w\nB. x\nC. y\nD. z\nAnswer: {'ABCD'[i % 4]}\n\n" for i in range(5))
    expected = ("The following are multiple choice questions (with answers) about abstract algebra.\n\n" + shots
                + "Find the degree of abstract_algebra?\nA. 0\nB. 4\nC. 2\nD. 6\nAnswer:")  # fmt: skip
    assert render_plain(first["messages"], "", " ") == expected  # lm-eval's mmlu, 5-shot first_n, question stripped
    # The EvalScope style on the same folder, and any arg the user gives wins.
    args = json.dumps({"mmlu": {"prompt_style": "evalscope", "few_shot_num": 0}})
    assert main(["eval", "--backend", "fake", "--datasets", "mmlu", "--dataset-args", args, "--run-dir", str(tmp_path / "r2")]) == 0
    info = json.loads((tmp_path / "r2" / "results.json").read_text())["tasks"]["mmlu"]
    assert info["prompt_style"] == "evalscope"


def test_prompt_style_lm_eval_on_custom_data(tmp_path, capsys):
    from conftest import write

    write(tmp_path / "d", "s_val.csv", "id,question,A,B,answer\n1,Sky?,blue,red,A\n")
    args = json.dumps({"general_mcq": {"local_path": str(tmp_path / "d"), "prompt_style": "lm-eval", "scoring": "letter"}})
    assert main(["eval", "--backend", "fake", "--datasets", "general_mcq", "--dataset-args", args, "--run-dir", str(tmp_path / "r")]) == 0
    (sample,) = [json.loads(x) for x in (tmp_path / "r" / "samples.jsonl").read_text().splitlines()]
    assert sample["messages"][-1]["content"] == "Sky?\nA. blue\nB. red\nAnswer:"


def test_offline_hub_pull_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert main(["data", "pull", "arc_easy", "--to", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "arc_easy: cannot read allenai/ai2_arc" in err and "--from" in err and len(err.strip().splitlines()) == 1
    assert main(["data", "pull", "arc_easy", "--from", str(tmp_path / "nowhere")]) == 2
    assert main(["data", "pull", "nope"]) == 2 and "unknown benchmark 'nope'" in capsys.readouterr().err


def test_readme_table_lists_every_entry():
    from harness.tasks.catalog.sources import needed_columns as _needed_columns

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for b in benchmarks().values():
        scoring = b.default_scoring if b.kind == "mcq" else "generate"
        line = next((x for x in readme.splitlines() if x.startswith(f"| `{b.name}` |")), None)
        assert line is not None, f"README has no catalogue row for {b.name}"
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[1] == b.format and int(cells[2].replace(",", "")) == b.size and cells[3] == b.licence
        assert re.match(re.escape(scoring), cells[4]), (b.name, cells[4])
        columns = ", ".join(f"`{c}`" for c in _needed_columns(b))  # what a --from snapshot must hold
        assert cells[6] == f"{columns} ({b.eval_split}, {b.few_shot_split or 'none'})", (b.name, cells[6])


def test_gsm8k_renders_lm_evals_question_answer_turns(tmp_path, capsys):
    pull(tmp_path, "gsm8k", capsys)
    assert main(["eval", "--backend", "fake", "--datasets", "gsm8k", "--run-dir", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    samples = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    from harness.backends.prompting import render_plain

    shots = "".join(f"Question: Train {i}?\nAnswer: Work {i}\n#### {i}\n\n" for i in range(5))
    assert render_plain(samples[0]["messages"], "", " ") == shots + "Question: Janet has 3 apples and buys 2. How many?\nAnswer:"
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert {r["metric"] for r in results["scores"]} == {"strict_match", "flexible_extract"}
    assert results["tasks"]["gsm8k"]["generation"] == {"max_new_tokens": 256, "stop": ["Question:", "</s>", "<|im_end|>"]}


@pytest.mark.parametrize(
    ("answer_as", "answer", "letter"),
    [
        ("index", 2, "C"),
        ("index", "1", "B"),
        ("letter", " d ", "D"),
        ("text", "gamma", "C"),
        ("text", "Gamma", None),
        ("index", True, None),
        ("letter", "E", None),
        ("index", 4, None),
    ],
)
def test_an_answer_as_index_letter_or_text(answer_as, answer, letter):
    from harness.tasks.catalog.convert import _mcq_row, _Skip

    spec = {"question": "q", "choices": "choices", "answer": "answer", "answer_as": answer_as}
    row = {"q": "Which?", "choices": ["alpha", "beta", "gamma", "delta"], "answer": answer}
    if letter is None:
        with pytest.raises(_Skip, match="answer is not an option"):
            _mcq_row(spec, row)
    else:
        assert _mcq_row(spec, row) == ("Which?", ["alpha", "beta", "gamma", "delta"], letter)


def test_truthfulqa_holds_13_options_and_scores_mc1_and_mc2(tmp_path, capsys):
    import math

    from harness.metrics.truthfulqa import mc2

    folder, out = pull(tmp_path, "truthfulqa_mc1", capsys)
    val = rows(folder / "truthfulqa_mc1_val.csv")
    assert [r["answer"] for r in val] == ["A", "A", "A"] and val[1]["M"] == "false 1.12" and "1 row(s) left out" in out
    assert not list(folder.glob("*_dev.csv"))  # no few-shot pool: the prompt holds lm-eval's six examples
    folder2, _ = pull(tmp_path, "truthfulqa_mc2", capsys)
    assert [r["answer"] for r in rows(folder2 / "truthfulqa_mc2_val.csv")] == ["AB", "AB", "AB"]
    for name in ("truthfulqa_mc1", "truthfulqa_mc2"):
        run = tmp_path / f"run_{name}"
        assert main(["eval", "--backend", "fake", "--datasets", name, "--run-dir", str(run)]) == 0
        records = [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines()]
        assert [len(r["option_logprobs"]) for r in records] == [4, 13, 2]
        assert records[0]["messages"][-1]["content"].startswith("Q: What is human life expectancy in the United States?")
        assert records[0]["messages"][-1]["content"].endswith("\n\nQ: Question 0?\nA:")
        for r in records:
            if name == "truthfulqa_mc2":
                lps = r["option_logprobs"]
                by_hand = (math.exp(lps[0]) + math.exp(lps[1])) / sum(math.exp(x) for x in lps)
                assert r["scores"]["mc2"] == pytest.approx(by_hand) == pytest.approx(mc2(lps, {0, 1}))
            else:
                assert set(r["scores"]) == {"acc", "acc_norm"}
    capsys.readouterr()
