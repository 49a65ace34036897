"""Nothing lost: SIGKILL and Ctrl-C mid-run, resume, lock, request cache."""

from __future__ import annotations

import fcntl
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import EXAMPLE_ONLY, ROOT, TEST_DATA, default_signals

from harness.cli.main import main

ARC = str(TEST_DATA / "arc_easy_100")


def cmd(
    run_dir: Path, *extra: str, backend: str = "fake", model_args: dict | None = None, datasets=("general_mcq", "general_qa")
) -> list[str]:
    args = [sys.executable, "-m", "harness", "eval", "--backend", backend, "--run-dir", str(run_dir), "--datasets", *datasets]
    if "--dataset-args" not in extra and set(datasets) == {"general_mcq", "general_qa"}:
        args += ["--dataset-args", EXAMPLE_ONLY]  # 12 + 12 samples
    if model_args:
        args += ["--model-args", json.dumps(model_args)]
    return args + list(extra)


def comparable(run_dir: Path) -> tuple[bytes, dict]:
    results = json.loads((run_dir / "results.json").read_text())
    for key in ("started", "finished", "wall_seconds", "timings"):
        results.pop(key)
    results["config"].pop("model_args")  # the killed run adds a delay and a call counter
    return (run_dir / "samples.jsonl").read_bytes(), results


def partial_lines(run_dir: Path) -> int:
    path = run_dir / "samples.partial.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


def kill_when(proc: subprocess.Popen, run_dir: Path, at_least: int, deadline: float = 120) -> None:
    end = time.monotonic() + deadline
    while partial_lines(run_dir) < at_least and proc.poll() is None and time.monotonic() < end:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_mid_task_then_resume_equals_uninterrupted_run(tmp_path, seed):
    """Killed at a random sample inside a task (not at a task boundary); each remaining sample computed once."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    args = ("--dataset-args", json.dumps({"general_mcq": {"local_path": ARC}}))
    subprocess.run(cmd(tmp_path / "full", *args), check=True, capture_output=True, env=env, cwd=ROOT)
    total = 100 + 12  # ARC MCQ rows, then the example QA lines
    at = random.Random(seed).randint(5, 95)  # a sample in the middle of the MCQ task
    calls = tmp_path / "calls.txt"
    slow = {"delay": 0.02, "calls_file": str(calls)}
    run_dir = tmp_path / "killed"
    held = {**slow, "hold_at": at}  # waits after sample `at` until killed: the kill lands there, never later
    proc = subprocess.Popen(cmd(run_dir, *args, model_args=held), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    kill_when(proc, run_dir, at_least=at)
    done = partial_lines(run_dir)
    assert at <= done < 100, f"the kill should land inside the MCQ task, after sample {at}; {done} stored"
    calls.write_text("")
    subprocess.run(cmd(run_dir, *args, model_args=slow), check=True, capture_output=True, env=env, cwd=ROOT)
    after = calls.read_text().splitlines()
    assert len(after) == len(set(after)) == total - done  # each remaining sample once, finished ones never
    assert comparable(run_dir) == comparable(tmp_path / "full")


class CountingBackend:
    """Wraps a backend and counts the requests it is asked to compute."""

    def __init__(self, inner):
        self.inner, self.count = inner, 0
        self.name, self.default_scoring, self.scoring_via = inner.name, inner.default_scoring, inner.scoring_via

    def fingerprint(self):
        return self.inner.fingerprint()

    def check_lengths(self, requests, max_new_tokens):
        return self.inner.check_lengths(requests, max_new_tokens)

    def score_choices(self, requests):
        self.count += len(requests)
        return self.inner.score_choices(requests)

    def generate(self, requests, config):
        self.count += len(requests)
        return self.inner.generate(requests, config)


@pytest.mark.slow
def test_sigkill_real_model_mid_task_then_resume(tmp_path):
    from harness.backends.hf.backend import HFBackend
    from harness.engine.config import EvalConfig
    from harness.engine.runner import evaluate

    limit = 40
    args = json.dumps({"general_mcq": {"local_path": ARC}})
    extra = ("--dataset-args", args, "--limit", str(limit))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1"}
    full = cmd(tmp_path / "full", *extra, backend="hf", datasets=("general_mcq",))
    subprocess.run(full, check=True, capture_output=True, env=env, cwd=ROOT)
    run_dir = tmp_path / "killed"
    at = random.Random(11).randint(3, 30)
    proc = subprocess.Popen(
        cmd(run_dir, *extra, backend="hf", datasets=("general_mcq",)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=ROOT,
    )
    kill_when(proc, run_dir, at_least=at)
    done = partial_lines(run_dir)
    assert at <= done < limit, done
    # The same run, resumed in this process through a backend that counts what it computes.
    backend = CountingBackend(HFBackend("smollm2-135m-instruct"))
    config = EvalConfig(datasets=("general_mcq",), dataset_args={"general_mcq": {"local_path": ARC}}, limit=limit)
    evaluate(config, backend=backend, run_dir=run_dir)
    assert backend.count == limit - done
    full_samples, full_results = comparable(tmp_path / "full")
    got_samples, got_results = comparable(run_dir)
    assert got_samples == full_samples and got_results["scores"] == full_results["scores"]


def test_ctrl_c_flushes_and_says_how_to_resume(tmp_path):
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        # held after 2 samples until stopped: the signal lands mid-run however slowly this machine schedules us
        cmd(run_dir, model_args={"hold_at": 2}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
        preexec_fn=default_signals,
    )
    while partial_lines(run_dir) < 1 and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "run the same command again to resume" in err and "Traceback" not in err
    assert partial_lines(run_dir) >= 1
    subprocess.run(cmd(run_dir), check=True, capture_output=True, env=env, cwd=ROOT)
    assert len((run_dir / "samples.jsonl").read_text().splitlines()) == 24


def test_concurrent_run_on_same_folder_is_refused(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with (run_dir / ".lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert main(["eval", "--backend", "fake", "--run-dir", str(run_dir)]) == 2
    assert "another run is writing to this folder" in capsys.readouterr().err


def test_request_cache_answers_repeated_runs_without_the_backend(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    calls = tmp_path / "calls.txt"
    base = [
        "eval",
        "--backend",
        "fake",
        "--use-cache",
        "--dataset-args",
        EXAMPLE_ONLY,
        "--model-args",
        json.dumps({"calls_file": str(calls)}),
    ]
    assert main([*base, "--run-dir", str(tmp_path / "a")]) == 0
    first = len(calls.read_text().splitlines())
    assert first == 24
    assert main([*base, "--run-dir", str(tmp_path / "b")]) == 0
    assert len(calls.read_text().splitlines()) == first
    assert (tmp_path / "a" / "samples.jsonl").read_bytes() == (tmp_path / "b" / "samples.jsonl").read_bytes()
    capsys.readouterr()
