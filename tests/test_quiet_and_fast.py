"""A default run is quiet (our progress and table only) and the CLI starts fast."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT

OURS = re.compile(r"^(general_mcq|general_qa): \d+/\d+ \(\d+\.\d samples/s(, eta \d+:\d\d:\d\d)?\)$")


# What `harness --help` may not import: each costs a noticeable part of a second before the user sees a line.
# (How long it takes is measured in benchmarks/cli_startup.py beside a bare interpreter, never asserted here.)
HEAVY = ("torch", "transformers", "numpy", "httpx", "datasets", "pandas", "scipy", "sacrebleu", "nltk", "jieba")


def test_help_imports_no_heavy_library():
    code = "import sys; from harness.cli.main import main; main(['--help'])"
    probe = f"import sys, runpy; sys.argv = ['harness', '--help']\ntry:\n    {code.split('; ', 1)[1]}\nexcept SystemExit:\n    pass\n"
    probe += f"print('LOADED', sorted(set({HEAVY!r}) & {{m.split('.')[0] for m in sys.modules}}))"
    proc = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True, cwd=ROOT)
    assert "usage: harness" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "LOADED []"


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
