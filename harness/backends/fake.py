"""A deterministic backend for tests and dry runs: answers come from a rule or a table, no model.

`--backend fake --model RULE`:

- `hash` (default): each choice's log-probability is derived from a SHA-256 of the request, so
  the pick looks arbitrary but never changes; generation echoes the last user message for QA and
  answers "ANSWER: X" (X from the same hash) for MCQ.
- `first`: always the first option; generation as `hash`.
- `table:PATH`: a JSONL file of `{"key": ..., "prediction": ...}`, where key is a sample key as
  samples.jsonl writes it (`task/subset/index`) or just the row index; the prediction is the
  generated text, or for choice scoring the letter or option text that wins.

`model_args`: `delay` (seconds slept per request, to test interruption), `calls_file` (a file
that gets one line per request key handled, to count backend calls across processes; `{rank}`
in it becomes the torchrun rank, so each rank can count its own), `hold_at` (after that many requests, wait
until the process is stopped, at most `HOLD_SECONDS`: a test that interrupts a run mid-task knows it is still
mid-task however slowly it is scheduled, rather than racing a delay), `hold_rank` (hold on that torchrun rank
only).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from harness.backends.base import ChoiceRequest, ChoiceResult, GenerateRequest, Generation, LengthIssue, LocalModel, Request
from harness.backends.generation import GenerationConfig
from harness.core.errors import UserError
from harness.core.pipeline import stopping

__all__ = ["FakeBackend"]


def _unit(*parts: str) -> float:
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class FakeBackend(LocalModel):
    """Rule- or table-driven answers; see the module docstring."""

    name = "fake"
    overlap = True  # as hf on a GPU: the tests run the threaded pipeline (harness.core.pipeline)

    def __init__(
        self,
        model: str = "hash",
        *,
        delay: float = 0.0,
        calls_file: str | None = None,
        hold_at: int | None = None,
        hold_rank: int | None = None,
    ) -> None:
        """Parse the rule; a table is read once here."""
        self.rule = model or "hash"
        self.delay = float(delay)
        rank = os.environ.get("RANK", "0")
        self.hold_at = hold_at if hold_rank is None or str(hold_rank) == rank else None
        self.handled = 0
        self.calls_file = Path(calls_file.replace("{rank}", rank)) if calls_file else None
        self.table: dict[str, str] = {}
        if self.rule.startswith("table:"):
            self.table = _read_table(Path(self.rule[len("table:") :]))
        elif self.rule not in ("hash", "first", "fake"):
            raise UserError(f"fake backend: unknown rule {self.rule!r} (use hash, first or table:PATH)")

    def fingerprint(self) -> dict[str, Any]:
        """The rule and, for a table, a hash of its contents."""
        digest = hashlib.sha256(json.dumps(self.table, sort_keys=True).encode()).hexdigest()[:16]
        return {"backend": "fake", "model": self.rule, "table_sha256": digest if self.table else None}

    def check_lengths(self, requests: Sequence[Request], max_new_tokens: int) -> list[LengthIssue] | None:
        """No tokenizer, no context window."""
        return None

    def _tick(self, keys: Sequence[str]) -> None:
        for key in keys:
            if self.hold_at is not None and self.handled == self.hold_at:
                _hold()
            self.handled += 1
            if self.delay:
                time.sleep(self.delay)
            if self.calls_file:
                with self.calls_file.open("a", encoding="utf-8") as f:
                    f.write(key + "\n")

    def _lookup(self, key: str) -> str | None:
        return self.table.get(key, self.table.get(key.rsplit("/", 1)[-1]))

    def score_choices(self, requests: Sequence[ChoiceRequest]) -> Iterator[tuple[int, ChoiceResult]]:
        """Log-probabilities in (-10, 0); the winner is set by the rule."""
        for i, req in enumerate(requests):
            self._tick([req.key])
            lps = [-0.5 - 9 * _unit(req.key, str(req.messages), c) for c in req.continuations]
            winner = self._winner(req)
            if winner is not None:
                lps[winner] = -0.1
            yield i, ChoiceResult(tuple(lps), tuple(1 for _ in lps), context=str(req.messages[-1]["content"]))

    def _winner(self, req: ChoiceRequest) -> int | None:
        if self.rule == "first":
            return 0
        wanted = self._lookup(req.key)
        if wanted is None:
            return None
        for i, cont in enumerate(req.continuations):
            if cont.strip() == wanted.strip():
                return i
        return None

    def generate(self, requests: Sequence[GenerateRequest], config: GenerationConfig) -> Iterator[tuple[int, Generation]]:
        """Echo (QA) or a rule-chosen "ANSWER: X" (MCQ), cut at stop strings."""
        for i, req in enumerate(requests):
            self._tick([req.key])
            text = self._lookup(req.key)
            if text is None:
                if req.letters:
                    letter = req.letters[0] if self.rule == "first" else req.letters[int(_unit(req.key) * len(req.letters))]
                    text = f"ANSWER: {letter}"
                else:
                    text = req.messages[-1]["content"]
            for stop in config.stop:
                text = text.split(stop, 1)[0]
            yield i, Generation(text, prompt=str(req.messages[-1]["content"]), completion_tokens=len(text.split()))


HOLD_SECONDS = 600.0


def _hold() -> None:
    """Wait (in the backend's own thread, so a signal still reaches the main thread) until the process stops."""
    end = time.monotonic() + HOLD_SECONDS
    while time.monotonic() < end and not stopping():
        time.sleep(0.05)


def _read_table(path: Path) -> dict[str, str]:
    table: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except OSError as exc:
        raise UserError(f"{path}: cannot read the fake backend's table ({exc.strerror})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            table[str(obj["key"])] = str(obj["prediction"])
        except (json.JSONDecodeError, KeyError, AttributeError):
            raise UserError(f'{path} line {number}: expected {{"key": ..., "prediction": ...}}') from None
    return table
