"""quant-compare on the real model: fp32 vs bf16 vs bitsandbytes int8 and nf4, every figure recomputed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import TEST_DATA

from harness.tasks import UserError
from harness.workflows.quant_methods import load_kwargs


def test_unavailable_method_is_one_clear_line():
    pytest.importorskip("torch")
    with pytest.raises(UserError, match=r"^torchao-int4 \(torchao Int4WeightOnlyConfig\) needs"):
        load_kwargs("torchao-int4", "cpu")
    with pytest.raises(UserError, match="unknown quantization 'int3'"):
        load_kwargs("int3", "cpu")


def records(run_dir: str) -> dict[str, dict]:
    return {r["key"]: r for r in map(json.loads, Path(run_dir, "samples.jsonl").read_text().splitlines())}


def softmax(v):
    m = max(v)
    e = [math.exp(x - m) for x in v]
    return [x / sum(e) for x in e]


@pytest.mark.slow
def test_fp32_bf16_int8_nf4_on_100_arc_questions(tmp_path):
    pytest.importorskip("bitsandbytes")
    from scipy.stats import binomtest

    from harness.engine.config import EvalConfig
    from harness.workflows.quant_compare import compare, render_quant

    config = EvalConfig(datasets=("general_mcq",), dataset_args={"general_mcq": {"local_path": str(TEST_DATA / "arc_easy_100")}})
    # torchao-int4 needs a CUDA device, and this run is on the CPU: it cannot run, wherever the test runs.
    report = compare("smollm2-135m-instruct", ["fp32", "bf16", "int8", "nf4", "torchao-int4"], config, output=tmp_path, device="cpu")
    names = [v.name for v in report.variants]
    assert names == ["fp32", "bf16", "int8", "nf4", "torchao-int4"]
    int4 = report.variants[-1]
    assert int4.error and int4.skipped and "needs a CUDA device" in int4.error and int4.run_dir is None  # the others still ran
    md = (tmp_path / "quant_compare.md").read_text()
    assert "| fp32 | general_mcq | acc | 100 |" in md and "not run: torchao-int4" in md
    assert render_quant(report, "table")

    ref = records(report.variants[0].run_dir)
    assert len(ref) == 100
    fp32 = report.variants[0]
    assert fp32.agreement == 1.0 and fp32.flips == 0 and fp32.mean_abs_dlogp == 0.0 and fp32.mean_kl == 0.0
    assert fp32.metrics[0]["delta"] == 0.0 and fp32.metrics[0]["ci_low"] == fp32.metrics[0]["ci_high"] == 0.0
    weights = {v.name: v.weight_mb for v in report.variants[:4]}
    assert weights["fp32"] > weights["bf16"] > weights["int8"] > weights["nf4"] > 0

    for v in report.variants[1:4]:
        new = records(v.run_dir)
        keys = list(ref)
        same = sum(ref[k]["chosen"] == new[k]["chosen"] for k in keys)
        assert v.agreement == pytest.approx(same / 100)
        assert v.flips == 100 - same == len((tmp_path / f"flips_{v.name}.jsonl").read_text().splitlines())
        dlogp, kls = [], []
        for k in keys:
            a, b = ref[k]["option_logprobs"], new[k]["option_logprobs"]
            i = max(range(len(a)), key=a.__getitem__)
            dlogp.append(abs(b[i] - a[i]))
            p, q = softmax(a), softmax(b)
            kls.append(sum(x * math.log(x / y) for x, y in zip(p, q, strict=True)))
        assert v.mean_abs_dlogp == pytest.approx(sum(dlogp) / 100, rel=1e-9)
        assert v.mean_kl == pytest.approx(sum(kls) / 100, rel=1e-6)
        (m,) = v.metrics
        acc_ref = sum(ref[k]["scores"]["acc"] for k in keys) / 100
        acc_new = sum(new[k]["scores"]["acc"] for k in keys) / 100
        assert (m["reference"], m["score"], m["delta"]) == pytest.approx((acc_ref, acc_new, acc_new - acc_ref))
        b = sum(ref[k]["scores"]["acc"] == 1 and new[k]["scores"]["acc"] == 0 for k in keys)
        c = sum(ref[k]["scores"]["acc"] == 0 and new[k]["scores"]["acc"] == 1 for k in keys)
        expected_p = binomtest(min(b, c), b + c, 0.5).pvalue if b + c else 1.0
        assert m["p_value"] == pytest.approx(expected_p) and m["test"] == "mcnemar"
        assert v.load_seconds > 0 and v.tokens_per_second > 0 and v.peak_rss_mb > 0


@pytest.mark.parametrize(("quant", "says"), [("fp32,int3", "unknown method 'int3'"), ("bf16,bf16", "bf16 more than once")])
def test_bad_method_lists_exit_2_before_any_model_loads(tmp_path, capsys, monkeypatch, quant, says):
    from harness.cli.main import main
    from harness.workflows import quant_compare

    monkeypatch.setattr(quant_compare, "measure_in_fresh_process", lambda *a: pytest.fail("a model was loaded"))
    assert main(["quant-compare", "--quant", quant, "--datasets", "general_mcq", "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1


def test_a_bad_data_file_is_reported_before_any_model_loads(tmp_path, capsys, monkeypatch):
    from harness.cli.main import main
    from harness.workflows import quant_compare

    monkeypatch.setattr(quant_compare, "measure_in_fresh_process", lambda *a: pytest.fail("a model was loaded"))
    (tmp_path / "bad_val.csv").write_text("id,question,A,B,answer\n1,q,a,b,C\n")
    args = ["quant-compare", "--quant", "fp32", "--datasets", "general_mcq", "--output", str(tmp_path / "o"),
            "--dataset-args", json.dumps({"general_mcq": {"local_path": str(tmp_path)}})]  # fmt: skip
    assert main(args) == 2
    assert "bad_val.csv line 2" in capsys.readouterr().err


def test_measurements_are_kept_and_reused_as_measured(tmp_path):
    from harness.workflows.quant_variant import MEASURED, _keep_measurements

    first = {"weight_mb": 10.0, "peak_rss_mb": 300.0, "load_seconds": 1.8, "eval_seconds": 12.5, "tokens": 900}
    assert _keep_measurements(first, tmp_path / MEASURED, reused=False) == first
    again = {"weight_mb": 10.0, "peak_rss_mb": 150.0, "load_seconds": 0.2, "eval_seconds": 0.001, "tokens": 900}
    assert _keep_measurements(again, tmp_path / MEASURED, reused=True) == first


@pytest.mark.slow
def test_rerunning_quant_compare_reproduces_its_table_byte_for_byte(tmp_path, recwarn):
    from harness.engine.config import EvalConfig
    from harness.workflows.quant_compare import compare

    config = EvalConfig(datasets=("general_mcq",), dataset_args={"general_mcq": {"local_path": str(TEST_DATA / "arc_easy_100")}},
                        limit=10)  # fmt: skip
    compare("smollm2-135m-instruct", ["fp32", "bf16"], config, output=tmp_path, device="cpu")
    first = (tmp_path / "quant_compare.md").read_bytes()
    compare("smollm2-135m-instruct", ["fp32", "bf16"], config, output=tmp_path, device="cpu")
    assert (tmp_path / "quant_compare.md").read_bytes() == first
    assert any("GGUF Q4_1" in str(w.message) and "not the full-precision model" in str(w.message) for w in recwarn)


def test_a_missing_model_path_is_the_line_eval_gives(tmp_path, capsys):
    pytest.importorskip("transformers")
    from harness.cli.main import main

    assert (
        main(
            ["quant-compare", "--model", str(tmp_path / "nope"), "--quant", "fp32", "--datasets", "general_mcq", "-o", str(tmp_path / "o")]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "is not a local path and not in the Hugging Face cache" in err and err.count("\n") == 1


def test_metric_rows_leave_out_a_failed_judgement_instead_of_crashing():
    """A judge score of None (a failed judgement) is left out of the pair, as compare does; it was float(None)."""
    from harness.workflows.quant_compare import _metric_rows

    def rec(key: str, judge: float | None, bleu: float) -> dict:
        return {"key": key, "task": "general_qa", "subset": "s", "scores": {"judge": judge, "bleu-1": bleu}}

    ref = {k: rec(k, j, b) for k, j, b in (("a", 0.5, 1.0), ("b", None, 0.0), ("c", 1.0, 0.5))}
    new = {k: rec(k, j, b) for k, j, b in (("a", 0.5, 1.0), ("b", 1.0, 0.0), ("c", None, 0.5))}
    rows = {r["metric"]: r for r in _metric_rows(ref, new, seed=0)}
    assert rows["judge"]["n"] == 1 and rows["judge"]["delta"] == 0.0  # only "a" has a judge score in both
    assert rows["bleu-1"]["n"] == 3
