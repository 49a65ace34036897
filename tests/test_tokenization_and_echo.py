"""Token-exact scoring without a model: lm-eval's context/continuation split, and completions-echo scoring over HTTP.

A tiny byte-level BPE tokenizer is trained here in milliseconds, so the fast suite exercises
`harness.backends.prompting.encode_many` and the api backend's completions-echo path with real token ids.
"""

from __future__ import annotations

import json

import pytest
from fault_server import FaultServer, echo_logprob

pytest.importorskip("tokenizers")
pytest.importorskip("transformers")

from harness.backends.base import ChoiceRequest  # noqa: E402
from harness.backends.prompting import encode_many  # noqa: E402
from harness.tasks import UserError  # noqa: E402

CORPUS = ["Question: what is water made of? Answer: hydrogen and oxygen", "ANSWER: A", "ANSWER: B", "aaaa bbbb aaab",
          "The capital of France is Paris", "Which planet is largest? Jupiter"] * 20  # fmt: skip


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS, vocab_size=320, min_frequency=2, show_progress=False)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, eos_token="</s>")
    tok.add_special_tokens({"eos_token": "</s>"})
    folder = tmp_path_factory.mktemp("tiny_tokenizer")
    tok.save_pretrained(folder)
    tok.folder = folder
    return tok


def request(question: str, continuations: tuple[str, ...], prefix: str = "ANSWER:", delimiter: str = " ") -> ChoiceRequest:
    return ChoiceRequest("k", ({"role": "user", "content": question},), continuations, prefix, delimiter, chat_template=False)


def test_continuation_ids_are_those_of_context_plus_continuation(tokenizer):
    req = request("Which planet is largest?", ("A", "B", "Jupiter"))
    ((context, ctx, conts),) = encode_many(tokenizer, [req])
    assert context == "Which planet is largest?\nANSWER:"
    assert ctx == tokenizer(context, add_special_tokens=False)["input_ids"]
    for cont, text in zip(conts, (" A", " B", " Jupiter"), strict=True):
        whole = tokenizer(context + text, add_special_tokens=False)["input_ids"]
        assert whole[: len(ctx)] == ctx and cont == whole[len(ctx) :] and cont


def test_spaces_ending_the_context_move_to_the_continuation(tokenizer):
    # A user template whose cue ends with a space: lm-eval scores " Paris" after "...is", not "Paris" after "...is ".
    req = request("The capital of France is ", ("Paris",), prefix="", delimiter="")
    ((context, ctx, conts),) = encode_many(tokenizer, [req])
    assert context.endswith("is ") and ctx == tokenizer(context.rstrip(" "), add_special_tokens=False)["input_ids"]
    assert conts[0] == tokenizer(context + "Paris", add_special_tokens=False)["input_ids"][len(ctx) :]


def test_a_continuation_that_merges_into_the_context_is_an_error(tokenizer):
    # Find a split that byte-level BPE merges across ("aaa" + "b" may tokenize as "aa" + "ab"): it must be refused.
    for head in ("aaa", "aaaa", "bbb", "aaab"):
        for tail in ("a", "b", "ab", "bb"):
            ctx = tokenizer(head, add_special_tokens=False)["input_ids"]
            if tokenizer(head + tail, add_special_tokens=False)["input_ids"][: len(ctx)] != ctx:
                with pytest.raises(UserError, match="merges into the context"):
                    encode_many(tokenizer, [request(head, (tail,), prefix="", delimiter="")])
                return
    pytest.fail("the tiny tokenizer merged no split; adjust CORPUS")


def test_completions_echo_scores_are_the_echoed_prompt_logprobs(tokenizer, tmp_path, capsys):
    from harness.cli.main import main

    server = FaultServer(echo_logprobs=True).start()
    try:
        args = ["eval", "--backend", "api", "--api-url", server.url, "--datasets", "general_mcq", "--output", str(tmp_path),
                "--model-args", json.dumps({"tokenizer": str(tokenizer.folder)}), "--limit", "6",
                "--dataset-args",
                json.dumps({"general_mcq": {"chat_template": False, "scoring": "letter", "subset_list": ["arc_easy"]}})]  # fmt: skip
        assert main(args) == 0
    finally:
        server.stop()
    assert "scoring=letter (via completions-echo)" in capsys.readouterr().out
    (run_dir,) = tmp_path.iterdir()
    records = [json.loads(x) for x in (run_dir / "samples.jsonl").read_text().split("\n") if x]
    assert len(records) == 6
    for rec in records:
        req = ChoiceRequest(rec["key"], tuple(rec["messages"]), tuple("ABCD"[: len(rec["option_logprobs"])]), "ANSWER:", " ", False)
        ((_, ctx, conts),) = encode_many(tokenizer, [req])
        expected = [sum(echo_logprob(t) for t in c) for c in conts]
        assert rec["option_logprobs"] == pytest.approx(expected, abs=1e-12)
