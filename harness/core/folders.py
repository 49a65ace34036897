"""Folders the harness writes: built beside their target and renamed into place, marked by a manifest, never over a user's files.

Every command that writes a folder goes through here (the run store keeps its own per-run folder):

- `StagedFolder`: a folder written whole (`harness data pull`). Files go into a staging folder beside
  the target; `commit` writes the manifest last and swaps the staging folder into place (an atomic
  exchange where the OS offers one, else two renames). A kill at any point leaves the previous complete
  folder, or no folder at all, never a mixture; leftovers of a killed writer are removed by the next.
- `OwnedFolder`: a folder kept and added to across runs (quant-compare's output, eval-checkpoints' trend
  folder), whose subfolders hold resumable runs. Each file is written atomically and listed in the
  manifest as it is written.

The manifest (`harness-manifest.json`) says that the harness made the folder, what kind of folder it is,
and each file it wrote with its sha256 and size. A folder that exists without a manifest and is not empty,
or that holds files its manifest does not list, is the user's: writing there is refused with one line
naming those files, unless `force` is given, and even then only files the harness writes are replaced;
the user's other files are kept, byte for byte. A lock per target (in the harness cache) lets one writer
at a time in: a second is refused with one line, never interleaved.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from harness.core.errors import UserError
from harness.core.fsops import copy_entry as _copy
from harness.core.fsops import exchange as _exchange
from harness.core.fsops import fsync_dir as _fsync_dir
from harness.core.fsops import write_atomic as _write_atomic
from harness.core.names import check_name, printable
from harness.core.paths import cache_root
from harness.core.provenance import file_sha256, harness_version

__all__ = ["MANIFEST", "OwnedFolder", "StagedFolder", "foreign_files", "read_manifest", "sha256_file"]

MANIFEST = "harness-manifest.json"
MANIFEST_VERSION = 1
_STAGING = ".harness-staging-"
_OLD = ".harness-old-"

sha256_file = file_sha256  # streamed in 1 MiB blocks: an 800 MB file costs 1 MiB of memory


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The folder's manifest, None when it has none; a damaged one is one line naming it."""
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{printable(str(path))}: damaged manifest ({printable(str(exc), 80)}); write the folder again") from None
    if not isinstance(value, dict) or not isinstance(value.get("files"), dict) or not isinstance(value.get("kind"), str):
        raise UserError(f"{printable(str(path))}: damaged manifest (not a harness manifest); write the folder again")
    return value


def _entries(folder: Path) -> list[str]:
    """Names in the folder a user could have put there (our manifest and leftovers of our writers aside)."""
    return sorted(p.name for p in folder.iterdir() if p.name != MANIFEST and not p.name.startswith((_STAGING, _OLD)))


def foreign_files(folder: Path, manifest: dict[str, Any] | None) -> list[str]:
    """Entries of `folder` the harness did not write (all of them when it has no manifest)."""
    if not folder.is_dir():
        return []
    ours = set(manifest.get("files", {})) | set(manifest.get("folders", [])) if manifest else set()
    return [name for name in _entries(folder) if name not in ours]


