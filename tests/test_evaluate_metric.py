"""`evaluate:` metrics: a local module gives the number calling it directly gives (and a hand computation),
its script's hash is in the run identity, and a module that is missing offline is one line, exit 2."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest
from conftest import TEST_DATA, write

evaluate = pytest.importorskip("evaluate")

from harness.cli.main import main  # noqa: E402
from harness.metrics.hf_evaluate import evaluate_scores  # noqa: E402

MODULE = TEST_DATA / "evaluate" / "word_f1"
PAIRS = [
    ("the cat sat on the mat", "the cat sat on the mat"),
    ("a dog ran", "the dog ran away"),
    ("Paris", "paris is the capital"),
    ("", "nothing here"),
    ("x y z", "p q"),
    ("one two two", "two one"),
]


def hand_word_f1(preds: list[str], refs: list[str]) -> tuple[float, float]:
    """SQuAD-style word F1 averaged, and pooled precision: written here, not taken from the module."""
    f1s, common_all, predicted = [], 0, 0
    for p, r in zip(preds, refs, strict=True):
        pw, rw = p.lower().split(), r.lower().split()
        common = sum((Counter(pw) & Counter(rw)).values())
        common_all, predicted = common_all + common, predicted + len(pw)
        f1s.append(float(pw == rw) if not pw or not rw else 0.0 if not common else 2 * common / (len(pw) + len(rw)))
    return sum(f1s) / len(f1s), common_all / predicted


def qa_folder(tmp_path, pairs=PAIRS):
    # The fake backend answers each query with the query: the predictions are the pairs' first halves.
    write(tmp_path / "qa", "en.jsonl", "".join(json.dumps({"query": p, "response": r}) + "\n" for p, r in pairs))
    return tmp_path / "qa"


def eval_args(folder, module) -> list[str]:
    args = json.dumps({"general_qa": {"local_path": str(folder), "metrics": ["bleu", f"evaluate:{module}"]}})
    return ["eval", "--backend", "fake", "--datasets", "general_qa", "--dataset-args", args]


def test_module_equals_direct_call_and_hand_computation():
    preds, refs = [p for p, _ in PAIRS], [r for _, r in PAIRS]
    direct = evaluate.load(str(MODULE)).compute(predictions=preds, references=refs)
    scores = {s.metric: s for s in evaluate_scores(f"evaluate:{MODULE}", preds, refs)}
    assert set(scores) == {"word_f1.f1", "word_f1.pooled_precision"}
    assert scores["word_f1.f1"].value == pytest.approx(direct["f1"], abs=1e-12)
    assert scores["word_f1.pooled_precision"].value == pytest.approx(direct["pooled_precision"], abs=1e-12)
    f1, pooled = hand_word_f1(preds, refs)
    assert scores["word_f1.f1"].value == pytest.approx(f1) and scores["word_f1.pooled_precision"].value == pytest.approx(pooled)
    for s in scores.values():
        assert s.n == len(PAIRS) and s.ci_low <= s.value <= s.ci_high and s.ci_high > s.ci_low


def test_in_a_run_with_identity_and_notes(tmp_path, capsys):
    folder = qa_folder(tmp_path)
    assert main([*eval_args(folder, MODULE), "--run-dir", str(tmp_path / "run")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    samples = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    preds, refs = [s["prediction"] or "" for s in samples], [s["reference"] for s in samples]
    assert sorted(zip(preds, refs, strict=True)) == sorted(PAIRS)
    rows = {r["metric"]: r for r in results["scores"] if r["metric"].startswith("word_f1")}
    direct = evaluate.load(str(MODULE)).compute(predictions=preds, references=refs)
    assert rows["word_f1.f1"]["score"] == pytest.approx(direct["f1"], abs=1e-12) and rows["word_f1.f1"]["aggregation"] == "corpus"
    described = results["tasks"]["general_qa"]["evaluate"][f"evaluate:{MODULE}"]
    assert described["module"] == "word_f1" and described["evaluate_version"] == evaluate.__version__ and len(described["sha256"]) == 64
    assert f"module word_f1 (script sha256 {described['sha256'][:12]})" in out


def test_identity_changes_when_the_script_changes(tmp_path):
    folder = qa_folder(tmp_path)
    module = tmp_path / "word_f1"
    shutil.copytree(MODULE, module)

    def inputs(run: str) -> str:
        assert main([*eval_args(folder, module), "--run-dir", str(tmp_path / run)]) == 0
        return json.loads((tmp_path / run / "run.json").read_text())["inputs"]

    first = inputs("a")
    assert inputs("b") == first  # same script: same identity
    script = module / "word_f1.py"
    script.write_text(script.read_text() + "\n# an edit that changes nothing computed still changes what ran\n")
    assert inputs("c") != first


@pytest.mark.parametrize(
    ("module", "says"),
    [
        ("no_such_metric_xyz", "evaluate:no_such_metric_xyz: not in the local cache (runs never download metric modules)"),
        ("./missing/metric.py", "no metric script at missing/metric.py"),
    ],
)
def test_missing_offline_is_one_line_exit_2(tmp_path, capsys, monkeypatch, module, says):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    folder = qa_folder(tmp_path)
    assert main([*eval_args(folder, module), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "run" / "samples.jsonl").exists()  # refused before any work
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"prediction": "a", "reference": "a"}) + "\n")
    assert main(["score", str(pairs), "--metrics", f"evaluate:{module}"]) == 2
    assert says in capsys.readouterr().err


def test_a_module_that_cannot_take_strings_is_refused_before_work(tmp_path, capsys):
    broken = tmp_path / "needs_ints"
    broken.mkdir()
    (broken / "needs_ints.py").write_text(
        (MODULE / "word_f1.py").read_text().replace('datasets.Value("string")', 'datasets.Value("int32")')
    )
    assert main([*eval_args(qa_folder(tmp_path), broken), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "compute(predictions=[str], references=[str]) failed on a probe pair" in err and len(err.strip().splitlines()) == 1


def test_harness_score(tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"prediction": p, "reference": r}) + "\n" for p, r in PAIRS))
    assert main(["score", str(pairs), "--metrics", f"exact_match,evaluate:{MODULE}", "--format", "json"]) == 0
    rows = {r["metric"]: r for r in json.loads(capsys.readouterr().out)}
    f1, pooled = hand_word_f1([p for p, _ in PAIRS], [r for _, r in PAIRS])
    assert rows["word_f1.f1"]["score"] == pytest.approx(f1) and rows["word_f1.pooled_precision"]["score"] == pytest.approx(pooled)
    assert rows["exact_match"]["score"] == pytest.approx(1 / 6)
