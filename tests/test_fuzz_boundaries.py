"""Property-based tests of every input boundary: parsers never crash, readers refuse in one line, renderers escape.

Bounded (a fixed number of examples, no deadline) so they run in the fast suite and in CI with a fixed budget.
A failure here is a case a hostile file, server or name would hit: hypothesis prints the smallest example.
"""

from __future__ import annotations

import csv
import io
import json
import math

import markdown_it
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.core.errors import UserError

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

json_leaf = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats(allow_nan=True) | st.text(max_size=30)
json_value = st.recursive(json_leaf, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids, max_size=4),
                          max_leaves=20)  # fmt: skip
_PIECES = ["|", "\n", "\r", "<script>", "[/x]", "[bold]", "=", "+", "-", "@", "&amp;", "\u2028", "<!--", "*", "`"]
hostile_text = st.lists(st.text(max_size=6) | st.sampled_from(_PIECES), max_size=8).map("".join)


# --- dataset args (--dataset-args JSON) ---------------------------------------------------------------------------

ARG_KEYS = ["local_path", "subset_list", "few_shot_num", "prompt_template", "choice_format", "stop", "metrics", "scoring",
            "sacrebleu_tokenize", "judge_args", "max_new_tokens", "language", "prompt_style", "subject_names", "strip_question",
            "unknown_key"]  # fmt: skip


@FUZZ
@given(st.dictionaries(st.sampled_from(ARG_KEYS), json_value | hostile_text, max_size=5))
def test_dataset_args_parse_or_refuse_in_one_line(raw):
    from harness.tasks.args import parse_dataset_args

    try:
        args = parse_dataset_args("general_mcq", raw)
    except UserError as exc:
        assert "\n" not in str(exc).strip() or "\n" in json.dumps(raw)
        return
    if args.prompt_template is not None:
        assert "{question}" in args.prompt_template
    args.choice_format.format(letter="A", text="x")  # whatever was accepted formats
    assert args.stop is None or all(args.stop)


@FUZZ
@given(st.dictionaries(st.sampled_from(["url", "model", "api_key_env", "template", "scale", "concurrency", "timeout", "max_tokens"]),
                       json_value, max_size=5))  # fmt: skip
def test_judge_args_parse_or_refuse(raw):
    from harness.engine.judge import parse_judge_args

    try:
        settings_ = parse_judge_args("general_qa", raw)
    except UserError:
        return
    assert settings_.low < settings_.high and settings_.timeout > 0


# --- config files (--config FILE.yaml) -------------------------------------------------------------------------------

yaml_like = st.text(alphabet=st.sampled_from(list("abc: -[]{}&*!|>'\"\n\t0123#%@`,?") + ["\u00e9", "\ufeff"]), max_size=120)


@FUZZ
@given(yaml_like | st.binary(max_size=80).map(lambda b: b.decode("latin-1")))
def test_config_files_load_or_refuse_in_one_line(tmp_path_factory, text):
    from harness.cli.config_file import _load

    path = tmp_path_factory.mktemp("cfg") / "c.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        value = _load(path)
    except UserError as exc:
        assert str(exc).startswith(str(path))
        return
    assert isinstance(value, dict)


def test_an_alias_bomb_and_duplicate_keys_are_refused(tmp_path):
    from harness.cli.config_file import _load

    bomb = "a: &a ['x','x','x','x','x','x','x','x','x']\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    (tmp_path / "bomb.yaml").write_text(bomb)
    with pytest.raises(UserError, match="aliases"):
        _load(tmp_path / "bomb.yaml")
    (tmp_path / "dup.yaml").write_text("model: a\nlimit: 3\nmodel: b\n")
    with pytest.raises(UserError, match="line 3: the key 'model' is given twice"):
        _load(tmp_path / "dup.yaml")
    (tmp_path / "deep.yaml").write_text("a: " + "[" * 40 + "]" * 40 + "\n")
    with pytest.raises(UserError, match="nested"):
        _load(tmp_path / "deep.yaml")
    (tmp_path / "latin.yaml").write_bytes("model: caf\xe9\n".encode("latin-1"))
    with pytest.raises(UserError, match="not UTF-8"):
        _load(tmp_path / "latin.yaml")


# --- judge replies ------------------------------------------------------------------------------------------------


