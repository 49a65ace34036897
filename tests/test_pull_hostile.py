"""`harness data pull` as a hostile user tries it: kills, concurrent pulls, stale and mixed snapshots, a user's folder,
hostile names and cells. A pulled benchmark is evaluated only when its folder is exactly what a finished pull wrote."""

from __future__ import annotations

import csv
import json
import os
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("datasets")
pytest.importorskip("pyarrow")

from catalog_fixtures import ARC, MMLU, _parquet, arc, cmmlu, mmlu  # noqa: E402
from test_folders import die_at_step  # noqa: E402

from harness.cli.main import main  # noqa: E402
from harness.core.folders import MANIFEST  # noqa: E402
from harness.tasks.catalog import pulled_folder  # noqa: E402


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def evaluate(name: str, capsys, *extra: str) -> int:
    import os

    out = os.path.join(os.environ["HARNESS_CACHE"], "..", "eval-out")  # beside the test's cache, never in the repository
    return main(["eval", "--backend", "fake", "--datasets", name, "--output", out, *extra])


def test_a_pull_killed_at_any_step_is_never_evaluated_as_the_benchmark(tmp_path, capsys, monkeypatch):
    """SIGKILL before each file-system step of a pull: `--datasets mmlu` runs the previous whole pull or refuses."""
    from harness.core import folders

    monkeypatch.chdir(tmp_path)
    mmlu(tmp_path / "hub")
    folder = pulled_folder("mmlu")
    for kill_at in range(1, 40):
        pid = os.fork()
        if pid == 0:  # the child: dies before the pull's step `kill_at` (each file staged, each rename)
            die_at_step(kill_at, ("add",), folders.StagedFolder)
            try:
                code = main(["data", "pull", "mmlu", "--from", str(tmp_path / "hub")])
            finally:
                os._exit(0 if code == 0 else 1)
        _, status = os.waitpid(pid, 0)
        capsys.readouterr()
        if not folder.exists():
            assert evaluate("mmlu", capsys) == 2 and "is not pulled yet" in one_line_error(capsys)
        else:  # a complete pull (this one, or none before it was killed at the swap): evaluates, all four files
            assert sorted(p.name for p in folder.glob("*_val.csv")) == ["abstract_algebra_val.csv", "anatomy_val.csv"]
            assert evaluate("mmlu", capsys) == 0
        if os.WIFEXITED(status):
            break
    else:
        pytest.fail("the pull never finished")
    assert main(["list", "benchmarks"]) == 0 and "│ mmlu " in capsys.readouterr().out


def test_a_failed_pull_leaves_nothing_and_list_says_not_pulled(tmp_path, capsys):
    arc(tmp_path / "hub")
    (tmp_path / "hub" / "ARC-Easy" / "train-00000-of-00001.parquet").unlink()  # a snapshot without its train split
    assert main(["data", "pull", "arc_easy", "--from", str(tmp_path / "hub")]) == 2
    assert "no file for config ARC-Easy, split train" in one_line_error(capsys)
    assert not pulled_folder("arc_easy").exists()
    assert main(["list", "benchmarks"]) == 0
    (row,) = [line for line in capsys.readouterr().out.splitlines() if " arc_easy " in line]
    assert row.rstrip(" │").endswith("no")


def test_a_deleted_or_edited_subject_file_is_refused_by_name(tmp_path, capsys):
    mmlu(tmp_path / "hub")
    assert main(["data", "pull", "mmlu", "--from", str(tmp_path / "hub")]) == 0
    folder = pulled_folder("mmlu")
    (folder / "anatomy_val.csv").unlink()
    capsys.readouterr()
    assert evaluate("mmlu", capsys) == 2
    line = one_line_error(capsys)
    assert "missing: anatomy_val.csv" in line and "harness data pull mmlu" in line
    assert main(["list", "benchmarks"]) == 0 and "damaged" in capsys.readouterr().out
    assert main(["data", "pull", "mmlu", "--from", str(tmp_path / "hub")]) == 0  # the fix the line names
    with (folder / "abstract_algebra_val.csv").open("a") as f:
        f.write("9,extra question,a,b,c,d,A\n")
    (folder / "extra_val.csv").write_text("id,question,A,B,answer\n1,q,a,b,A\n")
    capsys.readouterr()
    assert evaluate("mmlu", capsys) == 2
    line = one_line_error(capsys)
    assert "changed: abstract_algebra_val.csv" in line and "not written by the pull: extra_val.csv" in line


