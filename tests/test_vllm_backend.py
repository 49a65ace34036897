"""The vLLM backend against the HF backend on the same model and prompts (`pytest -m vllm`)."""

from __future__ import annotations

import contextlib

import pytest
from conftest import TEST_DATA

pytestmark = pytest.mark.vllm
pytest.importorskip("vllm")

from harness.backends.hf import HFBackend  # noqa: E402
from harness.backends.vllm import VLLMBackend  # noqa: E402
from harness.config import EvalConfig, GenerationConfig  # noqa: E402
from harness.runner import prepare_tasks  # noqa: E402
from harness.scoring import choice_request, generate_request  # noqa: E402


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
    a, b = vllm_backend.score_choices(reqs), hf.score_choices(reqs)
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
    a, b = vllm_backend.generate(reqs, config), hf.generate(reqs, config)
    same = sum(x.text == y.text for x, y in zip(a, b, strict=True))
    print(f"greedy generations identical: {same}/{len(reqs)}")
    assert same >= 0.9 * len(reqs)
