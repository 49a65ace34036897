"""`encode_many` tokenizes each text once, and its ids equal lm-eval's whole-text split on any input.

The reference is lm-eval's `_encode_pair`: tokens(context + continuation) after tokens(context),
spaces ending the context moved to the continuation. Fuzzed with hypothesis over plain prompts and
chat prompts, with special tokens inside the text, shared few-shot turns, CJK, digits, punctuation
and whitespace at the boundary, on a byte-level BPE tokenizer trained here and (slow) on the
default model's tokenizer.
"""

from __future__ import annotations

import pytest

pytest.importorskip("tokenizers")
pytest.importorskip("transformers")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from harness.backends.base import ChoiceRequest  # noqa: E402
from harness.backends.prompting import PairEncoder, chat_mode, encode_many, join_continuation, render_context  # noqa: E402
from harness.tasks import UserError  # noqa: E402

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CORPUS = ["Question: what is water made of? Answer: hydrogen and oxygen", "ANSWER: A", "ANSWER: B", "aaaa bbbb aaab",
          "The capital of France is Paris", "Which planet is largest? Jupiter", "答案：A 北京是中国的首都",
          "12,345.6 + 7 = ?"] * 20  # fmt: skip


@pytest.fixture(scope="module")
def tokenizer():
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS, vocab_size=400, min_frequency=2, show_progress=False)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, eos_token="</s>")
    tok.add_special_tokens({"eos_token": "</s>", "additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tok.chat_template = CHATML
    return tok


def whole_split(tokenizer, req: ChoiceRequest) -> tuple[list[int], list[list[int]]] | None:
    """lm-eval's `_encode_pair`, one whole tokenization per option; None where an option merges into the context."""
    chat = chat_mode(tokenizer, req.chat_template)
    context = render_context(tokenizer, req.messages, chat=chat, answer_prefix=req.answer_prefix, delimiter=req.target_delimiter)
    stripped = context.rstrip(" ")
    spaces = context[len(stripped) :]
    ctx = tokenizer(stripped, add_special_tokens=False)["input_ids"]
    conts = []
    for c in req.continuations:
        joined = spaces + join_continuation(c, chat=chat, answer_prefix=req.answer_prefix, delimiter=req.target_delimiter)
        whole = tokenizer(stripped + joined, add_special_tokens=False)["input_ids"]
        if whole[: len(ctx)] != ctx or len(whole) == len(ctx):
            return None
        conts.append(whole[len(ctx) :])
    return ctx, conts


piece = st.sampled_from(["Which", " planet", " is", " largest", "?", "\n", " ", "  ", "Answer:", "答案", "：", "北京", "12", ",345",
                         ".", "<|im_start|>", "<|im_end|>", "aaa", "b", " A", "\n\n", "é", "🙂"])  # fmt: skip
text = st.lists(piece, min_size=1, max_size=12).map("".join)
option = st.one_of(st.sampled_from(list("ABCD")), text)


@st.composite
def requests(draw: st.DrawFn) -> list[ChoiceRequest]:
    shots = draw(st.lists(st.tuples(text, text), max_size=2))
    shared = tuple(m for q, a in shots for m in ({"role": "user", "content": q}, {"role": "assistant", "content": a}))
    chat = draw(st.sampled_from([True, False]))
    prefix, delimiter = draw(st.sampled_from([("ANSWER:", " "), ("答案：", ""), ("", " "), ("", ""), ("Answer: ", "")]))
    out = []
    for n in range(draw(st.integers(1, 4))):
        messages = (*shared, {"role": "user", "content": draw(text)})
        options = tuple(draw(st.lists(option, min_size=1, max_size=4)))
        out.append(ChoiceRequest(f"k{n}", messages, options, prefix, delimiter, chat))
    return out


def check(tokenizer, reqs: list[ChoiceRequest]) -> None:
    expected = [whole_split(tokenizer, r) for r in reqs]
    if any(e is None for e in expected):
        with pytest.raises(UserError, match="merges into the context"):
            encode_many(tokenizer, reqs)
        return
    got = encode_many(tokenizer, reqs)
    assert [(ctx, conts) for _, ctx, conts in got] == expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reqs=requests())
def test_ids_equal_whole_text_tokenization(tokenizer, reqs):
    check(tokenizer, reqs)


def test_each_text_is_tokenized_once(tokenizer, monkeypatch):
    # 200 letter-scored chat questions: the shared system turn once, the cue + each letter once, not once per question.
    system = {"role": "system", "content": "Answer with the letter of the correct option. " * 3}
    reqs = [ChoiceRequest(f"k{i}", (system, {"role": "user", "content": f"Question {i}: which planet is largest?"}), tuple("ABCD"),
                          "ANSWER:", " ", True) for i in range(200)]  # fmt: skip
    seen: list[str] = []
    call = type(tokenizer).__call__

    def counting(self, texts, **kw):
        seen.extend(texts)
        return call(self, texts, **kw)

    monkeypatch.setattr(type(tokenizer), "__call__", counting)
    got = encode_many(tokenizer, reqs)
    monkeypatch.undo()
    assert [(ctx, conts) for _, ctx, conts in got] == [whole_split(tokenizer, r) for r in reqs]
    # Each context's own part once, the shared head once, the cue tail once, cue + each letter once, and the check texts.
    assert len(seen) == len(set(seen)) and len(seen) <= 200 + 1 + 1 + 4 + PairEncoder.CALIBRATE
    per_question = sum(len(t) for t in seen) / 200
    context = render_context(tokenizer, reqs[0].messages, chat=True, answer_prefix="ANSWER:")
    assert per_question < 0.5 * len(context)  # the shared system turn is not tokenized again per question


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reqs=requests())
def test_ids_equal_whole_text_tokenization_on_the_default_tokenizer(default_tokenizer, reqs):
    check(default_tokenizer, reqs)


