"""An opt-in request cache (SQLite) shared across runs: `--use-cache`.

Keyed by the model fingerprint, the backend, the full request and (for generation) the
generation config, so re-scoring, adding a metric or re-rendering a report never recomputes a
model output, and a different model or setting never reads another's answers. It wraps any
backend's stream: cached answers are yielded at once, the rest go to the backend in one call and
are stored as they arrive (committed about once a second). A damaged database is moved aside and
rebuilt, with a warning; a damaged value is recomputed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from harness.backends.base import (
    Backend,
    ChoiceRequest,
    ChoiceResult,
    GenerateRequest,
    Generation,
    LengthIssue,
    Request,
    ScoringMode,
    offered_modes,
)
from harness.backends.generation import GenerationConfig
from harness.core.errors import HarnessWarning, UserError
from harness.core.redact import redact_secrets

__all__ = ["CachedBackend"]

R = TypeVar("R", ChoiceRequest, GenerateRequest)
T = TypeVar("T", ChoiceResult, Generation)
COMMIT_SECONDS = 1.0
_LOOKUP = 500  # keys per SELECT


def _load_choice(d: dict[str, Any]) -> ChoiceResult:
    return ChoiceResult(**{**d, "logprobs": tuple(d["logprobs"]), "token_counts": tuple(d["token_counts"])})


def _load_generation(d: dict[str, Any]) -> Generation:
    return Generation(**d)


class CachedBackend:
    """A `Backend` that remembers answers in SQLite."""

    def __init__(self, inner: Backend, path: Path) -> None:
        """Open (or create) the database at `path`; a damaged one is moved aside and rebuilt."""
        self.inner = inner
        self.name = inner.name
        self.default_scoring = inner.default_scoring
        self.scoring_via: Mapping[ScoringMode, str] = inner.scoring_via
        self.scoring_modes = offered_modes(inner)
        self.overlap = bool(getattr(inner, "overlap", False))
        self.path = path
        self.db = self._connect(path)
        self._model = json.dumps({"backend": inner.name, "model": inner.fingerprint()}, sort_keys=True, default=str)
        self.hits = 0
        self.misses = 0

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return CachedBackend._open_db(path)
        except sqlite3.DatabaseError as exc:
            aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
            os.replace(path, aside)
            warnings.warn(
                f"{path}: damaged request cache ({exc}); moved to {aside.name} and started a new one", HarnessWarning, stacklevel=3
            )
            try:
                return CachedBackend._open_db(path)
            except sqlite3.DatabaseError as again:
                raise UserError(f"{path}: cannot create the request cache ({again}); check the folder or drop --use-cache") from None

    @staticmethod
    def _open_db(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(str(path), timeout=60, check_same_thread=False)  # torchrun: used from one worker thread at a time
        db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("SELECT count(*) FROM (SELECT key FROM answers LIMIT 1)").fetchone()
        db.commit()
        return db

    def fingerprint(self) -> dict[str, Any]:
        """The wrapped backend's fingerprint: caching never changes results."""
        return self.inner.fingerprint()

    def check_lengths(self, requests: Sequence[Request], max_new_tokens: int) -> list[LengthIssue] | None:
        """The wrapped backend's check."""
        return self.inner.check_lengths(requests, max_new_tokens)

    def _key(self, kind: str, request: Any, extra: Any = None) -> str:
        body = {k: v for k, v in dataclasses.asdict(request).items() if k != "key"}
        text = json.dumps([self._model, kind, body, extra], sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def _lookup(self, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        try:
            for start in range(0, len(keys), _LOOKUP):
                part = keys[start : start + _LOOKUP]
                query = f"SELECT key, value FROM answers WHERE key IN ({','.join('?' * len(part))})"
                found.update(self.db.execute(query, part).fetchall())
        except sqlite3.DatabaseError as exc:
            raise UserError(f"{self.path}: the request cache is damaged ({exc}); delete it or run without --use-cache") from None
        return found

    def _through(
        self,
        keys: list[str],
        requests: Sequence[R],
        compute: Callable[[list[R]], Iterator[tuple[int, T]]],
        load: Callable[[dict[str, Any]], T],
        failed: Callable[[T], bool],
    ) -> Iterator[tuple[int, T]]:
        stored = self._lookup(keys)
        missing = []
        for i, key in enumerate(keys):
            try:
                hit = load(json.loads(stored[key])) if key in stored else None
            except (json.JSONDecodeError, TypeError, KeyError):
                hit = None  # a damaged value: computed again and overwritten
            if hit is None:
                missing.append(i)
                continue
            self.hits += 1
            yield i, hit
        self.misses += len(missing)
        if not missing:
            return
        committed = time.monotonic()
        try:
            for j, result in compute([requests[i] for i in missing]):
                i = missing[j]
                if not failed(result):  # a failure is not cached, so a retry can succeed
                    value = redact_secrets(json.dumps(dataclasses.asdict(result), ensure_ascii=False))
                    self.db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?)", (keys[i], value))
                if time.monotonic() - committed >= COMMIT_SECONDS:
                    self.db.commit()
                    committed = time.monotonic()
                yield i, result
        finally:
            self.db.commit()

    def score_choices(self, requests: Sequence[ChoiceRequest]) -> Iterator[tuple[int, ChoiceResult]]:
        """Cached `score_choices`; failed requests are not cached."""
        keys = [self._key("choices", r) for r in requests]
        return self._through(keys, requests, self.inner.score_choices, _load_choice, lambda r: r.error is not None)

    def generate(self, requests: Sequence[GenerateRequest], config: GenerationConfig) -> Iterator[tuple[int, Generation]]:
        """Cached `generate`; failed generations are not cached, so a retry can succeed."""
        keys = [self._key("generate", r, dataclasses.asdict(config)) for r in requests]
        return self._through(keys, requests, lambda rs: self.inner.generate(rs, config), _load_generation, lambda g: g.text is None)
