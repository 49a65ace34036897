"""The run store: each finished record appended the moment it arrives, so a killed run resumes.

A run folder holds `run.json` (the run's identity), `samples.partial.jsonl` while the run is going
(one record per line, written and flushed as each result arrives, fsynced at most once a second
and at the end), and once finished `samples.jsonl` (the records in data order, written once) and
`results.json` with the reports beside it; the partial file is then removed, so the records are on disk once. Records are
never held in memory: the store keeps each key's byte offset and reads records back when the
final file is written. A line torn by a kill is cut off; any other unreadable line is skipped
with a warning, and the records after it are kept. A lock (`flock`, released by the OS even on
SIGKILL) refuses a second concurrent run on the same folder; a finished run is read without it,
so it can be reported from a read-only folder.

The store does not interpret records beyond their key and `failed`: the engine passes `watch`, a predicate
on a record (a judgement still owed), and reads back the keys it holds in `watched`.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from harness.core.errors import HarnessWarning, UserError
from harness.core.redact import redact_secrets
from harness.runs.jsonl import dumps_line, iter_lines
from harness.runs.record import SampleRecord, loads_record
from harness.runs.results_file import Results, load_results

__all__ = ["CONFIG_FILE", "FinishedRun", "RunStore", "atomic_write_text", "finished_run"]

SYNC_SECONDS = 1.0
CONFIG_FILE = "config.yaml"  # the run's settings, in the form `harness eval --config` reads
RUN_FILES = ("run.json", "samples.partial.jsonl", "samples.jsonl", "results.json", "report.md", "report.csv", CONFIG_FILE)


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so readers never see half a file; registered secrets are masked."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            f.write(redact_secrets(text))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:  # name the file the user asked for, not our temporary one
        raise OSError(exc.errno, exc.strerror, str(path)) from None


def _read_json(path: Path, what: str) -> dict[str, Any]:
    """A small JSON file of the run folder; damage is one line naming the file and the fix."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: damaged {what} ({exc}); delete the run folder or choose another --output") from None
    if not isinstance(value, dict):
        raise UserError(f"{path}: damaged {what} (not a JSON object); delete the run folder or choose another --output")
    return value


@dataclass(frozen=True)
class FinishedRun:
    """A run folder that holds finished results for a given identity."""

    run_dir: Path
    fingerprint: str
    results: Results


def finished_run(run_dir: Path, inputs: str, scoring: str | None = None) -> FinishedRun | None:
    """The finished run in `run_dir` for these inputs, or None.

    None: not there, not finished, with failed samples to retry, or scored with other metrics (`scoring`, when
    given, must equal the scoring identity its results.json records).
    """
    run_json, results_json = run_dir / "run.json", run_dir / "results.json"
    if not (run_json.is_file() and results_json.is_file() and (run_dir / "samples.jsonl").is_file()):
        return None
    meta = _read_json(run_json, "run.json")
    if meta.get("inputs") != inputs:
        return None
    results = load_results(run_dir)
    if any(info.get("failed") or info.get("judge_retry") for info in results["tasks"].values()):
        return None
    if scoring is not None and results.get("scoring_identity") != scoring:
        return None  # the answers are reusable, but are scored again (no backend call)
    return FinishedRun(run_dir, str(meta.get("fingerprint")), results)


