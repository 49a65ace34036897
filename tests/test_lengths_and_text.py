"""Prompts longer than the context are caught before any work; records round-trip any characters."""

from __future__ import annotations

import json

import pytest
from conftest import write

from harness.backends.base import LengthIssue
from harness.backends.fake import FakeBackend
from harness.cli.main import main
from harness.engine.config import EvalConfig
from harness.engine.runner import evaluate
from harness.tasks import UserError


class ShortContext(FakeBackend):
    """The fake backend with a context window counted in characters of the last message."""

    window = 300

    def check_lengths(self, requests, max_new_tokens):
        issues = []
        for i, req in enumerate(requests):
            prompt = len(req.messages[-1]["content"])
            reserved = max_new_tokens if not hasattr(req, "continuations") else 1
            if prompt + reserved > self.window:
                issues.append(LengthIssue(i, prompt, reserved, self.window))
        return issues


def folders(tmp_path):
    write(tmp_path / "mcq", "s_val.csv", "question,A,B,answer\nshort?,a,b,A\nalso short?,a,b,B\n")
    long_query = "word " * 80
    write(
        tmp_path / "qa",
        "s.jsonl",
        json.dumps({"query": "hi"}).replace("}", ', "response": "r"}') + "\n" + json.dumps({"query": long_query, "response": "r"}) + "\n",
    )
    return {"general_mcq": {"local_path": str(tmp_path / "mcq")}, "general_qa": {"local_path": str(tmp_path / "qa")}}


def test_a_too_long_prompt_stops_the_run_before_any_work_naming_the_sample(tmp_path):
    config = EvalConfig(
        backend="fake", model="hash", dataset_args=folders(tmp_path), generation=__import__("harness").GenerationConfig(max_new_tokens=8)
    )
    with pytest.raises(UserError) as err:
        evaluate(config, backend=ShortContext(), run_dir=tmp_path / "run")
    message = str(err.value)
    assert (
        "general_qa sample general_qa/s/1 (line 2)" in message
        and "over the model's 300-token context" in message
        and "--truncate" in message
    )
    # Checked before any work: not even the first task (whose prompts fit) stored a record.
    assert not (tmp_path / "run" / "samples.partial.jsonl").exists() or (tmp_path / "run" / "samples.partial.jsonl").read_text() == ""


def test_truncation_only_when_asked_and_counted(tmp_path, capsys):
    from harness import GenerationConfig

    config = EvalConfig(
        backend="fake", model="hash", dataset_args=folders(tmp_path), generation=GenerationConfig(max_new_tokens=8), truncate=True
    )
    result = evaluate(config, backend=ShortContext(), run_dir=tmp_path / "run")
    assert result.results["tasks"]["general_qa"]["truncated"] == 1 and result.results["tasks"]["general_mcq"]["truncated"] == 0
    records = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().split("\n") if x]
    assert [r.get("truncated") for r in records if r["task"] == "general_qa"] == [None, 292]
    from harness.reports.scores import render

    assert "truncated prompts: 1" in render(result.results, "md")


def test_answer_reserve_larger_than_the_context_is_its_own_error(tmp_path):
    from harness import GenerationConfig

    config = EvalConfig(
        backend="fake", model="hash", dataset_args=folders(tmp_path), generation=GenerationConfig(max_new_tokens=400), truncate=True
    )
    with pytest.raises(UserError, match="400 tokens are reserved for the answer, but the context holds 300; lower --max-new-tokens"):
        evaluate(config, backend=ShortContext(), run_dir=tmp_path / "run")


ODD = "line\u2028sep\u2029para\u0085nel nul\u0000 \u05e9\u05dc\u05d5\u05dd \u202eRTL\u202c \u0645\u0631\u062d\u0628\u0627 end"


def test_records_round_trip_any_characters_through_resume_compare_and_html(tmp_path, capsys):
    """U+2028, U+2029, U+0085, NUL in JSON strings and right-to-left text, in the data and in the outputs."""
    odd_csv = ODD.replace("\u0000", "")  # a raw NUL byte makes a CSV a binary file (refused); JSON escapes it as \u0000
    write(tmp_path / "mcq", "odd_val.csv", "question,A,B,answer\n" + "".join(f'"q{i} {odd_csv}","{odd_csv}",b,A\n' for i in range(6)))
    write(tmp_path / "qa", "odd.jsonl", "".join(json.dumps({"query": f"q{i} {ODD}", "response": ODD}) + "\n" for i in range(6)))
    table = tmp_path / "table.jsonl"
    table.write_text("".join(json.dumps({"key": f"general_qa/odd/{i}", "prediction": f"{ODD} {i}"}) + "\n" for i in range(6)))
    args = json.dumps({"general_mcq": {"local_path": str(tmp_path / "mcq")}, "general_qa": {"local_path": str(tmp_path / "qa")}})
    run = ["eval", "--backend", "fake", "--model", f"table:{table}", "--dataset-args", args, "--run-dir", str(tmp_path / "run")]
    assert main(run) == 0
    full = (tmp_path / "run" / "samples.jsonl").read_bytes()
    assert "\u2028".encode() in full and b"\\u0000" in full  # written raw / escaped, read back by "\n" only
    records = [json.loads(x) for x in full.decode().split("\n") if x]
    assert (
        len(records) == 12
        and records[6]["prediction"] == f"{ODD} 0"
        and odd_csv in records[0]["messages"][-1]["content"]
        and records[6]["reference"] == ODD
    )
    # Resume from a partial file holding the first 7 records (and a torn eighth).
    lines = full.split(b"\n")
    (tmp_path / "run" / "samples.jsonl").unlink()
    (tmp_path / "run" / "results.json").unlink()
    (tmp_path / "run" / "samples.partial.jsonl").write_bytes(b"\n".join(lines[:7]) + b"\n" + lines[7][:30])
    assert main(run) == 0
    assert (tmp_path / "run" / "samples.jsonl").read_bytes() == full
    assert main(["compare", str(tmp_path / "run"), str(tmp_path / "run")]) == 0
    assert main(["report", str(tmp_path / "run"), str(tmp_path / "run"), "--format", "html", "-o", str(tmp_path / "r.html")]) == 0
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "\u05e9\u05dc\u05d5\u05dd" in page
    capsys.readouterr()
