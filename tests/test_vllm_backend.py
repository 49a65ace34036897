"""The vLLM backend against the HF backend on the same model and prompts (`pytest -m vllm`)."""

from __future__ import annotations

import contextlib
import json

import pytest
from conftest import TEST_DATA

pytestmark = pytest.mark.vllm
pytest.importorskip("vllm")

from harness.backends import collect  # noqa: E402
from harness.backends.hf.backend import HFBackend  # noqa: E402
from harness.backends.vllm import VLLMBackend  # noqa: E402
from harness.engine.config import EvalConfig, GenerationConfig  # noqa: E402
from harness.engine.plan import prepare_tasks  # noqa: E402
from harness.engine.records import choice_request, generate_request  # noqa: E402


@pytest.fixture(scope="module")
def engines():
    engine = VLLMBackend("smollm2-135m-instruct", max_model_len=2048)
    yield engine, HFBackend("smollm2-135m-instruct")
    # Stop the engine's worker now, while pytest still owns stdout, not at interpreter exit.
    with contextlib.suppress(AttributeError):
        engine.llm.llm_engine.engine_core.shutdown()


def samples(scoring: str, limit: int):
    args = {"local_path": str(TEST_DATA / "arc_easy_100"), "scoring": scoring}
    return prepare_tasks(EvalConfig(datasets=("general_mcq",), dataset_args={"general_mcq": args}, limit=limit), "letter")[0].loaded.samples


@pytest.mark.parametrize("scoring", ["letter", "cloze"])
def test_scores_equal_hf(engines, scoring):
    vllm_backend, hf = engines
    reqs = [choice_request(s, scoring) for s in samples(scoring, 100)]
    a, b = collect(vllm_backend.score_choices(reqs)), collect(hf.score_choices(reqs))
    same = sum(
        max(range(len(x.logprobs)), key=x.logprobs.__getitem__) == max(range(len(y.logprobs)), key=y.logprobs.__getitem__)
        for x, y in zip(a, b, strict=True)
    )
    worst = max(abs(p - q) for x, y in zip(a, b, strict=True) for p, q in zip(x.logprobs, y.logprobs, strict=True))
    print(f"{scoring}: same choice {same}/{len(reqs)}, max |dlogp| {worst:.2e}")
    assert same >= 0.99 * len(reqs) and worst < 1e-3


def test_greedy_generations_match_hf(engines):
    vllm_backend, hf = engines
    reqs = [generate_request(s) for s in samples("generate", 20)]
    config = GenerationConfig(max_new_tokens=32)
    a, b = collect(vllm_backend.generate(reqs, config)), collect(hf.generate(reqs, config))
    same = sum(x.text == y.text for x, y in zip(a, b, strict=True))
    print(f"greedy generations identical: {same}/{len(reqs)}")
    assert same >= 0.9 * len(reqs)


@pytest.fixture(scope="module")
def served():
    """The OpenAI-compatible server on the default model (loopback, a free port), as users start it; stopped after the module."""
    import os

    from vllm_server import vllm_server

    with vllm_server(os.environ.get("HARNESS_VLLM_SERVER_LOG")) as url:
        yield url


@pytest.mark.parametrize("scoring", ["letter", "cloze"])
def test_api_on_vllm_serve_equals_offline_vllm(engines, served, scoring):
    from harness.backends.api.backend import ApiBackend

    api = ApiBackend(api_url=served, concurrency=4)
    assert api.scoring_via == {"letter": "completions-echo", "cloze": "completions-echo"}
    reqs = [choice_request(s, scoring) for s in samples(scoring, 100)]
    a, b = collect(api.score_choices(reqs)), collect(engines[0].score_choices(reqs))
    assert not [r.error for r in a if r.error]
    same = sum(x.logprobs.index(max(x.logprobs)) == y.logprobs.index(max(y.logprobs)) for x, y in zip(a, b, strict=True))
    worst = max(abs(p - q) for x, y in zip(a, b, strict=True) for p, q in zip(x.logprobs, y.logprobs, strict=True))
    print(f"api vs offline vLLM, {scoring}: same choice {same}/{len(reqs)}, max |dlogp| {worst:.2e}")
    assert same == len(reqs) and worst < 1e-4