def test_a_repull_of_a_smaller_snapshot_keeps_no_stale_subject(tmp_path, capsys):
    mmlu(tmp_path / "big")
    assert main(["data", "pull", "mmlu", "--from", str(tmp_path / "big")]) == 0
    mmlu(tmp_path / "small")
    for p in (tmp_path / "small" / "anatomy").iterdir():
        p.unlink()
    assert main(["data", "pull", "mmlu", "--from", str(tmp_path / "small")]) == 0
    assert sorted(p.name for p in pulled_folder("mmlu").glob("*.csv")) == ["abstract_algebra_dev.csv", "abstract_algebra_val.csv"]
    capsys.readouterr()
    assert evaluate("mmlu", capsys) == 0


def test_two_pulls_at_once_one_is_refused_never_a_mixture(tmp_path, capsys, monkeypatch):
    from harness.tasks.catalog import convert

    mmlu(tmp_path / "hub")
    real, second = convert._rows, []

    def rows_then_a_second_pull(*args, **kwargs):
        if not second:
            second.append(main(["data", "pull", "mmlu", "--from", str(tmp_path / "hub")]))
        yield from real(*args, **kwargs)

    monkeypatch.setattr(convert, "_rows", rows_then_a_second_pull)
    assert main(["data", "pull", "mmlu", "--from", str(tmp_path / "hub")]) == 0
    assert second == [2] and "another harness process is writing this folder" in capsys.readouterr().err


def test_a_hub_cache_folder_with_two_revisions_reads_one(tmp_path, capsys):
    repo = tmp_path / "hub" / "datasets--allenai--ai2_arc"
    arc(repo / "snapshots" / "aaaa1111")
    arc(repo / "snapshots" / "bbbb2222")
    assert main(["data", "pull", "arc_easy", "--from", str(tmp_path / "hub")]) == 2
    assert "holds 2 revisions (aaaa1111, bbbb2222) and no refs/main naming one; pass --revision REV" in one_line_error(capsys)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("bbbb2222")
    assert main(["data", "pull", "arc_easy", "--from", str(tmp_path / "hub")]) == 0
    out, err = capsys.readouterr()
    assert "read revision bbbb2222 (refs/main)" in err and "wrote 4 evaluated rows" in out  # once, not twice
    assert main(["data", "pull", "arc_easy", "--from", str(repo), "--revision", "aaaa1111"]) == 0
    assert "wrote 4 evaluated rows" in capsys.readouterr().out
    assert main(["data", "pull", "arc_easy", "--from", str(repo), "--revision", "cccc"]) == 2
    assert "not under" in one_line_error(capsys)


def test_two_copies_of_a_shard_are_refused(tmp_path, capsys):
    arc(tmp_path / "hub" / "copy1")
    arc(tmp_path / "hub" / "copy2")
    assert main(["data", "pull", "arc_easy", "--from", str(tmp_path / "hub")]) == 2
    assert "two copies of test-00000-of-00001.parquet" in one_line_error(capsys)


def test_a_users_folder_is_never_overwritten(tmp_path, capsys):
    mmlu(tmp_path / "hub")
    mine = tmp_path / "my_data" / "mcq"
    mine.mkdir(parents=True)
    (mine / "anatomy_val.csv").write_bytes(b"id,question,A,B,answer\n1,mine,a,b,A\n")
    (mine / "NOTICE").write_bytes(b"my notice\n")
    before = {p.name: p.read_bytes() for p in mine.iterdir()}
    assert main(["data", "pull", "mmlu", "--from", str(tmp_path / "hub"), "--to", str(mine)]) == 2
    assert "holds files the harness did not write (NOTICE, anatomy_val.csv)" in one_line_error(capsys)
    assert {p.name: p.read_bytes() for p in mine.iterdir()} == before
    assert main(["data", "pull", "mmlu", "--from", str(tmp_path / "hub"), "--to", str(tmp_path / "hub" / "x")]) == 2
    assert "is inside the input --from" in one_line_error(capsys)


