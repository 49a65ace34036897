"""Find a dataset's subset files in its folder and check the names users give."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from harness.core.errors import UserError
from harness.tasks.errors import DataError

__all__ = ["check_subset_name", "find_subsets", "resolve_folder"]

_SAFE = re.compile(r"^[^/\\]+$")


def resolve_folder(task: str, local_path: str) -> Path:
    """The dataset folder, which must exist."""
    if not local_path:
        raise UserError(f'{task}: dataset arg "local_path" is required (the folder holding the data files)')
    folder = Path(local_path).expanduser()
    if not folder.is_dir():
        raise DataError(folder, "no such folder", fix=f"set {task}'s local_path to the folder with your files")
    return folder


def check_subset_name(task: str, name: str) -> str:
    """A subset name is a file-name stem, never a path: "../x" would read outside the folder."""
    if not name or not _SAFE.match(name) or name in (".", ".."):
        raise UserError(f'{task}: subset name {name!r} is a path; give the bare name, e.g. "example" for example_val.csv')
    return name


def find_subsets(task: str, folder: Path, suffixes: Sequence[str], wanted: Sequence[str] | None, pattern_hint: str) -> dict[str, Path]:
    """Map subset name -> file, for files named `{subset}{suffix}`; CSV wins over JSONL for one subset."""
    found: dict[str, Path] = {}
    for suffix in suffixes:
        for path in sorted(folder.glob(f"*{suffix}")):
            name = path.name[: -len(suffix)]
            if name and path.is_file():
                found.setdefault(name, path)
    if wanted is None:
        if not found:
            raise DataError(folder, f"no {pattern_hint} files", fix=f"name evaluated files {pattern_hint}")
        return dict(sorted(found.items()))
    chosen: dict[str, Path] = {}
    for name in wanted:
        check_subset_name(task, name)
        if name not in found:
            expected = pattern_hint.replace("{subset}", name)
            raise DataError(folder / expected, f"subset {name!r} from subset_list has no file", fix=f"add {expected} or fix subset_list")
        chosen[name] = found[name]
    return chosen