@FUZZ
@given(st.text(max_size=200) | json_value.map(json.dumps), st.integers(0, 5), st.integers(6, 100))
def test_a_judge_reply_gives_one_verdict_in_range_or_fails(reply, low, high):
    from harness.engine.verdicts import parse_reply

    verdict = parse_reply(reply, low, high)
    assert (verdict.score is None) == (verdict.error is not None)
    if verdict.score is not None:
        assert low <= verdict.score <= high
    assert len(verdict.reason) <= 300


@FUZZ
@given(st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=80), st.integers(1, 10), st.text(max_size=40))
def test_the_judges_own_json_verdict_is_read(prose, score, reason):
    from harness.engine.verdicts import parse_reply

    verdict = parse_reply(prose + json.dumps({"reason": reason, "score": score}), 1, 10)
    assert verdict.score == score


@FUZZ
@given(hostile_text, hostile_text, hostile_text)
def test_an_answer_can_never_contain_its_blocks_marker(question, reference, answer):
    from harness.engine.verdicts import judge_flags, marker

    code = marker(question, reference, answer)
    assert code not in question + reference + answer
    judge_flags(answer)


# --- streamed events (perf) ------------------------------------------------------------------------------------------


usage_event = st.fixed_dictionaries(
    {"choices": st.lists(st.fixed_dictionaries({"delta": st.dictionaries(st.sampled_from(["content", "reasoning_content", "reasoning"]),
                                                                       json_leaf)}) | json_value, max_size=2),  # fmt: skip
     "usage": st.dictionaries(st.sampled_from(["prompt_tokens", "completion_tokens"]), json_leaf) | json_value}
).map(json.dumps)  # fmt: skip


@FUZZ
@given(st.text(max_size=120) | json_value.map(json.dumps) | usage_event, st.integers(1, 512))
def test_a_stream_event_is_read_or_is_an_error(data, max_tokens):
    from harness.workflows.stream_events import MAX_PROMPT_TOKENS, parse_event

    event = parse_event(data, max_tokens)
    assert event.usage is None or 0 <= event.usage <= max_tokens
    assert event.prompt_tokens is None or 0 <= event.prompt_tokens <= MAX_PROMPT_TOKENS
    assert not (event.error and (event.done or event.token or event.usage is not None or event.prompt_tokens is not None))


@FUZZ
@given(json_value.map(json.dumps) | st.text(max_size=40))
def test_perf_extra_body_is_an_object_without_perfs_own_fields_or_refused(text):
    import argparse

    from harness.cli.perf_cmd import _body
    from harness.workflows.perf import OWN_FIELDS

    try:
        body = _body(text)
    except argparse.ArgumentTypeError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(body, dict) and not set(body) & set(OWN_FIELDS)


# --- hub rows (harness data pull) --------------------------------------------------------------------------------------


@FUZZ
@given(st.sampled_from(["mmlu", "cmmlu", "arc_easy", "hellaswag"]), st.dictionaries(st.sampled_from(
    ["question", "Question", "choices", "A", "B", "C", "D", "answer", "Answer", "answerKey", "activity_label", "ctx_a", "ctx_b",
     "endings", "label"]), json_value | st.lists(st.text(max_size=5), max_size=12) | st.fixed_dictionaries(
    {"text": st.lists(st.text(max_size=5), max_size=12), "label": st.lists(st.sampled_from(["A", "B", "1", "2", "E"]), max_size=12)}),
    max_size=15))  # fmt: skip
def test_a_hub_row_converts_or_is_left_out_with_a_reason(name, row):
    from harness.tasks.catalog import benchmarks
    from harness.tasks.catalog.convert import _mcq_row, _Skip
    from harness.tasks.sample import LETTERS

    try:
        question, options, letter = _mcq_row(benchmarks()[name].mcq or {}, row)
    except _Skip as why:
        assert str(why)
        return
    assert question.strip() and 2 <= len(options) <= len(LETTERS) and all(o.strip() for o in options)
    assert letter in LETTERS[: len(options)]


# --- run-folder files --------------------------------------------------------------------------------------------


@FUZZ
@given(json_value)
def test_results_json_is_read_typed_or_refused_in_one_line(tmp_path_factory, value):
    from harness.runs.results_file import load_results

    folder = tmp_path_factory.mktemp("run")
    (folder / "results.json").write_text(json.dumps(value))
    try:
        results = load_results(folder)
    except UserError as exc:
        assert "\n" not in str(exc)
        return
    for row in results["scores"]:
        assert isinstance(row["n"], int) and math.isfinite(row["score"])