def _refuse_foreign(target: Path, foreign: list[str], flag: str) -> UserError:
    shown = ", ".join(printable(n, 60) for n in foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
    return UserError(f"{flag} {printable(str(target))} holds files the harness did not write ({shown}); choose a new or empty "
                     "folder, or pass --force to write beside them (they are kept)")  # fmt: skip


def _check_target(target: Path, kind: str, flag: str, force: bool) -> dict[str, Any] | None:
    """The target's manifest (None: new, empty or adopted with --force); refuses another kind or a user's folder."""
    if target.exists() and not target.is_dir():
        raise UserError(f"{flag} {printable(str(target))} is a file, not a folder; give a folder path")
    manifest = read_manifest(target) if target.is_dir() else None
    if manifest is not None and manifest.get("kind") != kind:
        raise UserError(f"{flag} {printable(str(target))} holds a harness {printable(str(manifest.get('kind')), 40)} folder, not "
                        f"a {kind} folder; choose another folder")  # fmt: skip
    foreign = foreign_files(target, manifest)
    if foreign and not force:
        raise _refuse_foreign(target, foreign, flag)
    return manifest


@contextlib.contextmanager
def _locked(target: Path, flag: str) -> Iterator[None]:
    """One writer per target at a time; the lock file lives in the harness cache, never in the user's folder."""
    folder = cache_root() / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(str(target.resolve()).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    handle: IO[str] = (folder / f"{key}.lock").open("w")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"{flag} {printable(str(target))}: another harness process is writing this folder; wait for it to "
                            "finish, then run again") from None  # fmt: skip
        yield
    finally:
        handle.close()


def _manifest(kind: str, files: dict[str, dict[str, Any]], meta: dict[str, Any], folders: list[str] | None = None) -> bytes:
    body: dict[str, Any] = {
        "harness_manifest": MANIFEST_VERSION,
        "kind": kind,
        "made_by": f"harness {harness_version()}",
        "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **meta,
        "files": dict(sorted(files.items())),
    }
    if folders is not None:
        body["folders"] = sorted(folders)
    return (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _remove_leftovers(parent: Path, name: str) -> None:
    """Staging and old folders of this target left by a killed writer (we hold the target's lock, so none is live)."""
    for prefix in (_STAGING, _OLD):
        for stale in parent.glob(f"{prefix}{name}.*"):
            shutil.rmtree(stale, ignore_errors=True)


class StagedFolder:
    """A folder written whole, then swapped into place (see the module docstring). Use as a context manager.

    >>> import tempfile; root = Path(tempfile.mkdtemp())
    >>> with StagedFolder(root / "out", "example") as folder:
    ...     _ = folder.write_text("a.txt", "hello")
    ...     folder.commit({"note": "doctest"})
    >>> sorted(p.name for p in (root / "out").iterdir())
    ['a.txt', 'harness-manifest.json']
    """

    def __init__(self, target: Path, kind: str, *, force: bool = False, flag: str = "--to") -> None:
        """Nothing is touched until the context is entered."""
        self.target, self.kind, self.force, self.flag = target, kind, force, flag
        self.files: dict[str, dict[str, Any]] = {}
        self._stack = contextlib.ExitStack()
        self.staging: Path | None = None
        self._kept: list[str] = []  # the user's files carried into the new folder (only with force)

    def __enter__(self) -> StagedFolder:
        """Lock the target, check whose it is, and make the staging folder beside it."""
        check_name(self.target.resolve().name, f"{self.flag} folder name")
        parent = self.target.resolve().parent
        parent.mkdir(parents=True, exist_ok=True)
        self._stack.enter_context(_locked(self.target, self.flag))
        try:
            manifest = _check_target(self.target, self.kind, self.flag, self.force)
            self._kept = foreign_files(self.target, manifest)
            _remove_leftovers(parent, self.target.resolve().name)
            self.staging = parent / f"{_STAGING}{self.target.resolve().name}.{os.getpid()}-{uuid.uuid4().hex[:8]}"
            self.staging.mkdir()
        except BaseException:
            self._stack.close()
            raise
        return self

    def path(self, name: str) -> Path:
        """Where file `name` (a checked name: no separator, `..` or control character) is staged."""
        assert self.staging is not None, "enter the context first"
        return self.staging / check_name(name, "file name")

    def write_text(self, name: str, text: str, **extra: Any) -> Path:
        """Stage one file; `extra` (a row count...) goes into its manifest entry."""
        path = self.path(name)
        path.write_text(text, encoding="utf-8")
        return self.add(name, **extra)

    def add(self, name: str, **extra: Any) -> Path:
        """List a file written at `path(name)` in the manifest, with its sha256 and size."""
        path = self.path(name)
        self.files[name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size, **extra}
        return path

    def commit(self, meta: dict[str, Any]) -> None:
        """Write the manifest last, then swap the staged folder into place (see the module docstring)."""
        assert self.staging is not None, "enter the context first"
        for name in self._kept:  # --force: the user's other files stay where they were (only files ours replaced)
            if name not in self.files:
                src = self.target / name
                with contextlib.suppress(FileExistsError):
                    (os.link if src.is_file() and not src.is_symlink() else _copy)(src, self.staging / name)
        for path in self.staging.iterdir():
            if path.is_file():
                with path.open("rb") as f:
                    os.fsync(f.fileno())
        _write_atomic(self.staging / MANIFEST, _manifest(self.kind, self.files, meta))
        _fsync_dir(self.staging)
        target = self.target.resolve()
        if target.is_dir() and not any(target.iterdir()):
            target.rmdir()
        if not target.exists():
            os.rename(self.staging, target)
        elif _exchange(self.staging, target):
            shutil.rmtree(self.staging)  # now the previous folder
        else:
            old = target.parent / f"{_OLD}{target.name}.{uuid.uuid4().hex[:8]}"
            os.rename(target, old)  # a kill here leaves no folder: nothing half-written is ever read
            os.rename(self.staging, target)
            shutil.rmtree(old, ignore_errors=True)
        _fsync_dir(target.parent)
        self.staging = None

    def __exit__(self, *exc: object) -> None:
        """Drop the staging folder if it was not committed, and release the lock."""
        try:
            if self.staging is not None:
                shutil.rmtree(self.staging, ignore_errors=True)
                self.staging = None
        finally:
            self._stack.close()


class OwnedFolder:
    """A folder the harness keeps and adds to (see the module docstring). Use as a context manager.

    >>> import tempfile; root = Path(tempfile.mkdtemp())
    >>> with OwnedFolder(root / "out", "example") as folder:
    ...     _ = folder.write_text("table.md", "| a |")
    ...     run = folder.subfolder("fp32")
    >>> sorted(read_manifest(root / "out")["files"]), read_manifest(root / "out")["folders"]
    (['table.md'], ['fp32'])
    """

    def __init__(self, target: Path, kind: str, *, force: bool = False, flag: str = "--output") -> None:
        """Nothing is touched until the context is entered."""
        self.target, self.kind, self.force, self.flag = target, kind, force, flag
        self._stack = contextlib.ExitStack()
        self.files: dict[str, dict[str, Any]] = {}
        self.folders: list[str] = []
        self.meta: dict[str, Any] = {}

    def check(self) -> None:
        """Refuse now (before any costly work) what `__enter__` would refuse: a user's folder, another kind."""
        _check_target(self.target, self.kind, self.flag, self.force)

    def __enter__(self) -> OwnedFolder:
        """Lock the folder, check whose it is, and mark it as ours."""
        self._stack.enter_context(_locked(self.target, self.flag))
        try:
            manifest = _check_target(self.target, self.kind, self.flag, self.force)
            if manifest:
                self.files = dict(manifest.get("files", {}))
                self.folders = list(manifest.get("folders", []))
            self.target.mkdir(parents=True, exist_ok=True)
            self._save()
        except BaseException:
            self._stack.close()
            raise
        return self

    def _save(self) -> None:
        _write_atomic(self.target / MANIFEST, _manifest(self.kind, self.files, self.meta, self.folders))

    def write_text(self, name: str, text: str) -> Path:
        """Write one file atomically and list it in the manifest."""
        return self.write_bytes(name, text.encode("utf-8"))

    def write_bytes(self, name: str, data: bytes) -> Path:
        """Write one file atomically and list it in the manifest."""
        path = self.target / check_name(name, "file name")
        _write_atomic(path, data)
        self.files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        self._save()
        return path

    def subfolder(self, name: str) -> Path:
        """A subfolder (a run folder, resumable in place), listed in the manifest before anything is written in it."""
        check_name(name, "folder name")
        if name not in self.folders:
            self.folders.append(name)
            self._save()
        return self.target / name

    def __exit__(self, *exc: object) -> None:
        """Release the lock."""
        self._stack.close()
