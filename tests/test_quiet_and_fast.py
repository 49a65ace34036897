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


def test_the_fast_exit_loses_nothing_written(tmp_path):
    """With torch loaded, `harness` exits without interpreter teardown (no atexit runs), after everything is written."""
    pytest.importorskip("torch")
    import json

    marker = tmp_path / "teardown-ran"
    code = (
        "import atexit, sys, torch\n"
        f"atexit.register(lambda: open({str(marker)!r}, 'w').write('ran'))\n"
        f"sys.argv = ['harness', 'eval', '--backend', 'fake', '--run-dir', {str(tmp_path / 'run')!r}, '--timings']\n"
        "from harness.cli.main import entry\nentry()\n"
    )
    for full_exit, ran in (("", False), ("1", True)):
        env = {**os.environ, "HARNESS_FULL_EXIT": full_exit}
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
        assert marker.exists() is ran  # the normal exit runs atexit; the fast one skips it
        assert proc.stdout.rstrip().splitlines()[-1].startswith("run folder: ") and "timings: " in proc.stderr.splitlines()[-1]
        results = json.loads((tmp_path / "run" / "results.json").read_text())
        assert {"startup", "plan", "load_data", "load_model", "tokenize", "compute"} <= set(results["timings"])
        assert all(v >= 0 for v in results["timings"].values())
        assert len((tmp_path / "run" / "samples.jsonl").read_text().splitlines()) == results["tasks"]["general_mcq"]["num_samples"] + 12
        marker.unlink(missing_ok=True)
