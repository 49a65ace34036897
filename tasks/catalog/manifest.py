"""A pulled benchmark proves what it holds: its manifest, the NOTICE rendered from it, and the check `--datasets NAME` runs.

`harness data pull` writes the manifest last (harness.core.folders): the benchmark, its source (the hub
revision, or a sha256 of the local files read), licence and citation, every file with its sha256 and row
count, and the rows left out with their reasons. `verify_pulled` holds a folder to it before a benchmark
is evaluated or listed as pulled: a missing, extra or edited file, or no manifest at all (a pull that never
finished, or a folder the harness did not write), is one line naming them and the command that fixes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.core.errors import UserError
from harness.core.folders import MANIFEST, foreign_files, read_manifest, sha256_file
from harness.core.names import printable

__all__ = ["KIND", "render_notice", "verify_pulled"]

KIND = "benchmark"


def verify_pulled(folder: Path, name: str) -> dict[str, Any]:
    """The folder's manifest when the folder is exactly what `harness data pull NAME` wrote; else a `UserError`."""
    fix = f"run `harness data pull {name}` again (add --from PATH for a local copy)"
    where = printable(str(folder))
    if not folder.is_dir():
        raise UserError(f"{name}: {where} does not exist; {fix}")
    manifest = read_manifest(folder)
    if manifest is None:
        raise UserError(f"{name}: {where} has no {MANIFEST}, so nothing says it holds the whole benchmark (a pull that did "
                        f"not finish, or a folder the harness did not write); {fix}")  # fmt: skip
    if manifest.get("kind") != KIND or manifest.get("benchmark") != name:
        what = printable(str(manifest.get("benchmark") or manifest.get("kind")), 40)
        raise UserError(f"{name}: {where} holds {what}, not {name}; {fix}")
    problems = []
    missing = [f for f in manifest["files"] if not (folder / f).is_file()]
    changed = [f for f, entry in manifest["files"].items() if f not in missing and not _same(folder / f, entry)]
    extra = foreign_files(folder, manifest)
    for label, names in (("missing", missing), ("changed", changed), ("not written by the pull", extra)):
        if names:
            problems.append(f"{label}: " + ", ".join(printable(n, 60) for n in names[:4]) + (" ..." if len(names) > 4 else ""))
    if problems:
        raise UserError(f"{name}: {where} does not match its manifest ({'; '.join(problems)}), so it is not the benchmark "
                        f"that was pulled; {fix}")  # fmt: skip
    return manifest


def _same(path: Path, entry: dict[str, Any]) -> bool:
    return path.stat().st_size == entry.get("bytes") and sha256_file(path) == entry.get("sha256")


def render_notice(meta: dict[str, Any], files: dict[str, dict[str, Any]]) -> str:
    """NOTICE: the manifest in words (source, licence, citation, rows written and left out)."""
    left = meta.get("left_out") or {}
    skipped = "".join(f"- {why}: {n}\n" for why, n in sorted(left.items())) or "- none\n"
    rows = "".join(f"- {f}: {entry['rows']}\n" for f, entry in sorted(files.items()) if "rows" in entry)
    missing = meta.get("missing_configs") or []
    pool = f"the first {meta['dev_rows']} rows of {meta['few_shot_split']}" if meta["few_shot_split"] else "none (the prompt holds its own)"
    return (
        f"{meta['title']} ({meta['benchmark']}), converted to {meta['format']} by {meta['made_by']} on {meta['date']}.\n\n"
        f"Source: {meta['source']}\nHugging Face dataset: https://huggingface.co/datasets/{meta['hf_id']}\n"
        f"Evaluated split: {meta['eval_split']}; few-shot pool: {pool}\n"
        f"Licence: {meta['licence']}. The data keeps its licence; this folder is a conversion, not a relicensing.\n"
        f"Cite: {meta['citation']}\n\nRows written:\n{rows}"
        f"\nRows left out ({meta['format']} cannot hold them):\n{skipped}"
        + (f"\nConfigs not in the local copy, not written: {', '.join(missing)}\n" if missing else "")
        + f"\nEvery file's sha256 is in {MANIFEST}; `harness eval --datasets {meta['benchmark']}` checks them before it runs.\n"
    )
