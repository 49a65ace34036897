"""`evaluate:` metrics: a local module gives the number calling it directly gives (and a hand computation); it runs only
with --trust-code; its code (the script and the helpers it imports) is in the scoring identity, so an edit scores the
stored answers again without a backend call; a metric that fails keeps every answer; a missing module is one line."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest
from conftest import TEST_DATA, write

evaluate = pytest.importorskip("evaluate")

from harness.cli.main import main  # noqa: E402
from harness.metrics.hf_evaluate import evaluate_scores, load_module  # noqa: E402

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


def eval_args(folder, module, trust: bool = True) -> list[str]:
    args = json.dumps({"general_qa": {"local_path": str(folder), "metrics": ["bleu", f"evaluate:{module}"]}})
    return ["eval", "--backend", "fake", "--datasets", "general_qa", "--dataset-args", args, *(["--trust-code"] if trust else [])]


def test_module_equals_direct_call_and_hand_computation():
    preds, refs = [p for p, _ in PAIRS], [r for _, r in PAIRS]
    direct = evaluate.load(str(MODULE)).compute(predictions=preds, references=refs)
    load_module(f"evaluate:{MODULE}", trusted=True)
    scores = {s.metric: s for s in evaluate_scores(f"evaluate:{MODULE}", preds, refs)}
    assert set(scores) == {"evaluate:word_f1.f1", "evaluate:word_f1.pooled_precision"}
    assert scores["evaluate:word_f1.f1"].value == pytest.approx(direct["f1"], abs=1e-12)
    assert scores["evaluate:word_f1.pooled_precision"].value == pytest.approx(direct["pooled_precision"], abs=1e-12)
    f1, pooled = hand_word_f1(preds, refs)
    assert scores["evaluate:word_f1.f1"].value == pytest.approx(f1)
    assert scores["evaluate:word_f1.pooled_precision"].value == pytest.approx(pooled)
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
    rows = {r["metric"]: r for r in results["scores"] if r["metric"].startswith("evaluate:word_f1")}
    direct = evaluate.load(str(MODULE)).compute(predictions=preds, references=refs)
    row = rows["evaluate:word_f1.f1"]
    assert row["score"] == pytest.approx(direct["f1"], abs=1e-12) and row["aggregation"] == "corpus"
    described = results["tasks"]["general_qa"]["evaluate"][f"evaluate:{MODULE}"]
    assert described["module"] == "word_f1" and described["evaluate_version"] == evaluate.__version__ and len(described["sha256"]) == 64
    assert f"module word_f1 (code sha256 {described['sha256'][:12]}, 1 file(s))" in out


class CountingBackend:
    """The fake backend, counting every request it is given: a rescore must give it none."""

    def __init__(self):
        from harness.backends.fake import FakeBackend

        self.inner, self.requests = FakeBackend("hash"), 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def generate(self, requests, config):
        self.requests += len(requests)
        return self.inner.generate(requests, config)


def run_with(module, folder, run_dir, backend, metrics=None, trust=True):
    from harness.engine.config import EvalConfig
    from harness.engine.runner import evaluate as run_eval

    metrics = metrics or ["bleu", f"evaluate:{module}"]
    config = EvalConfig(backend="fake", model="hash", datasets=("general_qa",), trust_code=trust,
                        dataset_args={"general_qa": {"local_path": str(folder), "metrics": metrics}})  # fmt: skip
    return run_eval(config, backend=backend, run_dir=run_dir)


def test_an_edited_helper_scores_the_stored_answers_again_without_a_backend_call(tmp_path):
    folder = qa_folder(tmp_path)
    module = tmp_path / "word_f1"
    shutil.copytree(MODULE, module)
    script = module / "word_f1.py"
    (module / "scale.py").write_text("FACTOR = 1.0\n")
    script.write_text(script.read_text().replace("import datasets", "import datasets\n\nfrom .scale import FACTOR", 1)
                      .replace('"f1": sum(f1s) / len(f1s)', '"f1": FACTOR * sum(f1s) / len(f1s)'))  # fmt: skip
    backend = CountingBackend()
    first = run_with(module, folder, tmp_path / "run", backend)
    assert backend.requests == len(PAIRS)
    described = first.results["tasks"]["general_qa"]["evaluate"][f"evaluate:{module}"]
    assert described["files"] == ["scale.py", "word_f1.py"]
    score = next(r["score"] for r in first.results["scores"] if r["metric"] == "evaluate:word_f1.f1" and r["subset"] == "en")
    again = run_with(module, folder, tmp_path / "run", backend)
    assert again.reused and backend.requests == len(PAIRS)  # unchanged: the finished run answers
    (module / "scale.py").write_text("FACTOR = 0.5\n")  # only the helper changes
    third = run_with(module, folder, tmp_path / "run", backend)
    assert not third.reused and backend.requests == len(PAIRS)  # scored again from the stored answers: no request
    rescored = next(r["score"] for r in third.results["scores"] if r["metric"] == "evaluate:word_f1.f1" and r["subset"] == "en")
    assert rescored == pytest.approx(score / 2)
    assert third.results["scoring_identity"] != first.results["scoring_identity"]
    assert json.loads((tmp_path / "run" / "run.json").read_text())["inputs"]  # the same folder: the answers' identity held


def test_a_metric_that_fails_late_keeps_every_answer_and_the_fix_costs_no_request(tmp_path, capsys):
    folder = qa_folder(tmp_path)
    module = tmp_path / "word_f1"
    shutil.copytree(MODULE, module)
    script = module / "word_f1.py"
    good = script.read_text()
    # Passes the probe pair the plan checks, then raises on the run's answers.
    script.write_text(good.replace("def _compute(self, predictions, references):",
                                   "def _compute(self, predictions, references):\n        if len(predictions) > 1:\n"
                                   "            raise ValueError('a bug that shows only on real data')", 1))  # fmt: skip
    backend = CountingBackend()
    from harness.core.errors import UserError

    with pytest.raises(UserError, match="a bug that shows only on real data"):
        run_with(module, folder, tmp_path / "run", backend)
    assert backend.requests == len(PAIRS)
    assert (tmp_path / "run" / "samples.partial.jsonl").read_text().count("\n") == len(PAIRS)  # every answer kept
    script.write_text(good)
    fixed = run_with(module, folder, tmp_path / "run", backend)
    assert backend.requests == len(PAIRS) and any(r["metric"] == "evaluate:word_f1.f1" for r in fixed.results["scores"])
    # Adding a metric later also reuses the answers.
    more = run_with(module, folder, tmp_path / "run", backend, metrics=["bleu", "exact_match", f"evaluate:{module}"])
    assert backend.requests == len(PAIRS) and any(r["metric"] == "exact_match" for r in more.results["scores"])
    records = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert all("exact_match" in r["scores"] for r in records)


def test_code_runs_only_with_the_opt_in(tmp_path, capsys, monkeypatch):
    folder = qa_folder(tmp_path)
    marker = tmp_path / "ran.txt"
    module = tmp_path / "sneaky"
    shutil.copytree(MODULE, module)
    (module / "word_f1.py").rename(module / "sneaky.py")
    script = module / "sneaky.py"
    script.write_text(f"open({str(marker)!r}, 'w').write('ran')\n" + script.read_text())
    settings = write(tmp_path, "run.yaml", f"datasets: [general_qa]\nbackend: fake\ndataset_args:\n  general_qa:\n"
                                           f"    local_path: {folder}\n    metrics: ['evaluate:{module}']\n")  # fmt: skip
    assert main(["eval", "--config", str(settings), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "runs Python code" in err and "--trust-code" in err and err.count("\n") == 1
    assert not marker.exists()  # nothing executed
    pairs = write(tmp_path, "pairs.jsonl", json.dumps({"prediction": "a", "reference": "a"}) + "\n")
    assert main(["score", str(pairs), "--metrics", f"evaluate:{module}"]) == 2 and not marker.exists()
    capsys.readouterr()
    assert main(["eval", "--config", str(settings), "--run-dir", str(tmp_path / "run"), "--trust-code"]) == 0
    assert marker.read_text() == "ran"


def test_a_bare_name_never_loads_a_folder_of_the_working_directory(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    shutil.copytree(MODULE, tmp_path / "rouge_local")
    (tmp_path / "rouge_local" / "word_f1.py").rename(tmp_path / "rouge_local" / "rouge_local.py")
    assert main(["eval", *eval_args(qa_folder(tmp_path), "rouge_local")[1:], "--run-dir", str(tmp_path / "run")]) == 2
    assert "not in the local cache" in capsys.readouterr().err
    assert main(["eval", *eval_args(qa_folder(tmp_path), "./rouge_local")[1:], "--run-dir", str(tmp_path / "run")]) == 0


def test_a_user_metric_cannot_take_a_built_in_rows_name(tmp_path, capsys):
    module = tmp_path / "exact_match"
    shutil.copytree(MODULE, module)
    (module / "word_f1.py").rename(module / "exact_match.py")
    script = module / "exact_match.py"
    script.write_text(script.read_text().replace('"f1": ', '"exact_match": ').replace("class WordF1", "class ExactMatch"))
    pairs = write(tmp_path, "pairs.jsonl", "".join(json.dumps({"prediction": p, "reference": r}) + "\n" for p, r in PAIRS))
    assert main(["score", str(pairs), "--metrics", f"exact_match,evaluate:{module}", "--format", "json", "--trust-code"]) == 0
    names = [r["metric"] for r in json.loads(capsys.readouterr().out) if r["subset"] == "pairs"]
    assert names.count("exact_match") == 1 and any(n.startswith("evaluate:exact_match") for n in names)


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
    assert main(["score", str(pairs), "--metrics", f"evaluate:{module}", "--trust-code"]) == 2
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
    assert main(["score", str(pairs), "--metrics", f"exact_match,evaluate:{MODULE}", "--format", "json", "--trust-code"]) == 0
    rows = {r["metric"]: r for r in json.loads(capsys.readouterr().out)}
    f1, pooled = hand_word_f1([p for p, _ in PAIRS], [r for _, r in PAIRS])
    assert rows["evaluate:word_f1.f1"]["score"] == pytest.approx(f1)
    assert rows["evaluate:word_f1.pooled_precision"]["score"] == pytest.approx(pooled)
    assert rows["exact_match"]["score"] == pytest.approx(1 / 6)


def test_the_documented_template_scores_as_the_doc_says(tmp_path, capsys):
    import re

    from conftest import ROOT

    doc = (ROOT / "docs" / "evaluate-metric.md").read_text(encoding="utf-8")
    (code,) = re.findall(r"```python\n(.*?)```", doc, re.S)
    write(tmp_path / "my_metric", "my_metric.py", code)
    pairs = write(tmp_path, "pairs.jsonl", "".join(json.dumps({"prediction": p, "reference": r}) + "\n" for p, r in PAIRS))
    assert main(["score", str(pairs), "--metrics", f"evaluate:{tmp_path / 'my_metric'}", "--format", "json", "--trust-code"]) == 0
    rows = {r["metric"]: r for r in json.loads(capsys.readouterr().out) if r["subset"] == "pairs"}
    hand = []
    for p, r in PAIRS:
        words, found = r.lower().split(), set(p.lower().split())
        hand.append(sum(w in found for w in words) / len(words))
    assert rows["evaluate:my_metric.recall"]["score"] == pytest.approx(sum(hand) / len(hand))
    assert rows["evaluate:my_metric.per_sample_recall"]["score"] == pytest.approx(sum(hand) / len(hand))
