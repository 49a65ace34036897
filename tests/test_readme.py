"""README's commands run as written (`pytest -m slow`): every fenced `harness` command that is not a template.

A template has placeholders (`PATH`, `OUTPUT_DIR`, `[--flag ...]`) or needs a server (`--api-url`); every
other command runs, in README order, from a folder that sees the repository's `tasks/` and `tests/`
as the repository root does, and must exit 0.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import pytest
from conftest import ROOT

PLACEHOLDER = re.compile(r"\[--|\.\.\.|\b[A-Z][A-Z0-9_]{2,}\b")


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #", 1)[0].strip()
            if line.startswith("harness "):
                commands.append(line)
    return commands


def is_template(command: str) -> bool:
    unquoted = re.sub(r"'[^']*'", "''", command)
    return bool(PLACEHOLDER.search(unquoted)) or "--api-url" in command  # a server is needed


def test_readme_has_runnable_examples_and_templates():
    commands = readme_commands()
    runnable = [c for c in commands if not is_template(c)]
    assert len(runnable) >= 9 and any(is_template(c) for c in commands)
    assert {shlex.split(c)[1] for c in runnable} >= {"eval", "report", "compare", "score", "quant-compare"}


@pytest.mark.slow
def test_every_runnable_readme_command_exits_0(tmp_path):
    for name in ("tasks", "tests"):
        (tmp_path / name).symlink_to(ROOT / name)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    for command in (c for c in readme_commands() if not is_template(c)):
        args = shlex.split(command)
        proc = subprocess.run(
            [sys.executable, "-m", "harness", *args[1:]], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=900
        )
        assert proc.returncode == 0, f"{command}\n{proc.stderr[-2000:]}"
    assert (tmp_path / "runs" / "report.html").is_file() and (tmp_path / "runs" / "quant" / "quant_compare.md").is_file()