def test_api_generation_on_vllm_serve_equals_offline_vllm(engines, served):
    from harness.backends.api.backend import ApiBackend

    api = ApiBackend(api_url=served, concurrency=4)
    reqs = [generate_request(s) for s in samples("generate", 20)]
    config = GenerationConfig(max_new_tokens=32)
    a, b = collect(api.generate(reqs, config)), collect(engines[0].generate(reqs, config))
    same = sum(x.text == y.text for x, y in zip(a, b, strict=True))
    print(f"api vs offline vLLM greedy generations identical: {same}/{len(reqs)}")
    assert same >= 0.9 * len(reqs) and all(x.completion_tokens > 0 for x in a)


def test_a_real_judge_on_vllm_serve_scores_the_example_qa(served, tmp_path, capsys):
    """The default model judges the example QA answers (the fake backend's echoes) through `vllm serve`."""

    from conftest import EXAMPLE

    from harness.cli.main import main

    args = {"general_qa": {"local_path": str(EXAMPLE), "metrics": ["judge", "bleu"], "judge_args": {"url": served, "max_tokens": 48}}}
    run = ["eval", "--backend", "fake", "--datasets", "general_qa", "--dataset-args", json.dumps(args), "--run-dir", str(tmp_path / "run")]
    code = main([*run, "--allow-failures"])  # a 135M judge often gives no valid verdict: those are failed judgements, not zeros
    out = capsys.readouterr().out
    assert code == 0
    records = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().split("\n") if x]
    verdicts = [r["judge"] for r in records]
    assert len(verdicts) == 12 and all((v["score"] is None) == (v["error"] is not None) for v in verdicts)
    assert not any(v["retry"] for v in verdicts)  # every request answered
    info = json.loads((tmp_path / "run" / "results.json").read_text())["tasks"]["general_qa"]
    judged = 12 - info["judge_failed"]
    print(f"real judge (SmolLM2-135M via vllm serve): {judged}/12 replies with a score, {info['judge_failed']} failed judgements")
    assert "judge = " in out
    if judged:
        row = next(r for r in json.loads((tmp_path / "run" / "results.json").read_text())["scores"] if r["metric"] == "judge")
        assert row["n"] == judged and 0.0 <= row["score"] <= 1.0


def test_perf_on_vllm_serve_with_ignore_eos_counts_what_the_server_counts(served, tmp_path, capsys):
    import time

    from vllm_server import token_counters

    from harness.cli.main import main

    out, records = tmp_path / "perf.md", tmp_path / "requests.jsonl"
    before = token_counters(served)
    args = ["perf", "--api-url", served, "--concurrency", "1,4", "--requests", "8", "--max-tokens", "32", "--ignore-eos",
            "--format", "md", "-o", str(out), "--records", str(records)]  # fmt: skip
    assert main(args) == 0
    text = out.read_text()
    print(text)
    rows = [line.split("|") for line in text.splitlines() if line.startswith("| concurrency")]
    assert len(rows) == 2
    for row in rows:
        ok, errors, rps, tps = int(row[2]), int(row[3]), float(row[4]), float(row[5])
        assert ok == 8 and errors == 0 and rps > 0 and tps > 0
        ttft_p50, tpot_p50 = float(row[7].split("/")[0]), float(row[8].split("/")[0])
        assert 0 < ttft_p50 < 60_000 and 0 < tpot_p50 < 5_000  # plausible on 2 CPU cores
    lines = [json.loads(x) for x in records.read_text().splitlines()]
    assert len(lines) == 1 + 16 and all(r["status"] == "ok" and r["tokens_out"] == 32 for r in lines)  # ignore_eos: all 32
    deadline = time.monotonic() + 10
    while True:  # the server's counters are updated as its engine loop logs; give them a moment
        after = token_counters(served)
        counted = {k: after[k] - before[k] for k in after}
        if counted["generation"] >= sum(r["tokens_out"] for r in lines) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert counted == {"generation": sum(r["tokens_out"] for r in lines), "prompt": sum(r["tokens_in"] for r in lines)}