class RunStore:
    """One run folder; use as a context manager around the evaluation."""

    def __init__(self, run_dir: Path, fingerprint: str, meta: dict[str, Any], watch: Callable[[SampleRecord], bool] | None = None) -> None:
        """Remember where and what; nothing is touched until `open`."""
        self.dir = run_dir
        self.fingerprint = fingerprint
        self.meta = meta
        self._lock: IO[str] | None = None
        self._partial: IO[bytes] | None = None
        self._reader: IO[bytes] | None = None  # one read handle for `read`, opened on first use
        self._offsets: dict[str, tuple[int, int]] = {}
        self._end = 0
        self._synced = 0.0
        self._watch = watch
        self.watched: set[str] = set()  # keys of the stored records `watch` holds true for (the latest record per key)

    @property
    def partial_path(self) -> Path:
        """Where records are appended during the run."""
        return self.dir / "samples.partial.jsonl"

    def open(self, *, replace_stale: bool = False) -> dict[str, bool]:
        """Lock the folder, check its identity, and return the keys already done (key -> failed).

        A folder holding a different run is refused, or with `replace_stale` emptied of its run
        files first (`eval-checkpoints` re-evaluates a checkpoint whose inputs changed).
        """
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = (self.dir / ".lock").open("w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.close()
            raise UserError(f"{self.dir}: another run is writing to this folder; wait for it or choose another --output") from None
        run_json = self.dir / "run.json"
        stale = self._stale(run_json)
        if stale:
            if not replace_stale:
                self.close()
                raise UserError(f"{self.dir} {stale}; re-run with --replace-stale to replace it, or choose another --run-dir")
            for name in RUN_FILES:
                (self.dir / name).unlink(missing_ok=True)
        if not run_json.exists():
            atomic_write_text(run_json, json.dumps({"fingerprint": self.fingerprint, **self.meta}, indent=2, ensure_ascii=False))
        final = self.dir / "samples.jsonl"
        if final.exists() and not self.partial_path.exists():
            # A finished run with failed samples to retry: its records become the partial file again.
            os.replace(final, self.partial_path)
        done = self._index()
        self._partial = self.partial_path.open("ab")
        self._end = self._partial.tell()
        return done

    def _stale(self, run_json: Path) -> str | None:
        """Why the folder holds another run (so its records must not be reused), or None."""
        if not run_json.exists():
            # Records without the identity that says whose they are (run.json deleted): never reuse them.
            leftover = [name for name in RUN_FILES if (self.dir / name).exists()]
            return f"holds {', '.join(leftover)} but no run.json, so nothing says which run they belong to" if leftover else None
        old = _read_json(run_json, "run.json")
        if old.get("fingerprint") == self.fingerprint:
            return None
        version = old.get("harness", "0.1")
        if version != self.meta.get("harness"):
            return f"holds a run written by harness {version}, whose run identity this version does not share"
        return "holds a run with a different config (model, prompt, generation settings or data changed)"

    def _index(self) -> dict[str, bool]:
        """Offsets of the records on disk; a torn last line is cut off, other bad lines are skipped."""
        done: dict[str, bool] = {}
        if not self.partial_path.exists():
            return done
        bad: list[int] = []
        good_end = 0
        held_back = 0
        for number, offset, raw in iter_lines(self.partial_path):
            rec = loads_record(raw)
            if not raw.endswith(b"\n"):
                break  # torn by a kill: cut off below
            good_end = offset + len(raw)
            if rec is None:
                bad.append(number)
                continue
            if bad:
                held_back += 1
            self._offsets[rec["key"]] = (offset, len(raw))
            done[rec["key"]] = bool(rec.get("failed"))
            self._track(rec)
        if good_end < self.partial_path.stat().st_size:
            with self.partial_path.open("r+b") as f:
                f.truncate(good_end)
        if bad:
            warnings.warn(
                f"{self.partial_path}: skipped {len(bad)} unreadable line(s) (first: line {bad[0]}); "
                f"the {held_back} record(s) after it are kept, and the skipped samples will be computed again",
                HarnessWarning,
                stacklevel=2,
            )
        return done

    def append(self, record: SampleRecord) -> None:
        """Write one finished record to the OS at once (a kill loses nothing written); fsync at most once a second."""
        assert self._partial is not None, "open() first"
        data = dumps_line(record).encode("utf-8")
        try:
            self._partial.write(data)
            self._partial.flush()
        except OSError as exc:  # a full disk: the line names the file (a write error carries no path of its own)
            raise OSError(exc.errno, exc.strerror, str(self.partial_path)) from None
        self._offsets[record["key"]] = (self._end, len(data))
        self._end += len(data)
        self._track(record)
        now = time.monotonic()
        if now - self._synced >= SYNC_SECONDS:
            os.fsync(self._partial.fileno())
            self._synced = now

    def _track(self, record: SampleRecord) -> None:
        if self._watch is not None and self._watch(record):
            self.watched.add(record["key"])
        else:
            self.watched.discard(record["key"])

    def read(self, key: str) -> SampleRecord:
        """The stored record of `key` (read back from disk: records are not kept in memory)."""
        assert self._partial is not None, "open() first"
        self._partial.flush()
        if self._reader is None:
            self._reader = self.partial_path.open("rb")
        offset, length = self._offsets[key]
        self._reader.seek(offset)
        record = loads_record(self._reader.read(length))
        assert record is not None, f"record {key} changed on disk"
        return record

    def finalize(
        self,
        keys: Iterable[str],
        consume: Callable[[SampleRecord], None],
        transform: Callable[[SampleRecord], SampleRecord | None] | None = None,
    ) -> None:
        """Write `samples.jsonl` in the order of `keys`, passing each record to `consume` (results are built from it).

        `transform` may return a new version of a record (its scores computed from its answer); that is what
        samples.jsonl holds. The partial file keeps the answers until results.json is written.
        """
        assert self._partial is not None, "open() first"
        self._partial.flush()
        os.fsync(self._partial.fileno())
        tmp = self.dir / ".samples.jsonl.tmp"
        try:
            self._write_final(tmp, keys, consume, transform)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise OSError(exc.errno, exc.strerror, exc.filename or str(self.dir / "samples.jsonl")) from None
        os.replace(tmp, self.dir / "samples.jsonl")

    def _write_final(
        self,
        tmp: Path,
        keys: Iterable[str],
        consume: Callable[[SampleRecord], None],
        transform: Callable[[SampleRecord], SampleRecord | None] | None,
    ) -> None:
        with self.partial_path.open("rb") as src, tmp.open("wb") as out:
            for key in keys:
                offset, length = self._offsets[key]
                src.seek(offset)
                raw = src.read(length)
                record = loads_record(raw)
                assert record is not None, f"record {key} changed on disk"
                changed = transform(record) if transform is not None else None
                if changed is not None:
                    record, raw = changed, dumps_line(changed).encode("utf-8")
                out.write(raw)
                consume(record)
            out.flush()
            os.fsync(out.fileno())

    def write_results(self, results: Results, beside: dict[str, str] | None = None) -> None:
        """Write the files `beside` it (reports), then `results.json`, and drop the partial file: the run is finished."""
        for name, text in (beside or {}).items():
            atomic_write_text(self.dir / name, text)
        atomic_write_text(self.dir / "results.json", json.dumps(results, indent=2, ensure_ascii=False) + "\n")
        self.partial_path.unlink(missing_ok=True)

    def close(self) -> None:
        """Release the file handles and the lock."""
        if self._reader:
            self._reader.close()
            self._reader = None
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
