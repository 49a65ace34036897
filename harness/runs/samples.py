"""samples.jsonl of a finished run: the one reader every report, compare, HTML page and notebook goes through.

Damage policy, one for every reader of a finished run: the file is written once, in one atomic step, when
the run finishes, so a line that is not a record (not JSON, or lacking the key, task, subset or scores
that readers rely on) means the file was damaged after the fact. It is refused in one line naming the file
and the line (exit 2), never skipped: a comparison or report over silently fewer samples would be wrong.
(The partial file of a running evaluation has its own, resume-friendly policy: see `harness.runs.store`.)
Records are typed (`harness.runs.record`); a folder whose run.json records a newer samples schema than this
harness reads is refused in one line, never misread; one written before the version was recorded is schema 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from harness.core.errors import UserError
from harness.runs.jsonl import iter_lines
from harness.runs.record import SampleRecord, loads_record, schema_problem

__all__ = ["iter_samples", "load_samples"]

_FIX = "the file is damaged; re-run the evaluation to rewrite it, or restore the file"


def iter_samples(run_dir: Path) -> Iterator[SampleRecord]:
    """The records of a finished run, in data order, one at a time."""
    path = run_dir / "samples.jsonl"
    if not path.is_file():
        raise UserError(f"{path}: missing (is {run_dir} a finished run folder?)")
    _check_schema(run_dir)
    try:
        for number, _, raw in iter_lines(path):
            rec = loads_record(raw)
            if rec is None:
                raise UserError(f"{path} line {number}: not a sample record ({_FIX})")
            yield rec
    except OSError as exc:
        raise UserError(f"{path}: cannot read it ({exc.strerror})") from None


def load_samples(run_dir: Path) -> dict[str, SampleRecord]:
    """A finished run's records by key; a key twice is damage too."""
    records: dict[str, SampleRecord] = {}
    for rec in iter_samples(run_dir):
        if rec["key"] in records:
            raise UserError(f"{run_dir / 'samples.jsonl'}: sample {rec['key']!r} appears twice ({_FIX})")
        records[rec["key"]] = rec
    return records


def _check_schema(run_dir: Path) -> None:
    """Refuse records of a newer schema (run.json says which); a folder without run.json is schema 1."""
    path = run_dir / "run.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return
    except (OSError, ValueError, RecursionError) as exc:
        raise UserError(f"{path}: cannot read it ({getattr(exc, 'strerror', None) or exc}); restore the file or re-run") from None
    problem = schema_problem(meta) if isinstance(meta, dict) else "its run.json is not a JSON object"
    if problem:
        raise UserError(f"{run_dir}: {problem}")
