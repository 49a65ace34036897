"""What the package layout promises users: reading views stay light, and nothing in a user's folder shadows us."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import EXAMPLE_ONLY, ROOT

from harness.cli.main import main

HEAVY = ("torch", "transformers", "vllm")


def finished_runs(tmp_path):
    runs = []
    for seed in ("0", "1"):
        run = tmp_path / f"run{seed}"
        args = ["eval", "--backend", "fake", "--datasets", "general_mcq", "general_qa", "--dataset-args", EXAMPLE_ONLY]
        assert main([*args, "--seed", seed, "--run-dir", str(run)]) == 0
        runs.append(str(run))
    return runs


def test_report_and_compare_never_import_torch(tmp_path):
    base, new = finished_runs(tmp_path)
    code = (
        "import sys\n"
        "from harness.cli.main import main\n"
        "codes = [main(['report', sys.argv[1], '--format', 'md']), main(['report', sys.argv[1], sys.argv[2], '--format', 'md']),\n"
        "         main(['compare', sys.argv[1], sys.argv[2]]), main(['report', sys.argv[1], '--format', 'html', '-o', sys.argv[3]])]\n"
        f"print('RESULT', codes, sorted(set({HEAVY!r}) & set(sys.modules)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, base, new, str(tmp_path / "r.html")], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT"))
    assert line == "RESULT [0, 0, 0, 0] []"


def test_the_python_api_works_from_a_folder_with_its_own_metrics_and_tasks(tmp_path):
    """ML projects often hold a metrics.py or a tasks/ package; `harness` imports neither as a top-level name."""
    base, new = finished_runs(tmp_path)
    work = tmp_path / "project"
    (work / "tasks").mkdir(parents=True)
    (work / "tasks" / "__init__.py").write_text("raise ImportError('the user project tasks package was imported')\n")
    (work / "metrics.py").write_text("raise ImportError('the user project metrics.py was imported')\n")
    code = (
        "import json, sys\n"
        "sys.path.insert(0, '')\n"  # the working folder first, as in a notebook or `python script.py`
        "import harness\n"
        "run = harness.load_run(sys.argv[1])\n"
        "cmp = harness.compare_runs(sys.argv[1], sys.argv[2])\n"
        "print(json.dumps({'rows': len(run.scores), 'samples': len(run.samples), 'compared': len(cmp)}))\n"
    )
    env = {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", code, base, new], capture_output=True, text=True, cwd=work, env=env)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["rows"] > 0 and found["samples"] == 24 and found["compared"] > 0
