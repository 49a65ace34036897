"""The backend's loop runs one step ahead in a thread: order, durability, errors and early stops.

`harness.core.pipeline.ahead` on its own, then through the engine with the fake backend (whose
spec says `overlap`, as hf's does): records still reach the store while the backend runs, an error
in the backend's thread is one line and exit 2 with the finished records kept, and kill -9 resume
stays identical (tests/test_resume.py runs the same threaded path).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from conftest import TEST_DATA

from harness.backends.fake import FakeBackend
from harness.cli.main import main
from harness.core.pipeline import ahead
from harness.engine.config import EvalConfig
from harness.engine.runner import evaluate
from harness.tasks import UserError

ARC = {"general_mcq": {"local_path": str(TEST_DATA / "arc_easy_100")}}


def test_items_arrive_in_order_and_the_producer_stays_within_depth():
    produced: list[int] = []

    def source():
        for i in range(50):
            produced.append(i)
            yield i

    seen = []
    for item in ahead(source(), depth=2):
        time.sleep(0.001)
        # Produced so far: what was consumed, the queue's 2, and at most one the producer holds.
        assert len(produced) <= item + 1 + 2 + 1
        seen.append(item)
    assert seen == list(range(50))


def test_a_producer_error_is_raised_in_the_consumer_as_itself_after_the_items_before_it():
    def source():
        yield 1
        yield 2
        raise UserError("data.csv line 3: bad row")

    seen = []
    with pytest.raises(UserError, match="line 3"):
        for item in ahead(source()):
            seen.append(item)
    assert seen == [1, 2]


def test_a_consumer_that_stops_early_stops_and_closes_the_producer():
    closed = threading.Event()
    produced: list[int] = []

    def source():
        try:
            for i in range(1000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    for item in ahead(source(), depth=2):
        if item == 3:
            break
    assert closed.wait(5)
    assert len(produced) <= 3 + 1 + 2 + 1


class WatchingBackend(FakeBackend):
    """Checks, before each result, that the records of results it gave earlier are already in the store."""

    def __init__(self, store_file: Path, fail_at: int | None = None) -> None:
        super().__init__("first")
        self.store_file, self.fail_at, self.lagging = store_file, fail_at, []

    def score_choices(self, requests):
        self.thread = threading.current_thread().name
        for n, item in enumerate(super().score_choices(requests)):
            if n == self.fail_at:
                raise UserError("the model server went away (planted)")
            if n >= 5:
                end = time.monotonic() + 120  # a hang guard: the condition holds within milliseconds unless broken
                # Given n results, at least n - 4 are stored (2 queued, 1 being recorded, slack 1) soon after.
                while self._stored() < n - 4 and time.monotonic() < end:
                    time.sleep(0.005)
                self.lagging.append(n - self._stored())
            yield item

    def _stored(self) -> int:
        return self.store_file.read_bytes().count(b"\n") if self.store_file.exists() else 0


def test_records_stream_to_the_store_while_the_backend_runs(tmp_path):
    run_dir = tmp_path / "run"
    backend = WatchingBackend(run_dir / "samples.partial.jsonl")
    config = EvalConfig(backend="fake", model="first", datasets=("general_mcq",), dataset_args=ARC)
    result = evaluate(config, backend=backend, run_dir=run_dir)
    assert backend.thread == "harness-general_mcq"  # the backend's loop ran in the pipeline's thread
    assert result.results["scores"] and len(backend.lagging) == 95
    assert max(backend.lagging) <= 4


def test_an_error_in_the_backend_thread_is_one_line_and_keeps_finished_records(tmp_path, capsys, monkeypatch):
    run_dir = tmp_path / "run"
    backend = WatchingBackend(run_dir / "samples.partial.jsonl", fail_at=30)
    monkeypatch.setattr("harness.backends.create_backend", lambda *a, **k: backend)
    monkeypatch.setattr("harness.engine.runner.create_backend", lambda *a, **k: backend)
    args = ["eval", "--backend", "fake", "--model", "first", "--datasets", "general_mcq", "--run-dir", str(run_dir)]
    code = main([*args, "--dataset-args", json.dumps(ARC)])
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert any("the model server went away (planted)" in line for line in lines) and "Traceback" not in err
    assert (run_dir / "samples.partial.jsonl").read_bytes().count(b"\n") == 30  # every result before the error is kept
