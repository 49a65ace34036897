"""An opt-in request cache (SQLite) shared across runs: `--use-cache`.

Keyed by the model fingerprint, the backend, the full request and (for generation) the
generation config, so re-scoring, adding a metric or re-rendering a report never recomputes a
model output, and a different model or setting never reads another's answers. It wraps any
backend: cached requests are answered from the database, the rest forwarded in one call.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from harness.backends.base import Backend, ChoiceRequest, ChoiceResult, GenerateRequest, Generation
from harness.config import GenerationConfig
from harness.redact import redact_secrets

__all__ = ["CachedBackend"]

R = TypeVar("R")
T = TypeVar("T")


class CachedBackend:
    """A `Backend` that remembers answers in SQLite."""

    def __init__(self, inner: Backend, path: Path) -> None:
        """Open (or create) the database at `path`."""
        self.inner = inner
        self.name = inner.name
        self.default_scoring = inner.default_scoring
        self.scoring_via: dict[str, str] | None = getattr(inner, "scoring_via", None)
        self.chunk_size: int | None = getattr(inner, "chunk_size", None)
        self.count_tokens = getattr(inner, "count_tokens", None)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), timeout=60)
        self.db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self.db.commit()
        self._model = json.dumps({"backend": inner.name, "model": inner.fingerprint()}, sort_keys=True, default=str)
        self.hits = 0
        self.misses = 0

    def fingerprint(self) -> dict[str, Any]:
        """The wrapped backend's fingerprint: caching never changes results."""
        return self.inner.fingerprint()

    def _key(self, kind: str, request: Any, extra: Any = None) -> str:
        body = {k: v for k, v in dataclasses.asdict(request).items() if k != "key"}
        text = json.dumps([self._model, kind, body, extra], sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def _through(
        self, keys: list[str], requests: Sequence[R], compute: Callable[[list[R]], list[T]], load: Callable[[dict[str, Any]], T]
    ) -> list[T]:
        found: dict[str, T] = {}
        for k in keys:
            row = self.db.execute("SELECT value FROM answers WHERE key = ?", (k,)).fetchone()
            if row:
                found[k] = load(json.loads(row[0]))
        missing = [i for i, k in enumerate(keys) if k not in found]
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        if missing:
            fresh = compute([requests[i] for i in missing])
            rows = [
                (keys[i], redact_secrets(json.dumps(dataclasses.asdict(r), ensure_ascii=False)))  # type: ignore[call-overload]
                for i, r in zip(missing, fresh, strict=True)
            ]
            self.db.executemany("INSERT OR REPLACE INTO answers VALUES (?, ?)", rows)
            self.db.commit()
            found.update((keys[i], r) for i, r in zip(missing, fresh, strict=True))
        return [found[k] for k in keys]

    def score_choices(self, requests: Sequence[ChoiceRequest]) -> list[ChoiceResult]:
        """Cached `score_choices`; failed requests are not cached."""
        keys = [self._key("choices", r) for r in requests]

        def load(d: dict[str, Any]) -> ChoiceResult:
            return ChoiceResult(**{**d, "logprobs": tuple(d["logprobs"]), "token_counts": tuple(d["token_counts"])})

        out = self._through(keys, requests, lambda rs: self.inner.score_choices(rs), load)
        self._forget([k for k, r in zip(keys, out, strict=True) if r.error is not None])
        return out

    def generate(self, requests: Sequence[GenerateRequest], config: GenerationConfig) -> list[Generation]:
        """Cached `generate`; failed generations are not cached, so a retry can succeed."""
        keys = [self._key("generate", r, dataclasses.asdict(config)) for r in requests]
        out = self._through(keys, requests, lambda rs: self.inner.generate(rs, config), lambda d: Generation(**d))
        self._forget([k for k, g in zip(keys, out, strict=True) if g.text is None])
        return out

    def _forget(self, keys: list[str]) -> None:
        """Drop failed answers, so a retry can succeed."""
        if keys:
            self.db.executemany("DELETE FROM answers WHERE key = ?", [(k,) for k in keys])
            self.db.commit()