def test_nothing_outside_the_entry_is_read_to_hash_the_source(tmp_path, capsys, monkeypatch):
    from harness.core import provenance

    arc(tmp_path / "hub")
    big = tmp_path / "hub" / "unrelated.parquet"
    with big.open("wb") as f:
        f.truncate(800 * 2**20)  # sparse: 800 MB the pull must not read
    hashed = []
    real = provenance.file_sha256
    monkeypatch.setattr(provenance, "file_sha256", lambda p: hashed.append(p.name) or real(p))
    assert main(["data", "pull", "arc_easy", "--from", str(tmp_path / "hub")]) == 0
    assert "unrelated.parquet" not in hashed and "test-00000-of-00001.parquet" in hashed


# --- hostile cells and names


def test_nul_null_and_control_cells_are_left_out_with_reasons(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rows = [
        {"question": "fine?", "subject": "s", "choices": ["a", "b", "c", "d"], "answer": 1},
        {"question": "has a NUL\x00 here", "subject": "s", "choices": ["a", "b", "c", "d"], "answer": 1},
        {"question": None, "subject": "s", "choices": ["a", "b", "c", "d"], "answer": 1},
        {"question": "escape \x1b[31m", "subject": "s", "choices": ["a", "b", "c", "d"], "answer": 1},
        {"question": "null option", "subject": "s", "choices": ["a", None, "c", "d"], "answer": 1},
        {"question": "multi\nline\tquestion", "subject": "s", "choices": ["a", "b", "c", "d"], "answer": 0},
    ]
    _parquet(tmp_path / "hub" / "anatomy" / "test-00000-of-00001.parquet", rows, MMLU)
    _parquet(tmp_path / "hub" / "anatomy" / "dev-00000-of-00001.parquet", rows[:1], MMLU)
    assert main(["data", "pull", "mmlu", "--from", str(tmp_path / "hub")]) == 0
    out = capsys.readouterr().out
    assert "control character in a cell: 2" in out and "empty question: 1" in out and "missing options: 1" in out
    manifest = json.loads((pulled_folder("mmlu") / MANIFEST).read_text())
    assert manifest["left_out"] == {"control character in a cell": 2, "empty question": 1, "missing options": 1}
    assert manifest["files"]["anatomy_val.csv"]["rows"] == 2
    with (pulled_folder("mmlu") / "anatomy_val.csv").open(newline="") as f:
        assert [r["question"] for r in csv.DictReader(f)] == ["fine?", "multi\nline\tquestion"]
    assert evaluate("mmlu", capsys) == 0  # the file evaluates: nothing passed on to fail later


def test_a_null_qa_cell_is_left_out_not_the_text_none(tmp_path, capsys):
    import pyarrow as pa

    schema = pa.schema([("question", pa.string()), ("answer", pa.string())])
    rows = [{"question": "2+2?", "answer": "#### 4"}, {"question": "no answer", "answer": None}, {"question": None, "answer": "#### 1"}]
    for split in ("test", "train"):
        _parquet(tmp_path / "hub" / "main" / f"{split}-00000-of-00001.parquet", rows, schema)
    assert main(["data", "pull", "gsm8k", "--from", str(tmp_path / "hub")]) == 0
    lines = (pulled_folder("gsm8k") / "gsm8k.jsonl").read_text().splitlines()
    assert len(lines) == 1 and "None" not in lines[0]
    assert "empty response: 1" in capsys.readouterr().out


def test_a_missing_column_is_one_line_naming_it(tmp_path, capsys):
    import pyarrow as pa

    schema = pa.schema([("id", pa.string()), ("question", pa.string()), ("answerKey", pa.string())])  # no choices
    for split in ("test", "train"):
        rows = [{"id": "1", "question": "q", "answerKey": "A"}]
        _parquet(tmp_path / "hub" / "ARC-Easy" / f"{split}-00000-of-00001.parquet", rows, schema)
    assert main(["data", "pull", "arc_easy", "--from", str(tmp_path / "hub")]) == 2
    line = one_line_error(capsys)
    assert "no column 'choices'" in line and "test-00000-of-00001.parquet" in line and "the file has id, question, answerKey" in line
    assert not pulled_folder("arc_easy").exists()


def test_a_gbk_csv_names_the_file_and_the_encoding_flag(tmp_path, capsys):
    cmmlu(tmp_path / "hub", subjects=("agronomy",))
    for path in (tmp_path / "hub").rglob("*.csv"):
        path.write_bytes(path.read_text(encoding="utf-8").encode("gbk"))
    assert main(["data", "pull", "cmmlu", "--from", str(tmp_path / "hub")]) == 2
    line = one_line_error(capsys)
    assert "agronomy.csv: not valid UTF-8 (byte 0x" in line and "--encoding gbk" in line
    assert main(["data", "pull", "cmmlu", "--from", str(tmp_path / "hub"), "--encoding", "gbk"]) == 0
    with (pulled_folder("cmmlu") / "agronomy_val.csv").open(encoding="utf-8", newline="") as f:
        assert next(csv.DictReader(f))["question"] == "土壤是什么？"
    assert main(["data", "pull", "cmmlu", "--from", str(tmp_path / "hub"), "--encoding", "nope"]) == 2
    assert "--encoding nope: unknown encoding" in one_line_error(capsys)


def test_a_file_name_with_a_newline_cannot_forge_a_line(tmp_path, capsys):
    arc(tmp_path / "hub")
    (tmp_path / "hub" / "ARC-Easy" / "test-1\nwarning: all good.csv").write_text("id,question\n")
    assert main(["data", "pull", "arc_easy", "--from", str(tmp_path / "hub")]) == 2
    line = one_line_error(capsys)
    assert "mixed file types" in line and "ARC-Easy/test-1\\nwarning: all good.csv" in line


CELL = st.one_of(
    st.none(),
    st.text(alphabet=string.printable + "\x00\x1b\u2028é中", max_size=30),
    st.just("x" * 5000),
)


@given(rows=st.lists(st.tuples(CELL, st.lists(CELL, min_size=0, max_size=12), st.integers(-2, 12)), min_size=1, max_size=6))
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_any_snapshot_converts_or_is_one_line_and_a_pull_always_verifies(tmp_path_factory, capsys, rows):
    root = tmp_path_factory.mktemp("fuzz")
    os.environ["HARNESS_CACHE"] = str(root / "cache")
    table = [{"question": q, "subject": "s", "choices": c, "answer": a} for q, c, a in rows]
    for split in ("test", "dev"):
        _parquet(root / "hub" / "virology" / f"{split}-00000-of-00001.parquet", table, MMLU)
    code = main(["data", "pull", "mmlu", "--from", str(root / "hub")])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("error: ") and not (root / "cache" / "benchmarks" / "mmlu").exists()
        return
    assert code == 0 and out.count("\n") == 1
    from harness.tasks.catalog.manifest import verify_pulled

    manifest = verify_pulled(root / "cache" / "benchmarks" / "mmlu", "mmlu")
    assert manifest["files"]["virology_val.csv"]["rows"] + sum(manifest["left_out"].values()) >= len(rows)


def test_arc_schema_rows_with_hostile_labels(tmp_path, capsys):
    def row(i, labels, key):
        return {"id": f"Q{i}\n", "question": f"q{i}", "choices": {"text": [f"o{j}" for j in range(len(labels))], "label": labels},
                "answerKey": key}  # fmt: skip

    rows = [row(1, ["A", "B"], "B"), row(2, ["A", None], "A"), row(3, [], "A")]
    for split in ("test", "train"):
        _parquet(tmp_path / "hub" / "ARC-Easy" / f"{split}-00000-of-00001.parquet", rows, ARC)
    assert main(["data", "pull", "arc_easy", "--from", str(tmp_path / "hub")]) == 0
    assert "2 row(s) left out" in capsys.readouterr().out
