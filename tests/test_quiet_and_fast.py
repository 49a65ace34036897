"""A default run is quiet (our progress and table only) and the CLI starts fast."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
from conftest import ROOT

OURS = re.compile(r"^(general_mcq|general_qa): \d+/\d+ \(\d+\.\d samples/s(, eta \d+:\d\d:\d\d)?\)$")


def test_help_answers_in_under_a_second_without_torch():
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    subprocess.run([sys.executable, "-m", "harness", "--help"], check=True, capture_output=True, env=env)  # warm the page cache
    best = min(_timed([sys.executable, "-m", "harness", "--help"], env) for _ in range(3))
    assert best < 1.0, f"harness --help took {best:.2f} s"
    code = (
        "import sys; from harness.cli.main import _parser; _parser(); print(sorted({'torch', 'transformers', 'numpy'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT).stdout
    assert out.strip() == "[]"


def _timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, env=env)
    return time.perf_counter() - started


@pytest.mark.slow
def test_a_real_model_run_writes_nothing_but_our_progress_to_stderr(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("TRANSFORMERS_VERBOSITY", None)  # the CLI itself must keep libraries quiet, not the Makefile
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "eval", "--output", str(tmp_path), "--max-new-tokens", "24"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    noise = [
        line
        for line in proc.stderr.splitlines()
        if line.strip() and not OURS.match(line) and not line.startswith("converting the built-in model")
    ]
    assert noise == [], "\n".join(noise[:20])
    assert "general_qa: 12/12" in proc.stderr and "smollm2-135m-instruct" in proc.stdout
