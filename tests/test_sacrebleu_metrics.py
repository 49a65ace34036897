"""Corpus BLEU and chrF equal sacrebleu called directly on the same pairs, English and Chinese; the signature is shown."""

from __future__ import annotations

import json

import pytest
from conftest import TEST_DATA, write

sacrebleu = pytest.importorskip("sacrebleu")

from harness.cli.main import main  # noqa: E402
from harness.metrics.corpus import corpus_score, default_tokenizer  # noqa: E402


def english_pairs() -> tuple[list[str], list[str]]:
    refs = [json.loads(x)["reference"] for x in (TEST_DATA / "arc_easy_references.jsonl").read_text(encoding="utf-8").split("\n") if x]
    preds = [" ".join(r.split()[::-1]) if i % 3 == 0 else r.lower() if i % 3 == 1 else r + " indeed" for i, r in enumerate(refs)]
    return preds, refs


def chinese_pairs() -> tuple[list[str], list[str]]:
    rows = [json.loads(x) for x in (TEST_DATA / "evalscope_zh_pairs.jsonl").read_text(encoding="utf-8").split("\n") if x]
    return [r["prediction"] for r in rows], [r["reference"] for r in rows]


@pytest.mark.parametrize(("pairs", "tok"), [(english_pairs, "13a"), (chinese_pairs, "zh")])
def test_corpus_scores_equal_sacrebleu(pairs, tok):
    preds, refs = pairs()
    assert default_tokenizer(refs) == tok
    bleu = corpus_score("sacrebleu", preds, refs)
    assert bleu.value == pytest.approx(sacrebleu.corpus_bleu(preds, [refs], tokenize=tok).score, abs=1e-9)
    assert f"tok:{tok}" in bleu.signature and bleu.n == len(preds)
    assert bleu.ci_low <= bleu.value <= bleu.ci_high and bleu.ci_high - bleu.ci_low > 0
    chrf = corpus_score("chrf", preds, refs)
    assert chrf.value == pytest.approx(sacrebleu.corpus_chrf(preds, [refs]).score, abs=1e-9) and "nc:6" in chrf.signature
    assert corpus_score("sacrebleu", preds, refs, tokenize="char").value == pytest.approx(
        sacrebleu.corpus_bleu(preds, [refs], tokenize="char").score, abs=1e-9
    )


def test_in_a_run_and_in_harness_score(tmp_path, capsys):
    preds, refs = chinese_pairs()
    write(tmp_path / "qa", "zh.jsonl", "".join(json.dumps({"query": p, "response": r}) + "\n" for p, r in zip(preds, refs, strict=True)))
    args = json.dumps({"general_qa": {"local_path": str(tmp_path / "qa"), "metrics": ["sacrebleu", "chrf", "bleu"]}})
    # The fake backend answers each query by echoing it: the predictions are the pairs' predictions.
    assert main(["eval", "--backend", "fake", "--datasets", "general_qa", "--dataset-args", args, "--run-dir", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    row = next(r for r in results["scores"] if r["metric"] == "sacrebleu")
    assert row["score"] == pytest.approx(sacrebleu.corpus_bleu(preds, [refs], tokenize="zh").score, abs=1e-9)
    assert row["aggregation"] == "corpus" and row["n"] == len(preds) and row["ci_low"] < row["score"] < row["ci_high"]
    signature = results["tasks"]["general_qa"]["sacrebleu"]["sacrebleu"]
    assert "tok:zh" in signature and f"signature {signature}" in " ".join(out.split())
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"prediction": p, "reference": r}) + "\n" for p, r in zip(*english_pairs(), strict=True)))
    assert main(["score", str(pairs), "--metrics", "chrf,sacrebleu", "--format", "json"]) == 0
    rows = {r["metric"]: r for r in json.loads(capsys.readouterr().out)}
    preds, refs = english_pairs()
    assert rows["chrf"]["score"] == pytest.approx(sacrebleu.corpus_chrf(preds, [refs]).score, abs=1e-9)
    assert rows["sacrebleu"]["score"] == pytest.approx(sacrebleu.corpus_bleu(preds, [refs]).score, abs=1e-9)
