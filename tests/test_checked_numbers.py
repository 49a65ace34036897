"""Numbers and JSON at the boundary (harness.core.numbers): any value of a numeric flag or JSON body computes or is one
line with exit 2, never a traceback or a hang; extreme but valid values compute in bounded time."""

from __future__ import annotations

import json
import math
import signal
from contextlib import contextmanager, suppress

import pytest
from conftest import EXAMPLE, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli.main import main
from harness.core.errors import UserError
from harness.core.numbers import Range, checked, load_json, parse_number


@contextmanager
def hang_guard(seconds: int = 60):
    def stop(signum, frame):
        raise AssertionError(f"still running after {seconds} s: a computation is not bounded")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def outcome(capsys, argv) -> tuple[int, str, str]:
    with hang_guard():
        code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "internal error" not in err, err
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("error: "), err
    return code, out, err


NUMBER_TEXT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**400), max_value=10**400).map(str),
    st.sampled_from(
        [
            "1e-17",
            "1e-300",
            "5e-324",
            "1e308",
            "1e160",
            "-0",
            "0",
            "1",
            "0.9999999999999999",
            "nan",
            "inf",
            "-inf",
            "1e999",
            "0x10",
            " 3 ",
            "",
            "1_000",
            "٣",
            "1e-400",
        ]
    ),  # fmt: skip
)


@given(alpha=NUMBER_TEXT, delta=NUMBER_TEXT, sd=NUMBER_TEXT)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_power_computes_or_refuses_in_one_line(capsys, alpha, delta, sd):
    for argv in (
        ["power", "--alpha", alpha, "--delta", delta, "--base", "0.6"],
        ["power", "--metric", "bleu", "--delta", delta, "--sd", sd],
    ):
        code, out, _ = outcome(capsys, argv)
        assert code in (0, 2)
        if code == 0:
            n = int(out.split("n >= ")[1].split()[0])
            assert 2 <= n <= 10**12


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["power", "--alpha", "1e-17", "--base", "0.6", "--delta", "0.02"], "n >= 107263"),
        (["power", "--delta", "0.0001", "--discordance", "0.9"], "normal approximation to exact McNemar"),
        (["power", "--sd", "1e160", "--delta", "0.01", "--metric", "bleu"], "needs more than 1e+12 pairs"),
        (["power", "--sd", "1e308", "--delta", "1", "--metric", "bleu"], "needs more than 1e+12 pairs"),
        (["power", "--delta", "1e-300", "--base", "0.5"], "needs more than 1e+12 pairs"),
    ],
)
def test_the_extreme_power_cases_compute_or_refuse(capsys, argv, says):
    code, out, err = outcome(capsys, argv)
    assert says in out + err


def test_compare_with_an_extreme_alpha(tmp_path, capsys):
    for model, run in (("hash", "a"), ("first", "b")):
        assert main(["eval", "--backend", "fake", "--model", model, "--datasets", "general_mcq", "--run-dir", str(tmp_path / run)]) == 0
    capsys.readouterr()
    for alpha in ("1e-17", "5e-324", "0.999999"):
        code, out, _ = outcome(capsys, ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--alpha", alpha, "--format", "json"])
        assert code == 0 and json.loads(out)
    code, _, err = outcome(capsys, ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--alpha", "0"])
    assert code == 2 and "--alpha: must be a finite number in (0, 1)" in err


JSON_TEXT = st.one_of(
    st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
                 lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)).map(
        lambda v: json.dumps(v, allow_nan=True)),
    st.integers(1, 5000).map(lambda d: '{"a": ' * d + "1" + "}" * d),
    st.integers(1, 5000).map(lambda d: "[" * d + "]" * d),
    st.sampled_from(['{"top_k": NaN}', '{"x": Infinity}', '{"x": -Infinity}', "{bad", "[1]", '{"max_completion_tokens": 5}',
                     '{"n": 3}', '{"ignore_eos": false}', '{"min_tokens": 1}', '{"a": "\\u0000"}', '"' + "x" * 2_000_000 + '"']),
)  # fmt: skip


