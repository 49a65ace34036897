"""What produced a result: harness version, git commit, package versions, fingerprints."""

from __future__ import annotations

import hashlib
import json
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["file_sha256", "fingerprint", "git_hash", "harness_version", "package_versions"]

_PACKAGES = ("torch", "transformers", "vllm", "numpy", "nltk", "jieba", "accelerate", "peft", "bitsandbytes")


def harness_version() -> str:
    """The installed distribution's version, or "0+unknown" from a bare checkout."""
    try:
        return metadata.version("harness")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def git_hash() -> str | None:
    """Commit of the harness source tree, when it is a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def package_versions() -> dict[str, str]:
    """Versions of the libraries that can change numbers (those installed)."""
    found = {}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def file_sha256(path: Path) -> str:
    """Content hash of a data file, so an edited file is never mixed into a resumed run."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fingerprint(obj: Any) -> str:
    """Stable hash of a JSON-ready object."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()
