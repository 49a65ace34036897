"""Finishing a run folder: the reports and the settings file beside results.json, as one step.

results.json is written last and marks the run finished, so a kill at any moment leaves either an
unfinished run (the same command completes it from its records) or a finished one with every file.
A finished folder that lacks a report (an older harness, a file deleted by hand) is repaired by the
next command that finds it, from its results.json; nothing else in it is written again.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from harness.core.errors import HarnessWarning
from harness.reports.scores import render
from harness.runs.results_file import Results
from harness.runs.store import CONFIG_FILE, RunStore, atomic_write_text

__all__ = ["REPORT_FILES", "finish", "repair"]

REPORT_FILES = ("report.md", "report.csv")


def _files(results: Results, run_dir: Path, settings: str | None) -> dict[str, str]:
    files = {"report.md": render(results, "md", run_dir=run_dir), "report.csv": render(results, "csv", run_dir=run_dir)}
    if settings is not None:
        files[CONFIG_FILE] = settings
    return files


def finish(store: RunStore, results: Results, settings: str | None) -> None:
    """Write the reports (and `settings`, the run's config.yaml), then results.json."""
    store.write_results(results, _files(results, store.dir, settings))


def repair(run_dir: Path, results: Results, settings: str | None) -> list[str]:
    """Write whichever of the finished run's reports are missing; returns their names.

    A folder that cannot be written (a read-only mount) is still reported, with one warning.
    """
    missing = {name: text for name, text in _files(results, run_dir, settings).items() if not (run_dir / name).is_file()}
    try:
        for name, text in missing.items():
            atomic_write_text(run_dir / name, text)
    except OSError as exc:
        warnings.warn(f"{run_dir}: cannot write the missing {', '.join(missing)} ({exc.strerror})", HarnessWarning, stacklevel=2)
        return []
    return list(missing)