@given(body=JSON_TEXT)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_perf_extra_body_is_checked_before_any_request(capsys, body):
    code, _, err = outcome(capsys, ["perf", "--api-url", "http://127.0.0.1:9/v1", "--model", "m", "--extra-body", body, "--requests", "1",
                                    "--timeout", "0.5", "--warmup", "0", "--max-error-rate", "1"])  # fmt: skip
    value = None
    with suppress(ValueError, RecursionError):
        value = json.loads(body)
    own = {"model", "messages", "prompt", "stream", "stream_options", "max_tokens", "max_completion_tokens", "min_tokens", "ignore_eos",
           "n", "best_of"}  # fmt: skip
    valid = isinstance(value, dict) and not (set(value) & own) and "NaN" not in body and "Infinity" not in body and body.count("{") <= 32
    if not valid:
        assert code == 2
    else:
        assert code in (0, 1)  # sent (nothing listens on port 9): counted as errors, never a crash


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ('{"a": ' * 3000 + "1" + "}" * 3000, "nested deeper than 32 levels"),
        ('{"temperature": NaN}', "NaN is not a JSON number"),
        ('{"max_completion_tokens": 10}', "'max_completion_tokens' is set by perf itself"),
    ],
)
def test_the_hostile_extra_bodies_of_the_issue(capsys, body, says):
    code, _, err = outcome(capsys, ["perf", "--api-url", "http://127.0.0.1:9/v1", "--model", "m", "--extra-body", body])
    assert code == 2 and says in err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ({"general_mcq": {"subject_names": {"s": 5}}}, "subject_names for general_mcq maps names to text"),
        ({"general_mcq": {"subject_names": ["a"]}}, "subject_names for general_mcq must be an object"),
        ({"general_mcq": {"few_shot_num": 1e300}}, "few_shot_num for general_mcq must be a whole number in [0, 10000]"),
        ({"general_mcq": {"few_shot_num": True}}, "few_shot_num for general_mcq must be a whole number"),
        ({"general_qa": {"max_new_tokens": 10**30}}, "max_new_tokens for general_qa must be a whole number in [1, 10000000]"),
        ({"general_qa": {"few_shot_num": 2}}, "few_shot_num is not used by general_qa"),
        ({"general_mcq": {"metrics": ["bleu"]}}, "metrics is not used by general_mcq"),
        ({"general_qa": {"metrics": ["judge"], "judge_args": {"url": "not a url"}}}, "judge_args url 'not a url' is not an http(s) URL"),
        ({"general_qa": {"metrics": ["judge"], "judge_args": {"url": "http://h:99999/v1"}}}, "is not an http(s) URL"),
        ({"general_qa": {"metrics": ["judge"], "judge_args": {"url": "http://h/v1", "timeout": 1e309}}}, "Infinity is not a JSON number"),
        ({"general_qa": {"metrics": ["judge"], "judge_args": {"url": "http://h/v1", "scale": [1, float("nan")]}}}, "NaN is not a JSON"),
        ({"general_qa": {"metrics": ["judge"], "judge_args": {"url": "http://h/v1", "timeout": 1e9}}}, "timeout must be a finite number"),
        ({"general_qa": {"metrics": ["judge"], "judge_args": {"url": "http://h/v1", "scale": [1, 1e300]}}}, "scale must be a finite"),
        ({"general_qa": {"metrics": ["judge"], "judge_args": {"url": "http://h/v1", "api_key_env": "NOPE_UNSET_X"}}}, "not set"),
    ],
)
def test_dataset_and_judge_args_are_refused_before_any_model_loads(tmp_path, capsys, args, says):
    name = next(iter(args))
    code, _, err = outcome(capsys, ["eval", "--datasets", name, "--dataset-args", json.dumps(args), "--output", str(tmp_path / "o")])
    assert code == 2 and says in err and not (tmp_path / "o").exists()


