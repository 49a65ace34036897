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
from harness.engine.scorers import scorer_for  # noqa: E402

# The offline engine's answers are computed once and compared twice (with HF, and with the server); the engine is
# shut down before the server starts, so the two never share the 2 cores. Letter scoring asks vLLM for every
# prompt position's log-probabilities (about 1.7 s a question here), so it runs on 24 questions; cloze on 60.
SIZES = {"letter": 24, "cloze": 60, "generate": 20}
GENERATION = GenerationConfig(max_new_tokens=32)


def samples(scoring: str, limit: int):
    args = {"local_path": str(TEST_DATA / "arc_easy_100"), "scoring": scoring}
    return prepare_tasks(EvalConfig(datasets=("general_mcq",), dataset_args={"general_mcq": args}, limit=limit), "letter")[0].loaded.samples


def requests(scoring: str):
    return [scorer_for(scoring).request(s) for s in samples(scoring, SIZES[scoring])]


@pytest.fixture(scope="module")
def offline():
    """The offline engine's results for each mode, computed once; the engine is stopped before any server starts."""
    engine = VLLMBackend("smollm2-135m-instruct", max_model_len=2048, enforce_eager=True)  # no graph compile: 80 s less here
    try:
        results = {mode: collect(engine.score_choices(requests(mode))) for mode in ("letter", "cloze")}
        results["generate"] = collect(engine.generate(requests("generate"), GENERATION))
    finally:
        # Stop the engine's worker now, while pytest still owns stdout, not at interpreter exit.
        with contextlib.suppress(AttributeError):
            engine.llm.llm_engine.engine_core.shutdown()
    return results


def argmax(values):
    return max(range(len(values)), key=values.__getitem__)


@pytest.mark.parametrize("scoring", ["letter", "cloze"])
def test_scores_equal_hf(offline, scoring):
    a, b = offline[scoring], collect(HFBackend("smollm2-135m-instruct").score_choices(requests(scoring)))
    same = sum(argmax(x.logprobs) == argmax(y.logprobs) for x, y in zip(a, b, strict=True))
    worst = max(abs(p - q) for x, y in zip(a, b, strict=True) for p, q in zip(x.logprobs, y.logprobs, strict=True))
    print(f"{scoring}: same choice {same}/{len(a)}, max |dlogp| {worst:.2e}")
    assert same >= 0.99 * len(a) and worst < 1e-3


def test_greedy_generations_match_hf(offline):
    a, b = offline["generate"], collect(HFBackend("smollm2-135m-instruct").generate(requests("generate"), GENERATION))
    same = sum(x.text == y.text for x, y in zip(a, b, strict=True))
    print(f"greedy generations identical: {same}/{len(a)}")
    assert same >= 0.9 * len(a)


@pytest.fixture(scope="module")
def served(offline):
    """The OpenAI-compatible server on the default model (loopback, a free port), as users start it; stopped after the module.

    It depends on `offline`, so the offline engine has finished (and stopped) before the server starts.
    """
    import os

    from vllm_server import vllm_server

    with vllm_server(os.environ.get("HARNESS_VLLM_SERVER_LOG"), eager=True) as url:
        yield url


@pytest.mark.parametrize("scoring", ["letter", "cloze"])
def test_api_on_vllm_serve_equals_offline_vllm(offline, served, scoring):
    from harness.backends.api.backend import ApiBackend

    api = ApiBackend(api_url=served, concurrency=4)
    assert api.scoring_via == {"letter": "completions-echo", "cloze": "completions-echo"}
    a, b = collect(api.score_choices(requests(scoring))), offline[scoring]
    assert not [r.error for r in a if r.error]
    same = sum(argmax(x.logprobs) == argmax(y.logprobs) for x, y in zip(a, b, strict=True))
    worst = max(abs(p - q) for x, y in zip(a, b, strict=True) for p, q in zip(x.logprobs, y.logprobs, strict=True))
    print(f"api vs offline vLLM, {scoring}: same choice {same}/{len(a)}, max |dlogp| {worst:.2e}")
    assert same == len(a) and worst < 1e-4


def test_api_generation_on_vllm_serve_equals_offline_vllm(offline, served):
    from harness.backends.api.backend import ApiBackend

    api = ApiBackend(api_url=served, concurrency=4)
    a, b = collect(api.generate(requests("generate"), GENERATION)), offline["generate"]
    same = sum(x.text == y.text for x, y in zip(a, b, strict=True))
    print(f"api vs offline vLLM greedy generations identical: {same}/{len(a)}")
    assert same >= 0.9 * len(a) and all(x.completion_tokens > 0 for x in a)


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
        assert ttft_p50 > 0 and tpot_p50 > 0  # measured (their values are the server's speed: benchmarks, not tests)
    lines = [json.loads(x) for x in records.read_text().splitlines()]
    assert len(lines) == 1 + 16 and all(r["status"] == "ok" and r["tokens_out"] == 32 for r in lines)  # ignore_eos: all 32
    deadline = time.monotonic() + 120  # a hang guard: the counters catch up within a second or two
    while True:  # the server's counters are updated as its engine loop logs; give them a moment
        after = token_counters(served)
        counted = {k: after[k] - before[k] for k in after}
        if counted["generation"] >= sum(r["tokens_out"] for r in lines) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert counted == {"generation": sum(r["tokens_out"] for r in lines), "prompt": sum(r["tokens_in"] for r in lines)}
