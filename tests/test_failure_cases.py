"""Every failure in docs/errors.md: one line on stderr, no traceback, the documented exit code, earlier work intact.

Each case runs the real command in a subprocess. Permission cases run the command as an
unprivileged user (`setpriv`) when the tests run as root, where file modes would not stop it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT, default_signals, write

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []


@pytest.fixture(autouse=True)
def reachable_tmp(tmp_path):
    """Let an unprivileged user reach (not list) the test's folder: pytest makes its base folders 0700."""
    for folder in [tmp_path, *tmp_path.parents]:
        if folder == Path(tempfile.gettempdir()) or folder == folder.parent:
            break
        folder.chmod(folder.stat().st_mode | 0o711)


def harness(
    *args: str, env: dict[str, str] | None = None, unprivileged: bool = False, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    prefix = NOBODY if unprivileged else []
    if unprivileged and os.geteuid() == 0 and not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv")
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run(
        [*prefix, sys.executable, "-m", "harness", *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=300
    )


def one_line(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    err = proc.stderr
    assert proc.returncode == code, f"exit {proc.returncode}, stderr: {err[-1500:]}"
    assert "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert all(n in err for n in needles), err


def fake_run(root: Path, *extra: str) -> Path:
    """A finished fake-backend run folder under `root`."""
    proc = harness("eval", "--backend", "fake", "--datasets", "general_mcq", "--output", str(root), *extra)
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = [p for p in root.iterdir() if p.is_dir()]
    return run_dir


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in folder.rglob("*") if p.is_file() and p.name != ".lock"}


@dataclass
class Case:
    name: str
    setup: Callable[[Path], list[str]]
    code: int
    needles: tuple[str, ...]
    unprivileged: bool = False


def _read_only_dir(tmp: Path) -> Path:
    folder = tmp / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


def _output_not_writable(tmp: Path) -> list[str]:
    return ["eval", "--backend", "fake", "--output", str(_read_only_dir(tmp) / "out")]


def _output_is_a_file(tmp: Path) -> list[str]:
    write(tmp, "results", "a file")
    return ["eval", "--backend", "fake", "--output", str(tmp / "results")]


def _run_dir_is_a_file(tmp: Path) -> list[str]:
    write(tmp, "run", "a file")
    return ["eval", "--backend", "fake", "--run-dir", str(tmp / "run")]


def _name_too_long(tmp: Path) -> list[str]:
    return ["eval", "--backend", "fake", "--output", str(tmp / ("x" * 300))]


def _report_into_missing_folder(tmp: Path) -> list[str]:
    run = fake_run(tmp / "runs")
    return ["report", str(run), "--format", "md", "-o", str(tmp / "missing" / "report.md")]


def _report_into_read_only_folder(tmp: Path) -> list[str]:
    run = fake_run(tmp / "runs")
    return ["report", str(run), "--format", "md", "-o", str(_read_only_dir(tmp) / "report.md")]


def _damaged_run_json(content: str) -> Callable[[Path], list[str]]:
    def setup(tmp: Path) -> list[str]:
        run = fake_run(tmp / "runs")
        for name in ("results.json", "samples.jsonl"):
            (run / name).unlink()
        (run / "run.json").write_text(content)
        return ["eval", "--backend", "fake", "--datasets", "general_mcq", "--run-dir", str(run)]

    return setup


def _results_of_wrong_shape(fmt: str) -> Callable[[Path], list[str]]:
    def setup(tmp: Path) -> list[str]:
        run = fake_run(tmp / "runs")
        (run / "results.json").write_text("{}")
        return ["report", str(run), "--format", fmt]

    return setup


def _empty_model_folder(tmp: Path) -> list[str]:
    (tmp / "model").mkdir()
    return ["eval", "--model", str(tmp / "model"), "--datasets", "general_mcq", "--output", str(tmp / "out")]


def _garbage_gguf(tmp: Path) -> list[str]:
    write(tmp, "model.gguf", b"GGUF" + os.urandom(256))
    return ["eval", "--model", str(tmp / "model.gguf"), "--datasets", "general_mcq", "--output", str(tmp / "out")]


CASES = [
    Case("output folder not writable", _output_not_writable, 2, ("ro/out", "Permission denied", "permissions")),
    Case("--output is an existing file", _output_is_a_file, 2, ("results", "a part of the path is a file")),
    Case("--run-dir is a file", _run_dir_is_a_file, 2, ("run",)),
    Case("path component over 255 bytes", _name_too_long, 2, ("File name too long", "shorten the path")),
    Case("report -o into a missing folder", _report_into_missing_folder, 2, ("missing/report.md", "No such file or directory")),
    Case("report -o into a read-only folder", _report_into_read_only_folder, 2, ("ro/report.md", "Permission denied"), True),
    Case("run.json empty", _damaged_run_json(""), 2, ("run.json: damaged", "delete the run folder")),
    Case("run.json not JSON", _damaged_run_json("not json{"), 2, ("run.json: damaged",)),
    Case("run.json a JSON list", _damaged_run_json("[]"), 2, ("run.json: damaged", "not a JSON object")),
    Case("results.json {} (report)", _results_of_wrong_shape("md"), 2, ("results.json: not a harness results file",)),
    Case("results.json {} (report html)", _results_of_wrong_shape("html"), 2, ("results.json: not a harness results file",)),
    Case(
        "--dataset-args value not an object",
        lambda t: ["eval", "--backend", "fake", "--dataset-args", '{"general_mcq": 5}'],
        2,
        ("the value for general_mcq must be an object",),
    ),  # fmt: skip
    Case("empty model folder", _empty_model_folder, 2, ("model: cannot load the model",)),
    Case("garbage .gguf file", _garbage_gguf, 2, ("model.gguf: cannot load the model",)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_failure_case(case: Case, tmp_path):
    argv = case.setup(tmp_path)
    earlier = snapshot(tmp_path)
    proc = harness(*argv, unprivileged=case.unprivileged or (case.name == "output folder not writable"))
    one_line(proc, case.code, *case.needles)
    assert snapshot(tmp_path) == earlier  # nothing already there was changed


def test_a_finished_run_in_a_read_only_folder_is_reported_without_writing(tmp_path):
    run = fake_run(tmp_path / "runs")
    before = snapshot(tmp_path)
    for path in [run, *run.iterdir()]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    proc = harness("eval", "--backend", "fake", "--datasets", "general_mcq", "--output", str(tmp_path / "runs"), unprivileged=True)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert "finished earlier; nothing recomputed" in proc.stdout and "general_mcq" in proc.stdout
    assert snapshot(tmp_path) == before


def test_garbage_lines_in_the_partial_file_cost_only_themselves(tmp_path):
    """A garbage line 100 of 3000 is skipped with a warning; the 2900 records after it are kept, not recomputed."""
    rows = ["id,question,A,B,answer"] + [f"{i},question {i}?,yes,no,A" for i in range(3000)]
    write(tmp_path / "data", "big_val.csv", "\n".join(rows) + "\n")
    args = ["eval", "--backend", "fake", "--datasets", "general_mcq", "--run-dir", str(tmp_path / "run"),
            "--dataset-args", json.dumps({"general_mcq": {"local_path": str(tmp_path / "data")}})]  # fmt: skip
    assert harness(*args).returncode == 0
    run = tmp_path / "run"
    full = (run / "samples.jsonl").read_bytes()
    lines = full.split(b"\n")[:-1]
    lines[99] = b"garbage {"
    lines[199] = b'{"not": "a record"}'
    lines[299] = b"[1, 2, 3]"
    (run / "samples.partial.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    (run / "samples.jsonl").unlink()
    (run / "results.json").unlink()
    calls = tmp_path / "calls.txt"
    proc = harness(*args, "--model-args", json.dumps({"calls_file": str(calls)}))
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert (
        len(warnings) == 1
        and "skipped 3 unreadable line(s) (first: line 100)" in warnings[0]
        and "the 2898 record(s) after it are kept" in warnings[0]
    )
    assert sorted(calls.read_text().split()) == sorted(["general_mcq/big/99", "general_mcq/big/199", "general_mcq/big/299"])
    assert (run / "samples.jsonl").read_bytes() == full


@pytest.mark.parametrize("damage", ["overwritten", "truncated", "bad value"])
def test_a_damaged_request_cache_is_set_aside_or_recomputed(tmp_path, damage):
    env = {"HARNESS_CACHE": str(tmp_path / "cache")}
    args = ["eval", "--backend", "fake", "--datasets", "general_mcq", "--use-cache"]
    assert harness(*args, "--output", str(tmp_path / "a"), env=env).returncode == 0
    db = tmp_path / "cache" / "requests.sqlite"
    if damage == "overwritten":
        db.write_bytes(b"this is not a database" * 100)
    elif damage == "truncated":
        db.write_bytes(db.read_bytes()[:700])
    else:
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE answers SET value = 'not json'")
    proc = harness(*args, "--output", str(tmp_path / "b"), env=env)
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    if damage == "bad value":
        assert warnings == []  # each bad value is recomputed and overwritten
    else:
        (warning,) = warnings
        assert warning.startswith("warning:") and "damaged request cache" in warning and "started a new one" in warning
        assert list((tmp_path / "cache").glob("requests.sqlite.damaged-*"))
    a, b = (next((tmp_path / d).iterdir()) / "samples.jsonl" for d in ("a", "b"))
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize(("sig", "code", "said"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated (SIGTERM)")])
def test_sigint_and_sigterm_stop_with_a_resume_hint(tmp_path, sig, code, said):
    args = [
        sys.executable,
        "-m",
        "harness",
        "eval",
        "--backend",
        "fake",
        "--run-dir",
        str(tmp_path / "run"),
        "--model-args",
        json.dumps({"hold_at": 3}),
    ]  # fmt: skip  (held after 3 samples until stopped: never a race)
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=default_signals,  # a suite started in the background inherits SIGINT ignored
    )
    partial = tmp_path / "run" / "samples.partial.jsonl"
    deadline = time.monotonic() + 60
    while (not partial.exists() or partial.read_bytes().count(b"\n") < 3) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code and "Traceback" not in err
    assert [line for line in err.splitlines() if said in line] == [
        f"{said}: finished samples are saved; run the same command again to resume"
    ]
    assert partial.read_bytes().count(b"\n") >= 3


def test_an_internal_error_is_one_line_naming_a_log_file_with_the_traceback(tmp_path):
    # A backend that breaks (a bug, not bad input) through the fake backend's table being replaced mid-read.
    code = (
        "import sys; from harness.backends import fake; "
        "fake.FakeBackend.score_choices = lambda self, requests: (_ for _ in ()).throw(ZeroDivisionError('boom')); "
        "from harness.cli.main import main; "
        "sys.exit(main(['eval', '--backend', 'fake', '--datasets', 'general_mcq', '--output', sys.argv[1]]))"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "out")], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "HARNESS_LOG_DIR": str(tmp_path / "logs")})  # fmt: skip
    one_line(proc, 3, "internal error: ZeroDivisionError: boom", "the traceback is in")
    (log,) = (tmp_path / "logs").iterdir()
    assert "Traceback" in log.read_text() and "ZeroDivisionError: boom" in log.read_text()