@pytest.fixture(scope="module")
def default_tokenizer():
    from transformers import AutoTokenizer

    from harness.backends.default_model import resolve_alias

    return AutoTokenizer.from_pretrained(resolve_alias("smollm2-135m-instruct"))


@pytest.mark.parametrize("chat", [False, True])
def test_a_continuation_merging_into_a_word_tail_is_refused(tokenizer, chat):
    # After a word start the short tail is tokenized with the option; every merge across the boundary must still be caught.
    merged = 0
    for head in ("aaa", "aaaa", "bbb", "aaab", "aaa bbb"):
        for tail in ("a", "b", "ab", "bb", "aab", "abbb", "b aaa"):
            # chat: the head ends the answer prefix after the assistant header (the tail starts at a special token)
            content, prefix = ("Which planet?", "Say " + head) if chat else ("Which planet " + head, "")
            req = ChoiceRequest("k", ({"role": "user", "content": content},), (tail,), prefix, "", chat)
            if whole_split(tokenizer, req) is None:
                merged += 1
                with pytest.raises(UserError, match="merges into the context"):
                    encode_many(tokenizer, [req])
            else:
                check(tokenizer, [req])
    assert merged, "the tiny tokenizer merged no split; adjust CORPUS"


def test_a_shared_head_split_that_changes_whole_text_ids_is_not_used(tokenizer):
    texts = ["Answer: which planet " + q for q in ("is largest?", "has rings?", "is red?")]
    encoder = PairEncoder(tokenizer)
    whole = encoder.encode

    def skewed(batch):  # a tokenizer whose ids depend on where a text starts: the split would be wrong for it
        return [ids + [0] if text.startswith("Answer") else ids for text, ids in zip(batch, whole(batch), strict=True)]

    encoder.encode = skewed
    assert encoder.contexts(texts) == skewed(texts)
    encoder.encode = whole
    assert encoder.contexts(texts) == whole(texts)  # and with the real tokenizer the split is used and exact
