"""The identity of code is its import closure (harness.core.code_identity): no hand-kept file list to fall out of date."""

from __future__ import annotations

from pathlib import Path

from harness.core.code_identity import code_identity, import_closure
from harness.engine import identity


def package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "pkg"


def test_moving_code_between_files_changes_the_identity_only_when_the_closure_changes(tmp_path):
    pkg = package(tmp_path, {"__init__.py": "", "entry.py": "from pkg.prompts import render\n", "prompts.py": "def render(): return 1\n",
                             "other.py": "def unrelated(): return 2\n", "lazy.py": "def f():\n    from pkg import helper\n",
                             "helper.py": "X = 1\n"})  # fmt: skip
    first = code_identity([pkg / "entry.py"], pkg, "pkg")
    assert sorted(first.files) == ["entry.py", "prompts.py"]
    (pkg / "other.py").write_text("def unrelated(): return 3\n")  # outside the closure: the identity holds
    assert code_identity([pkg / "entry.py"], pkg, "pkg").digest == first.digest
    # `render` moves to other.py and entry imports it from there: other.py joins the closure, the identity changes
    (pkg / "prompts.py").write_text("")
    (pkg / "other.py").write_text("def unrelated(): return 3\ndef render(): return 1\n")
    (pkg / "entry.py").write_text("from pkg.other import render\n")
    moved = code_identity([pkg / "entry.py"], pkg, "pkg")
    assert sorted(moved.files) == ["entry.py", "other.py"] and moved.digest != first.digest
    # Imports inside functions count, and `from pkg import module` is that module.
    assert sorted(p.name for p in import_closure([pkg / "lazy.py"], pkg, "pkg")) == ["helper.py", "lazy.py"]


def test_a_plain_folder_of_scripts_follows_relative_imports(tmp_path):
    folder = tmp_path / "metric"
    folder.mkdir()
    (folder / "metric.py").write_text("from .helpers import f\nimport os\n")
    (folder / "helpers.py").write_text("from .deep import g\n")
    (folder / "deep.py").write_text("g = 1\n")
    (folder / "unused.py").write_text("")
    ident = code_identity([folder / "metric.py"], folder, None, ("evaluate",))
    assert sorted(ident.files) == ["deep.py", "helpers.py", "metric.py"] and "evaluate" in ident.libraries


def test_the_engine_identity_is_the_closure_of_its_entry_points():
    ident = code_identity([identity._ROOT / e for e in identity._ANSWER_ENTRIES], identity._ROOT, "harness")
    assert {"engine/plan.py", "engine/scorers.py", "backends/prompting.py", "engine/extract.py", "tasks/prompts.py"} <= set(ident.files)
    assert "engine/runner.py" not in ident.files and "cli/main.py" not in ident.files  # not prompt or record code
