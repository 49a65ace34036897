"""The run store: per-sample records appended as they complete, so a killed run resumes.

A run folder holds `run.json` (the config fingerprint it belongs to), `samples.partial.jsonl`
(appended and flushed per batch; a torn last line from a kill is ignored), and once finished
`results.json` and `samples.jsonl`, written atomically. A lock (`flock`, released by the OS even
on SIGKILL) refuses a second concurrent run on the same folder.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from harness.jsonl import dumps_line, iter_lines, loads_record
from harness.redact import redact_secrets
from tasks.errors import UserError

__all__ = ["RunStore", "atomic_write_text"]


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so readers never see half a file; registered secrets are masked."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(redact_secrets(text))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class RunStore:
    """One run folder; use as a context manager around the evaluation."""

    def __init__(self, run_dir: Path, fingerprint: str, meta: dict[str, Any]) -> None:
        """Remember where and what; nothing is touched until `open`."""
        self.dir = run_dir
        self.fingerprint = fingerprint
        self.meta = meta
        self._lock: IO[str] | None = None
        self._partial: IO[str] | None = None

    @property
    def partial_path(self) -> Path:
        """Where records are appended during the run."""
        return self.dir / "samples.partial.jsonl"

    def open(self) -> dict[str, dict[str, Any]]:
        """Lock the folder, check the fingerprint, and return the records already done, by key."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = (self.dir / ".lock").open("w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"{self.dir}: another run is writing to this folder; wait for it or choose another --output") from None
        run_json = self.dir / "run.json"
        if run_json.exists():
            old = json.loads(run_json.read_text(encoding="utf-8")).get("fingerprint")
            if old != self.fingerprint:
                self.close()
                raise UserError(
                    f"{self.dir} holds a run with a different config (model, prompt, generation settings or data changed); "
                    "choose another --output or delete the folder"
                )
        else:
            atomic_write_text(run_json, json.dumps({"fingerprint": self.fingerprint, **self.meta}, indent=2, ensure_ascii=False))
        done = self._read_partial()
        self._partial = self.partial_path.open("a", encoding="utf-8")
        return done

    def _read_partial(self) -> dict[str, dict[str, Any]]:
        done: dict[str, dict[str, Any]] = {}
        if not self.partial_path.exists():
            return done
        good = 0
        for _, _, raw in iter_lines(self.partial_path):
            rec = loads_record(raw)
            if rec is None or not raw.endswith(b"\n"):
                break  # a line torn by a kill; everything after it is rewritten
            done[rec["key"]] = rec
            good += len(raw)
        with self.partial_path.open("r+b") as f:
            f.truncate(good)
        return done

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        """Append finished records and push them to disk."""
        assert self._partial is not None, "open() first"
        for rec in records:
            self._partial.write(dumps_line(rec))
        self._partial.flush()
        os.fsync(self._partial.fileno())

    def finalize(self, results: dict[str, Any], records: list[dict[str, Any]]) -> None:
        """Write the final files atomically."""
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)  # masked by atomic_write_text
        atomic_write_text(self.dir / "samples.jsonl", lines)
        atomic_write_text(self.dir / "results.json", json.dumps(results, indent=2, ensure_ascii=False) + "\n")

    def close(self) -> None:
        """Release the file handles and the lock."""
        if self._partial:
            self._partial.close()
            self._partial = None
        if self._lock:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> RunStore:
        """Nothing beyond `open`, which the runner calls for its return value."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Always release the lock."""
        self.close()
