"""The evaluation loop: plan, recognise a finished run, load, check lengths, stream every task through the backend.

Each backend gets all of a task's pending requests at once and schedules them itself; every
result is turned into a record and appended to the run store the moment it arrives, so a kill
loses only what was in flight and the same command resumes. Task preparation lives in
`harness.engine.plan`, run identity in `harness.engine.identity`, one task's stream through the backend
in `harness.engine.streaming`, results.json in `harness.engine.results`, and torchrun coordination in
`harness.core.distributed`; this module only puts them in order.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.backends import Backend, backend_spec, create_backend, expected_fingerprint
from harness.backends.base import ALL_MODES, ScoringMode, offered_modes
from harness.backends.cached import CachedBackend
from harness.core.distributed import Group, current_group, local_rank
from harness.core.heap import frozen_heap
from harness.core.provenance import harness_version
from harness.core.timing import Phases
from harness.engine.config import EvalConfig, cache_root
from harness.engine.finish import finish, repair
from harness.engine.identity import backend_digest, inputs_digest, run_digest, scoring_digest
from harness.engine.judge import Judge, judgement_owed, parse_judge_args
from harness.engine.plan import PreparedTask, TaskPlan, load_task, plan_tasks, prepare_tasks
from harness.engine.results import ResultsBuilder
from harness.engine.scoring import score_answer
from harness.engine.streaming import pending, run_task
from harness.metrics.registry import names_of
from harness.runs.record import SAMPLES_SCHEMA_VERSION, SampleRecord
from harness.runs.results_file import Results
from harness.runs.store import FinishedRun, RunStore, finished_run
from harness.tasks import UserError

__all__ = ["PreparedTask", "RunResult", "evaluate", "finished_results", "prepare_tasks"]

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class RunResult:
    """Where the run was written and its results; `reused` when a finished run answered without any work."""

    run_dir: Path
    results: Results
    main: bool = True
    reused: bool = False


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(text).name or text).strip("_")[:60] or "model"


def evaluate(
    config: EvalConfig,
    *,
    backend: Backend | None = None,
    run_dir: Path | None = None,
    progress: Progress | None = None,
    replace_stale: bool = False,
    settings: str | None = None,
    phases: Phases | None = None,
) -> RunResult:
    """Run every dataset in `config` through the backend and write the run folder.

    A folder that already holds this run, finished, is answered from its results.json without
    reading the data. `replace_stale` lets a run replace a folder that holds an older run
    (different data or settings) instead of refusing. `settings` (the command's flags as YAML) is kept
    in the folder as config.yaml beside the reports (harness.engine.finish). Under `torchrun` (WORLD_SIZE > 1) every
    rank calls this; rank 0 returns the full result, the others a `RunResult` with `main=False`. `phases` records where
    the time went (harness.core.timing); results.json holds it as `timings`.
    """
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    phases = phases or Phases()
    group = _group(config)
    if backend is None and backend_spec(config.backend).probe_first:
        # Cheap to create (a probe of a server), and its default scoring depends on what the server offers.
        with phases.phase("load_model"):
            backend = _create(config)
        config = replace(config, model=config.model or str(backend.fingerprint()["model"]))
    offered = _offered(backend)
    with phases.phase("plan"):
        plans = plan_tasks(config, backend.default_scoring if backend else ScoringMode.LETTER, offered)
        inputs, scoring = inputs_digest(config, plans), scoring_digest(plans)
    candidate = group.broadcast(_finished_candidate(run_dir, config, inputs, scoring) if group.is_main else None)
    if candidate is not None:
        digest = _digest_without_loading(config, inputs) if backend is None else None
        if digest is None:
            with phases.phase("load_model"):
                backend = backend or _create(config)
            digest = backend_digest(inputs, backend)
        if digest == candidate.fingerprint:
            group.close()
            if group.is_main:
                repair(candidate.run_dir, candidate.results, settings)
            return RunResult(candidate.run_dir, candidate.results if group.is_main else {}, main=group.is_main, reused=True)
    with phases.phase("load_data"):
        tasks = [load_task(plan, config.limit) for plan in plans]
    _check_scoring(plans, offered)
    if backend is None:
        with phases.phase("load_model"):
            backend = _create(config)
    if config.use_cache:
        backend = CachedBackend(backend, cache_root() / "requests.sqlite")
    digest = backend_digest(inputs, backend)
    run_dir = run_dir or Path(config.output) / f"{_slug(config.model)}-{digest[:10]}"
    store = RunStore(
        run_dir,
        digest,
        {"inputs": inputs, "created": started, "model": config.model, "backend": config.backend, "harness": harness_version(),
         "samples_schema": SAMPLES_SCHEMA_VERSION},
        watch=judgement_owed,
    )  # fmt: skip
    try:
        with frozen_heap():  # the model, data and requests live to the end: collections skip them
            done = _open(store, group, replace_stale)
            with phases.phase("tokenize"):
                work = [pending(task, done, backend, config) for task in tasks]  # every length checked before any work
            judges = _judges(tasks, config) if group.is_main else {}  # a judge server that is down stops the run here
            for task, waiting, requests in work:
                with phases.phase("compute"):
                    run_task(task, waiting, requests, backend, config, store, group, progress if group.is_main else None)
                if task.name in judges:
                    with phases.phase("judge"):
                        _judge_task(task, judges[task.name], store, progress)
            if not group.is_main:
                return RunResult(run_dir, {}, main=False)
            corpus = {t.name: names_of(t.metrics, "corpus", "module") for t in tasks}
            builder = ResultsBuilder(corpus, {name: judge.describe() for name, judge in judges.items()})
            qa = {t.name: t.metrics for t in tasks if t.kind == "qa"}

            def scored(record: SampleRecord) -> SampleRecord | None:
                """QA answers get their per-sample scores now, from the stored answer (harness.engine.scoring)."""
                return score_answer(record, qa[record["task"]]) if record["task"] in qa else None

            with phases.phase("write"):
                store.finalize((s.key for t in tasks for s in t.loaded.samples), builder.add, scored)
                results = builder.build(config, tasks, backend, started=started, seconds=time.perf_counter() - t0)
                results["world_size"] = group.world
                results["scoring_identity"] = scoring
                results["timings"] = phases.rounded()  # the write phase itself is not in it: it ends after this file
                finish(store, results, settings)
    finally:
        store.close()
        group.close()
    return RunResult(run_dir, results)


def finished_results(run_dir: Path, config: EvalConfig, fingerprint: dict[str, Any]) -> Results | None:
    """The finished results in `run_dir` for exactly these settings and a model of this fingerprint, or None.

    The check `evaluate` makes before any work, for a caller that knows the model's fingerprint without loading
    it (eval-checkpoints: a checkpoint's weights digest), so both reuse a run on the same terms.
    """
    default = backend_spec(config.backend).default_scoring
    plans = plan_tasks(config, default)
    inputs = inputs_digest(config, plans)
    found = finished_run(run_dir, inputs, scoring_digest(plans))
    return found.results if found is not None and found.fingerprint == run_digest(inputs, fingerprint, default) else None


def _create(config: EvalConfig) -> Backend:
    """The run's backend: the one place the engine creates it."""
    return create_backend(config.backend, config.model, **config.backend_options())


def _digest_without_loading(config: EvalConfig, inputs: str) -> str | None:
    """The run digest from the backend's expected fingerprint, so a finished run is answered without loading the model."""
    fingerprint = expected_fingerprint(config.backend, config.model, config.model_args)
    return None if fingerprint is None else run_digest(inputs, fingerprint, backend_spec(config.backend).default_scoring)


def _judges(tasks: Sequence[PreparedTask], config: EvalConfig) -> dict[str, Judge]:
    """A judge for each task that asks for one (harness.engine.judge)."""
    return {t.name: Judge(parse_judge_args(t.name, t.args.judge_args), use_cache=config.use_cache) for t in tasks if t.args.judge_args}


def _judge_task(task: PreparedTask, judge: Judge, store: RunStore, progress: Progress | None) -> None:
    """Judge every answer of the task that has no judgement yet (or whose judge request failed); each stored at once."""
    keys = {s.key for s in task.loaded.samples}
    waiting = [store.read(key) for key in sorted(store.watched & keys)]
    label = f"{task.name} (judge)"
    if progress and waiting:
        progress(label, 0, len(waiting))
    for n, record in enumerate(judge.judge(waiting), start=1):
        store.append(record)
        if progress:
            progress(label, n, len(waiting))


def _finished_candidate(run_dir: Path | None, config: EvalConfig, inputs: str, scoring: str) -> FinishedRun | None:
    """A finished run of these inputs and scores: in `run_dir`, or in a folder of this model's name under the output root."""
    if run_dir is not None:
        return finished_run(run_dir, inputs, scoring)
    root = Path(config.output)
    if not root.is_dir():
        return None
    for folder in sorted(root.glob(f"{_slug(config.model)}-*")):
        found = finished_run(folder, inputs, scoring)
        if found is not None:
            return found
    return None


def _offered(backend: Backend | None) -> tuple[ScoringMode, ...]:
    """The scoring modes a backend computes; before a local backend is created (so as not to load it), all of them."""
    return offered_modes(backend) if backend is not None else ALL_MODES


def _check_scoring(plans: Sequence[TaskPlan], offered: Sequence[ScoringMode]) -> None:
    """A log-likelihood mode the backend cannot compute is refused before any work."""
    for plan in plans:
        if plan.scoring not in offered:
            raise UserError(
                f"{plan.name}: scoring '{plan.scoring}' needs log-probabilities this server does not offer; use scoring generate"
            )


def _group(config: EvalConfig) -> Group:
    group = current_group() if local_rank() is not None else Group()
    if group.world > 1 and not backend_spec(config.backend).torchrun:
        raise UserError(
            f"backend {config.backend!r} does not run under torchrun: use its own parallelism "
            "(vllm: tensor_parallel_size / data_parallel_size; api: --concurrency)"
        )
    return group


def _open(store: RunStore, group: Group, replace_stale: bool) -> dict[str, bool]:
    """Rank 0 locks the folder and reads which samples are done (key -> failed); every rank learns it, or the error."""
    done: dict[str, bool] = {}
    error = None
    if group.is_main:
        try:
            done = store.open(replace_stale=replace_stale)
        except UserError as exc:
            error = str(exc)
    done, error = group.broadcast((done, error))
    if error:
        raise UserError(error)
    return done
