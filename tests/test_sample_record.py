"""The typed sample record: schema versions read or refused, the one shape check fuzzed, modes never compared as words."""

from __future__ import annotations

import json
import re

import pytest
from conftest import EXAMPLE_ONLY, ROOT
from hypothesis import given
from hypothesis import strategies as st

import harness
from harness.cli.main import main
from harness.runs.record import SAMPLES_SCHEMA_VERSION, check_record
from harness.runs.samples import load_samples


def fake_run(run_dir, *extra: str) -> None:
    argv = ["eval", "--backend", "fake", "--datasets", "general_mcq", "general_qa", "--dataset-args", EXAMPLE_ONLY]
    assert main([*argv, "--run-dir", str(run_dir), *extra]) == 0


def test_a_run_records_its_samples_schema_and_a_previous_schema_folder_reads_the_same(tmp_path, capsys):
    run = tmp_path / "run"
    fake_run(run)
    meta = json.loads((run / "run.json").read_text())
    assert meta["samples_schema"] == SAMPLES_SCHEMA_VERSION
    now = load_samples(run)
    # A folder of schema 1: written before the version was recorded (no samples_schema in run.json).
    old = tmp_path / "old"
    old.mkdir()
    for name in ("samples.jsonl", "results.json"):
        (old / name).write_bytes((run / name).read_bytes())
    (old / "run.json").write_text(json.dumps({k: v for k, v in meta.items() if k != "samples_schema"}))
    assert load_samples(old) == now
    capsys.readouterr()
    assert main(["compare", str(old), str(run)]) == 0  # and every reader takes it
    assert len(harness.load_run(old).samples) == len(now)


@pytest.mark.parametrize("version", [SAMPLES_SCHEMA_VERSION + 1, "2", 0, True])
def test_a_folder_of_a_newer_or_unknown_schema_is_refused_in_one_line_never_misread(tmp_path, capsys, version):
    run = tmp_path / "run"
    fake_run(run)
    meta = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**meta, "samples_schema": version}))
    capsys.readouterr()
    for command in (["compare", str(run), str(run)], ["report", str(run), str(run), "--format", "md"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(run) in err and ("samples_schema" in err or "newer than this harness" in err), err


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@given(
    st.fixed_dictionaries(
        {"key": JSON | st.text(), "task": JSON | st.text(), "subset": JSON | st.text(), "scores": JSON | st.dictionaries(st.text(), JSON)},
        optional={"chosen": JSON, "option_logprobs": JSON, "judge": JSON},
    )
)
def test_check_record_takes_exactly_the_shapes_readers_rely_on(value):
    record = check_record(value)
    ok = (
        all(isinstance(value[k], str) for k in ("key", "task", "subset"))
        and isinstance(value["scores"], dict)
        and all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in value["scores"].values())
        and all(isinstance(value[k], list) for k in ("chosen", "option_logprobs") if k in value)
        and (value.get("judge") is None or isinstance(value["judge"], dict))
    )
    assert (record is not None) == ok


def test_no_scoring_mode_is_compared_as_a_word():
    """Modes are `ScoringMode` members (harness.tasks.modes), compared by identity or their properties."""
    word = re.compile(r"""(==|!=|\bin)\s*\(?\s*["'](letter|cloze|generate)["']|["'](letter|cloze|generate)["']\s*(==|!=)""")
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "harness").rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if word.search(line.split("#", 1)[0])
    ]
    assert found == []
    assert "Record = dict[str, Any]" not in "".join(p.read_text(encoding="utf-8") for p in (ROOT / "harness").rglob("*.py"))