def test_subject_names_null_is_the_default(tmp_path, capsys):
    args = {"general_mcq": {"local_path": str(EXAMPLE), "subset_list": ["example"], "subject_names": None}}
    code, _, _ = outcome(capsys, ["eval", "--backend", "fake", "--datasets", "general_mcq", "--dataset-args", json.dumps(args),
                                  "--run-dir", str(tmp_path / "r")])  # fmt: skip
    assert code == 0


def test_general_qa_uses_its_system_prompt_and_a_line_keeps_its_own(tmp_path, capsys):
    lines = [{"query": "q1", "response": "a"}, {"system": "mine", "query": "q2", "response": "b"},
             {"messages": [{"role": "user", "content": "q3"}, {"role": "assistant", "content": "c"}]}]  # fmt: skip
    write(tmp_path / "qa", "s.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    args = {"general_qa": {"local_path": str(tmp_path / "qa"), "system_prompt": "You answer {subject} questions."}}
    code, _, _ = outcome(capsys, ["eval", "--backend", "fake", "--datasets", "general_qa", "--dataset-args", json.dumps(args),
                                  "--run-dir", str(tmp_path / "r")])  # fmt: skip
    assert code == 0
    records = [json.loads(x) for x in (tmp_path / "r" / "samples.jsonl").read_text().splitlines()]
    systems = [next((m["content"] for m in r["messages"] if m["role"] == "system"), None) for r in records]
    assert systems == ["You answer s questions.", "mine", "You answer s questions."]


def test_an_explicit_utf16_encoding_is_decoded_before_the_binary_check(tmp_path, capsys):
    folder = tmp_path / "mcq"
    folder.mkdir()
    (folder / "u_val.csv").write_bytes("id,question,A,B,answer\n1,什么?,是,否,A\n".encode("utf-16"))
    args = {"general_mcq": {"local_path": str(folder), "encoding": "utf-16"}}
    code, _, _ = outcome(capsys, ["eval", "--backend", "fake", "--datasets", "general_mcq", "--dataset-args", json.dumps(args),
                                  "--run-dir", str(tmp_path / "r")])  # fmt: skip
    assert code == 0
    args["general_mcq"].pop("encoding")
    code, _, err = outcome(capsys, ["eval", "--backend", "fake", "--datasets", "general_mcq", "--dataset-args", json.dumps(args),
                                    "--run-dir", str(tmp_path / "r2")])  # fmt: skip
    assert code == 2 and "binary file" in err and "encoding" in err


@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**30), 10**30), st.booleans(), st.text(max_size=5),
                 st.none()))  # fmt: skip
def test_checked_accepts_exactly_the_finite_numbers_in_range(value):
    where = Range(0, 1, low_open=True)
    try:
        got = checked(value, "x", where)
    except UserError as exc:
        assert str(exc).startswith("x must be a finite number in (0, 1]") and "\n" not in str(exc)
        return
    assert isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and 0 < got <= 1


@given(st.text(max_size=30))
def test_parse_number_never_raises_anything_but_a_user_error(text):
    for where in (Range(0, whole=True), Range(0, 1, low_open=True, high_open=True), Range()):
        try:
            parse_number(text, "--x", where)
        except UserError as exc:
            assert "\n" not in str(exc)


def test_load_json_bounds():
    with pytest.raises(UserError, match="longer than"):
        load_json('"' + "x" * (1 << 21) + '"', "--dataset-args")
    assert load_json("[" * 32 + "]" * 32, "--x") is not None
    with pytest.raises(UserError, match="nested deeper"):
        load_json("[" * 33 + "]" * 33, "--x")
    assert load_json(json.dumps({"a": "[" * 40}), "--x") == {"a": "[" * 40}  # brackets in strings do not nest
