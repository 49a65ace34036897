"""The import-layer contract: each layer of `harness` imports only the layers below it.

Read from the source (every `import`, lazy ones inside functions and `TYPE_CHECKING` blocks included),
so the rule holds for code paths no test happens to run. docs/architecture.md draws the same picture.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "harness"

# Bottom to top. A layer may import its own modules and any layer on a lower floor; layers on the same
# floor (backends and runs) are independent of each other.
FLOORS: list[tuple[str, ...]] = [
    ("core",),
    ("metrics",),
    ("tasks",),
    ("backends", "runs"),
    ("reports",),
    ("engine",),
    ("workflows", "integrations"),
    ("cli",),
]
FLOOR = {layer: i for i, layers in enumerate(FLOORS) for layer in layers}
FACADE = {"__init__", "__main__"}  # harness/__init__.py re-exports the public API lazily; __main__ runs the CLI


def layer_of(module: str) -> str | None:
    """`harness.engine.runner` -> `engine`; None for a module outside the project or the facade."""
    parts = module.split(".")
    if parts[0] != "harness" or len(parts) < 2 or parts[1] in FACADE:
        return None
    return parts[1]


def module_name(path: Path, root: Path = PACKAGE.parent) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every module `path` imports, with its line; `from harness import x` counts as `harness.x`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names if node.module == "harness"]
    return found


def violations(files: list[Path], root: Path = PACKAGE.parent) -> list[str]:
    """Imports against the direction in `files` (paths under `root`, the folder that holds the `harness` package)."""
    bad = []
    for path in files:
        here = layer_of(module_name(path, root))
        if here is None:
            continue
        for line, target in imports_of(path):
            there = layer_of(target)
            if there is None or there == here:
                continue
            if there not in FLOOR:
                bad.append(f"{path.relative_to(root)}:{line}: {target} is in no layer (add it to FLOORS)")
            elif FLOOR[there] >= FLOOR[here]:
                bad.append(f"{path.relative_to(root)}:{line}: {here} imports {target} ({there} is not below it)")
    return bad


def project_files() -> list[Path]:
    # harness/tasks and harness/metrics are links to the repository's folders: walk them too.
    files = sorted(PACKAGE.rglob("*.py"))
    for linked in ("tasks", "metrics"):
        files += sorted((PACKAGE / linked).glob("*.py"))
    return sorted(set(files))


def test_every_import_points_down() -> None:
    files = project_files()
    assert any("engine" in f.parts for f in files) and any(f.parent.name == "tasks" for f in files)
    assert violations(files) == []


def test_every_package_is_a_layer() -> None:
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(FLOOR)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("reports/planted.py", "from harness.engine.runner import evaluate\n"),  # a view importing the engine
        ("core/planted.py", "def f():\n    import harness.tasks.errors\n"),  # a lazy import, against the direction
        ("backends/planted.py", "from harness.runs import store\n"),  # siblings on one floor
        ("runs/planted.py", "from harness import reports\n"),  # `from harness import x`
    ],
)
def test_a_forbidden_import_is_caught(tmp_path: Path, module: str, source: str) -> None:
    """Planted in a temporary copy of the package's layout, never in the source tree (read-only checkouts, parallel tests)."""
    planted = tmp_path / "harness" / module
    planted.parent.mkdir(parents=True)
    planted.write_text(source, encoding="utf-8")
    found = violations([planted], root=tmp_path)
    assert len(found) == 1 and module in found[0]


BENCHMARKS = PACKAGE.parent / "benchmarks"


def benchmark_violations(files: list[Path]) -> list[str]:
    """Benchmarks stand on the whole harness (any layer) and on each other; never on the tests (tests may use them)."""
    bad = []
    for path in files:
        for line, target in imports_of(path):
            top = target.split(".")[0]
            if top in ("tests", "conftest") or top.startswith("test_"):
                bad.append(f"{path.name}:{line}: imports {target} (a benchmark must not depend on the tests)")
    return bad


def test_benchmarks_are_covered_and_never_import_the_tests(tmp_path: Path) -> None:
    files = sorted(BENCHMARKS.glob("*.py"))
    assert len(files) >= 5 and benchmark_violations(files) == []
    planted = tmp_path / "planted.py"
    planted.write_text("from test_output_regexes import PLAIN_MARKERS\n", encoding="utf-8")
    assert len(benchmark_violations([planted])) == 1


def test_no_generic_top_level_names(tmp_path: Path) -> None:
    """The project installs only `harness`: a user's own `metrics.py` or `tasks/` cannot shadow anything."""
    for path in project_files():
        for line, target in imports_of(path):
            assert target.split(".")[0] not in ("tasks", "metrics"), f"{path}:{line} imports {target}"


def test_no_backend_is_recognised_by_its_name_outside_the_backends_package() -> None:
    """The engine and the CLI ask a backend's spec or contract what it can do (BackendSpec, scoring_modes)."""
    names = {"hf", "vllm", "api", "fake"}
    found = []
    for path in project_files():
        if "backends" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                consts = [c for c in ast.walk(node) if isinstance(c, ast.Constant) and c.value in names]
                found += [f"{path.relative_to(PACKAGE.parent)}:{node.lineno}" for _ in consts[:1]]
    assert found == []