@FUZZ
@given(st.lists(st.binary(max_size=60) | json_value.map(lambda v: json.dumps(v).encode()), max_size=5))
def test_samples_jsonl_is_read_or_refused_in_one_line(tmp_path_factory, lines):
    from harness.runs.record import loads_record
    from harness.runs.samples import load_samples

    folder = tmp_path_factory.mktemp("run")
    (folder / "samples.jsonl").write_bytes(b"\n".join(line.replace(b"\n", b" ") for line in lines) + b"\n")
    for line in lines:
        rec = loads_record(line)
        assert rec is None or (isinstance(rec["key"], str) and isinstance(rec["scores"], dict))
    try:
        records = load_samples(folder)
    except UserError as exc:
        assert "\n" not in str(exc)
        return
    assert all(isinstance(k, str) for k in records)


# --- names through every renderer -------------------------------------------------------------------------------


def results_named(model: str, subset: str, category: str) -> dict:
    row = {"task": "general_mcq", "metric": "acc", "aggregation": "micro", "n": 10, "score": 0.5, "ci_low": 0.2, "ci_high": 0.8,
           "failed": 0}  # fmt: skip
    rows = [{**row, "subset": subset, "category": "-"}, {**row, "subset": subset, "category": category}]
    return {"model": {"name": model, "backend": "fake"}, "tasks": {"general_mcq": {"scoring": "letter"}}, "scores": rows}


def md_tables(text: str) -> list[list[list[str]]]:
    tokens = markdown_it.MarkdownIt("commonmark").enable("table").parse(text)
    assert not any(t.type in ("html_block", "html_inline") for t in tokens)
    assert not any(c.type == "html_inline" for t in tokens if t.children for c in t.children)
    tables, rows = [], 0
    for tok in tokens:
        if tok.type == "table_open":
            rows = 0
        elif tok.type == "tr_open":
            rows += 1
        elif tok.type == "table_close":
            tables.append(rows)
    return tables


@FUZZ
@given(hostile_text, hostile_text.filter(lambda s: s.strip()), hostile_text.filter(lambda s: s.strip() and s != "-"))
def test_names_cannot_break_any_output_format(model, subset, category):
    from harness.reports.scores import render

    results = results_named(model, subset, category)
    md = render(results, "md", min_n=1)
    assert md_tables(md) == [3]  # the header and two rows, whatever the names hold
    rows = list(csv.reader(io.StringIO(render(results, "csv"), newline="")))
    assert len(rows) == 3
    for cell in (c for r in rows for c in r):
        if cell[:1] in ("=", "+", "-", "@", "\t", "\r") and len(cell) > 1:
            float(cell)  # only numbers (and a lone "-") may start like a formula
    render(results, "table", min_n=1)  # literal text: a name like "[/x]" is not rich markup


def test_rich_markup_in_a_name_prints_as_written():
    from harness.reports.tables import Column, Table

    out = Table([Column("name")], [["[bold]x"], ["[/x]"]]).terminal()
    assert "[bold]x" in out and "[/x]" in out


def test_the_multi_run_legend_renders_as_separate_lines():
    from harness.reports.tables import Column, Table

    md = Table([Column("a")], [["1"]], preamble=["R1 (reference): one", "R2: two", "R3: three"]).markdown()
    tokens = markdown_it.MarkdownIt("commonmark").enable("table").parse(md)
    paragraphs = [t.content for t in tokens if t.type == "inline"][:3]
    assert paragraphs == ["R1 (reference): one", "R2: two", "R3: three"]


# --- secrets ----------------------------------------------------------------------------------------------------


@FUZZ
@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=8, max_size=30), hostile_text, hostile_text,
       st.integers(0, 400))  # fmt: skip
def test_a_registered_secret_never_survives_redaction_or_a_cut(secret, before, after, cut):
    from harness.core import redact as redaction
    from harness.engine.verdicts import REASON_CHARS, parse_reply

    registered = set(redaction._SECRETS)
    try:
        redaction.add_secret(secret)
        assert secret not in redaction.redact(before + secret + after)
        reply = json.dumps({"reason": "x" * cut + secret + after, "score": 5})
        reason = parse_reply(reply, 1, 10).reason
        assert secret not in reason and secret[:8] not in reason[-8:] or len(reason) < REASON_CHARS
    finally:  # random "secrets" such as '", "' must not mask the JSON of later tests in this process
        redaction._SECRETS.clear()
        redaction._SECRETS.update(registered)
