"""Shared fixtures: small data folders written per test, and where ../shared lives."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = Path(__file__).parent / "data"
SHARED_DATA = Path(os.environ.get("HARNESS_SHARED_DATA", ROOT.parent / "shared" / "data"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Tables fit COLUMNS when it is set (harness.reports.tables); the suite asserts what piped output looks like, so the
# caller's terminal width (or the one pytest-xdist's workers inherit) must not leak in. Tests set it when they test it.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)
# Test inputs, not tests: a metric script for `evaluate` imports `datasets`, which the vLLM venv lacks.
collect_ignore_glob = ["data/*"]

EXAMPLE = ROOT / "tasks" / "data" / "example"
# EvalScope's example alone (12 MCQ by letter, 12 QA to 256 tokens): the built-in job before the English
# questions and the built-in settings were added; tests that count samples use it.
EXAMPLE_ONLY = json.dumps(
    {"general_mcq": {"local_path": str(EXAMPLE), "subset_list": ["example"]}, "general_qa": {"local_path": str(EXAMPLE)}}
)


@pytest.fixture
def shared_data() -> Path:
    """../shared/data; missing, it skips a local run but fails under CI (CI=true or HARNESS_REQUIRE_SHARED=1)."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI", "").lower() in ("1", "true") or os.environ.get("HARNESS_REQUIRE_SHARED"):
            pytest.fail(f"{SHARED_DATA} is missing: CI runs the acceptance suite on it")
        pytest.skip("../shared/data is not here")
    return SHARED_DATA


def default_signals() -> None:
    """`preexec_fn` for a child a test interrupts: SIGINT as a terminal sends it.

    A suite started in the background by a shell without job control (a CI script, `cmd &` in a script) inherits
    SIGINT ignored, and an ignored signal stays ignored across exec, so Python would never raise KeyboardInterrupt.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def write(folder: Path, name: str, content: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path
