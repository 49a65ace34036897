"""One task through the backend: its pending requests (lengths checked, cut when asked), results as records, stored.

Each backend gets all of a task's pending requests at once and schedules them itself; each result becomes a
record the moment it arrives and is appended to the run store, so a kill loses only what was in flight.
Under torchrun the pending samples are split into shards balanced by prompt size, and ranks exchange records
in rounds of about a second (harness.core.distributed). The order of the steps is harness.engine.runner's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from harness.backends import Backend, ChoiceRequest, GenerateRequest
from harness.backends.base import LengthIssue, Request
from harness.core.distributed import Group, balanced_shards, in_rounds
from harness.core.pipeline import ahead
from harness.engine.config import EvalConfig
from harness.engine.plan import PreparedTask
from harness.engine.scorers import ChoiceScorer, scorer_for
from harness.runs.record import SampleRecord
from harness.runs.store import RunStore
from harness.tasks import Sample, UserError

__all__ = ["pending", "run_task"]

Progress = Callable[[str, int, int], None]


def pending(
    task: PreparedTask, done: dict[str, bool], backend: Backend, config: EvalConfig
) -> tuple[PreparedTask, list[Sample], list[Request]]:
    """The samples still to compute (failed ones are retried) and their requests, cut to the context when asked."""
    pending = [s for s in task.loaded.samples if done.get(s.key, True)]
    scorer = scorer_for(task.scoring, task.metrics)
    requests: list[Request] = [scorer.request(s) for s in pending]
    issues = backend.check_lengths(requests, task.generation(config.generation).max_new_tokens) if requests else None
    if issues:
        cut = _truncation(task, pending, issues, config)
        requests = [replace(r, truncate_to=cut[i]) if i in cut else r for i, r in enumerate(requests)]
    return task, pending, requests


def _truncation(task: PreparedTask, pending: Sequence[Sample], issues: Sequence[LengthIssue], config: EvalConfig) -> dict[int, int]:
    """Prompt tokens to keep per too-long request, when the user asked for truncation; else the error naming the sample."""
    first = issues[0]
    sample = pending[first.index]
    where = f"{task.name} sample {sample.key} ({sample.line and f'line {sample.line}' or 'row ' + str(sample.index)})"
    room = first.window - first.reserved
    if room < 1:
        raise UserError(
            f"{where}: {first.reserved} tokens are reserved for the answer, but the context holds {first.window}; lower --max-new-tokens"
        )
    if not config.truncate:
        raise UserError(
            f"{where}: the prompt is {first.prompt} tokens and {first.reserved} more are needed for the answer, over the model's "
            f"{first.window}-token context ({len(issues)} sample(s) too long); shorten them, lower --max-new-tokens, "
            "or pass --truncate to cut prompts from the left"
        )
    return {i.index: i.window - i.reserved for i in issues}


def _records(
    task: PreparedTask, pending: Sequence[Sample], requests: Sequence[Request], backend: Backend, config: EvalConfig
) -> Iterator[SampleRecord]:
    """The backend's results for this task as records (its mode's scorer makes them), in the order they complete.

    A backend that says `overlap` (hf on an accelerator) runs its loop one step ahead in a thread of
    its own (harness.core.pipeline): its next forward runs while these records, their metrics and the
    store write are made here.
    """
    overlap = bool(getattr(backend, "overlap", False))
    scorer = scorer_for(task.scoring, task.metrics)
    if isinstance(scorer, ChoiceScorer):
        choices = [r for r in requests if isinstance(r, ChoiceRequest)]
        scored = backend.score_choices(choices)
        for i, result in ahead(scored, name=f"harness-{task.name}") if overlap else scored:
            yield _mark(scorer.record(pending[i], result), requests[i])
    else:
        gens = [r for r in requests if isinstance(r, GenerateRequest)]
        generated = backend.generate(gens, task.generation(config.generation))
        for i, generation in ahead(generated, name=f"harness-{task.name}") if overlap else generated:
            yield _mark(scorer.record(pending[i], generation), requests[i])


def _mark(record: SampleRecord, request: Request) -> SampleRecord:
    if request.truncate_to is not None:
        record["truncated"] = request.truncate_to
    return record


def run_task(
    task: PreparedTask,
    pending: list[Sample],
    requests: list[Request],
    backend: Backend,
    config: EvalConfig,
    store: RunStore,
    group: Group,
    progress: Progress | None,
) -> None:
    """Stream one task's pending requests through the backend into the store, with progress (this rank's shard under torchrun)."""
    total = len(task.loaded.samples)
    finished = total - len(pending)
    if progress:
        progress(task.name, finished, total)
    if group.world > 1:
        # Shards balanced by prompt size; every rank computes the same split. Ranks exchange records in
        # rounds of about a second, while each rank's backend keeps its whole shard in flight.
        costs = [sum(len(m["content"].encode()) for m in s.messages) for s in pending]
        mine = balanced_shards(costs, group.world)[group.rank]
        pending, requests = [pending[i] for i in mine], [requests[i] for i in mine]
    for batch in in_rounds(group, _records(task, pending, requests, backend, config)):
        for record in batch:
            store.append(record)
        finished += len(batch)
        if progress and batch:
            progress(task.name, finished, total)
