"""general_qa loader: every line shape, aliases, history, messages, share-gpt, errors."""

from __future__ import annotations

import pytest
from conftest import write

from harness.tasks import UserError, load_qa, parse_dataset_args


def load(folder, **args):
    return load_qa("general_qa", parse_dataset_args("general_qa", {"local_path": str(folder), **args}))


def test_every_shape(tmp_path):
    lines = [
        '{"system": "sys", "query": "q1", "response": "r1"}',
        "",
        '{"question": "q2", "answer": "r2", "history": [["h1", "a1"]]}',
        '{"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}, {"role": "assistant", "content": "r3"}]}',
        '{"system": "s4", "conversation": [{"human": "h", "assistant": "a"}, {"human": "q4", "assistant": "r4"}]}',
    ]
    write(tmp_path, "x.jsonl", "\n".join(lines) + "\n")
    samples = load(tmp_path).samples
    assert [s.reference for s in samples] == ["r1", "r2", "r3", "r4"]
    assert samples[0].messages == ({"role": "system", "content": "sys"}, {"role": "user", "content": "q1"})
    assert [m["content"] for m in samples[1].messages] == ["h1", "a1", "q2"]
    assert [m["role"] for m in samples[2].messages] == ["system", "user"]
    assert [m["content"] for m in samples[3].messages] == ["s4", "h", "a", "q4"]
    assert [s.line for s in samples] == [1, 3, 4, 5]


def test_query_prefix_option(tmp_path):
    write(tmp_path, "x.jsonl", '{"query": "天空是什么颜色？", "response": "蓝色"}\n')
    assert load(tmp_path, query_prefix="请回答问题\n").samples[0].messages[-1]["content"] == "请回答问题\n天空是什么颜色？"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("{not json", "x.jsonl line 1: not JSON"),
        ("[1, 2]", "x.jsonl line 1: a JSON list, not an object"),
        ('{"response": "r"}', 'x.jsonl line 1: no "query"'),
        ('{"query": "q"}', "x.jsonl line 1: no reference"),
        ('{"messages": [{"role": "user", "content": "u"}]}', "x.jsonl line 1: messages has no assistant turn"),
    ],
)
def test_bad_lines(tmp_path, line, expected):
    write(tmp_path, "x.jsonl", line + "\n")
    with pytest.raises(UserError) as info:
        load(tmp_path)
    assert expected in str(info.value)


def test_skip_bad_lines(tmp_path):
    write(tmp_path, "x.jsonl", '{"query": "q", "response": "r"}\n{bad\n')
    with pytest.warns(UserWarning):
        loaded = load(tmp_path, on_bad_row="skip")
    assert loaded.skipped == 1 and len(loaded.samples) == 1
