"""The identity of a piece of code: a hash of every local file it imports, found by reading its imports.

A result is only as reusable as the code that made it. Hashing a hand-kept list of files misses code
moved out of them, and hashing only a metric's main script misses the helper it imports; so the
identity of code is its import closure: the entry files, and every file of their own package or folder
that they import (at the top or inside a function), followed transitively, plus the versions of the
libraries named. `ast` reads the imports; nothing is executed. Used for the engine's prompt and scoring
code (harness.engine.identity) and for `evaluate:` metric scripts (harness.metrics.hf_evaluate).
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

__all__ = ["CodeIdentity", "code_identity", "import_closure"]


def _module_file(base: Path, parts: Sequence[str]) -> Path | None:
    """`base/a/b.py` or `base/a/b/__init__.py` for module parts (a, b), when it exists."""
    if not parts:
        init = base / "__init__.py"
        return init if init.is_file() else None
    path = base.joinpath(*parts)
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return None


def _imported(file: Path, root: Path, package: str | None) -> Iterable[Path]:
    """The files under `root` whose code `file` uses.

    Each module it imports, and a package's `__init__` only when a name is taken from the package itself (an
    `__init__` that merely re-exports is not the code that computes).

    `package` is the dotted name `root` is imported as (`harness`), or None for a plain folder of scripts whose
    local modules are imported by bare name (an `evaluate` metric and its `helper.py`).
    """
    try:
        tree = ast.parse(file.read_bytes(), filename=str(file))
    except (SyntaxError, ValueError):
        return  # unparseable: its own bytes are still hashed; it imports nothing we can follow
    here = file.parent.relative_to(root).parts

    def local(mod: list[str]) -> list[str] | None:
        """Module parts relative to `root`, or None for a module outside it (the standard library, numpy...)."""
        if package is None:
            return mod
        return mod[1:] if mod and mod[0] == package else None

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = local(alias.name.split("."))
                found = _module_file(root, parts) if parts else None
                if found is not None:
                    yield found
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the file's own package, up `level - 1` folders
                if node.level - 1 > len(here):
                    continue
                mod: list[str] | None = list(here[: len(here) - (node.level - 1)]) + (node.module.split(".") if node.module else [])
            else:
                mod = local(node.module.split(".")) if node.module else None
            if mod is None:
                continue
            for alias in node.names:  # `from pkg import submodule` is that module; `from pkg import name`, the package's code
                found = _module_file(root, [*mod, alias.name]) or _module_file(root, mod)
                if found is not None:
                    yield found


def import_closure(entries: Iterable[Path], root: Path, package: str | None = None) -> list[Path]:
    """The entry files and every file under `root` they import, transitively (sorted, each once)."""
    seen: set[Path] = set()
    todo = [Path(e) for e in entries]
    while todo:
        file = todo.pop()
        if file in seen:
            continue
        seen.add(file)
        todo.extend(p for p in _imported(file, root, package) if p not in seen)
    return sorted(seen)


@dataclass(frozen=True)
class CodeIdentity:
    """What a piece of code is: its files (relative to its root) with their sha256, and library versions."""

    files: dict[str, str]
    libraries: dict[str, str]

    @property
    def digest(self) -> str:
        """One hash of all of it."""
        h = hashlib.sha256()
        for name, sha in sorted(self.files.items()):
            h.update(f"{name}\0{sha}\n".encode("utf-8", "surrogatepass"))
        for name, version in sorted(self.libraries.items()):
            h.update(f"lib {name}\0{version}\n".encode())
        return h.hexdigest()


def code_identity(entries: Iterable[Path], root: Path, package: str | None = None, libraries: Sequence[str] = ()) -> CodeIdentity:
    """The identity of the code `entries` run: the import closure under `root`, hashed file by file, and `libraries`' versions.

    >>> import harness.core.names as names
    >>> ident = code_identity([Path(names.__file__)], Path(names.__file__).parent.parent, "harness")
    >>> sorted(ident.files)
    ['core/errors.py', 'core/names.py']
    """
    files = {}
    for path in import_closure(entries, root, package):
        files[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    versions = {}
    for name in libraries:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return CodeIdentity(files, versions)
