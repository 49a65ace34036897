"""The evaluation loop: load tasks, ask the backend, score, store, aggregate.

Work is done in chunks; each finished chunk is appended to the run store before the next
starts, so an interruption costs at most one chunk and the same command resumes.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness import provenance
from harness.aggregate import score_rows
from harness.backends import Backend, create_backend
from harness.cache import CachedBackend
from harness.config import EvalConfig, cache_root
from harness.distributed import Group, balanced_shards, current_group, local_rank
from harness.scoring import choice_request, generate_request, record_choice, record_generation
from harness.store import RunStore
from metrics.qa import DEFAULT_QA_METRICS, QA_METRICS
from tasks import EXAMPLE_DATA, DatasetArgs, LoadedTask, Sample, UserError, get_task, parse_dataset_args

__all__ = ["PreparedTask", "RunResult", "evaluate", "prepare_tasks"]

CHUNK = 32
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class PreparedTask:
    """A loaded dataset with its resolved scoring mode and metrics."""

    name: str
    kind: str
    version: int
    args: DatasetArgs
    scoring: str
    metrics: tuple[str, ...]
    loaded: LoadedTask


@dataclass(frozen=True)
class RunResult:
    """Where the run was written and what it holds."""

    run_dir: Path
    results: dict[str, Any]
    records: list[dict[str, Any]]
    main: bool = True


def prepare_tasks(config: EvalConfig, default_scoring: str) -> list[PreparedTask]:
    """Parse dataset args and load every dataset; all input errors surface here, before any work."""
    stray = [name for name in config.dataset_args if name not in config.datasets]
    if stray:
        raise UserError(f"--dataset-args names {stray[0]!r}, which is not among --datasets ({', '.join(config.datasets)}); fix the name")
    prepared = []
    for name in config.datasets:
        spec = get_task(name)
        raw = config.dataset_args.get(name, {})
        if not isinstance(raw, dict):
            raise UserError(f'--dataset-args: the value for {name} must be an object, e.g. {{"{name}": {{"local_path": "DIR"}}}}')
        raw = {"local_path": str(EXAMPLE_DATA), **raw}
        args = parse_dataset_args(name, raw)
        if spec.kind == "mcq":
            scoring = args.scoring or ("generate" if args.multiple_correct else default_scoring)
            if args.multiple_correct and scoring != "generate":
                raise UserError(f'{name}: multiple_correct needs scoring "generate" (letter and cloze pick one option)')
            metrics: tuple[str, ...] = ("acc",)
        else:
            scoring = "generate"
            metrics = args.metrics or DEFAULT_QA_METRICS
            unknown = [m for m in metrics if m not in QA_METRICS]
            if unknown:
                raise UserError(f"{name}: unknown metric {unknown[0]!r} (known: {', '.join(QA_METRICS)})")
        loaded = spec.load(name, args, scoring)
        if config.limit is not None:
            loaded.samples = _limit(loaded.samples, config.limit)
        prepared.append(PreparedTask(name, spec.kind, spec.version, args, scoring, metrics, loaded))
    return prepared


def _limit(samples: list[Sample], limit: int) -> list[Sample]:
    counts: dict[str, int] = {}
    kept = []
    for s in samples:
        counts[s.subset] = counts.get(s.subset, 0) + 1
        if counts[s.subset] <= limit:
            kept.append(s)
    return kept


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(text).name or text).strip("_")[:60] or "model"


# Settings that change how fast, not what, do not split runs or block a resume. Backend options
# (model_args) are covered by the backend's own fingerprint (weights, dtype, device).
_NOT_IDENTITY = ("output", "batch_size", "use_cache", "model_args", "truncate")


def _run_fingerprint(config: EvalConfig, tasks: Sequence[PreparedTask], backend: Backend) -> dict[str, Any]:
    return {
        "config": {k: v for k, v in config.to_dict().items() if k not in _NOT_IDENTITY},
        "model": backend.fingerprint(),
        "tasks": {t.name: {"scoring": t.scoring, "files": {str(p): provenance.file_sha256(p) for p in t.loaded.files}} for t in tasks},
        "samples": {t.name: provenance.fingerprint([(s.key, s.messages, s.reference) for s in t.loaded.samples]) for t in tasks},
    }


def evaluate(
    config: EvalConfig, *, backend: Backend | None = None, run_dir: Path | None = None, progress: Progress | None = None
) -> RunResult:
    """Run every dataset in `config` through the backend and write the run folder.

    Under `torchrun` (WORLD_SIZE > 1) every rank calls this; see `harness.distributed`. Rank 0
    returns the full result, the other ranks a `RunResult` with `main=False` and nothing in it.
    """
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    group = _group(config)
    if backend is None and config.backend == "api":
        # Cheap to create (a probe of the server), and its default scoring depends on what the server offers.
        backend = create_backend(config.backend, config.model, **config.model_args)
        config = replace(config, model=config.model or str(backend.fingerprint()["model"]))
    tasks = prepare_tasks(config, backend.default_scoring if backend else "letter")
    via: dict[str, str] | None = getattr(backend, "scoring_via", None)
    for task in tasks:
        if via is not None and task.scoring in ("letter", "cloze") and task.scoring not in via:
            raise UserError(
                f"{task.name}: scoring {task.scoring!r} needs log-probabilities this server does not offer; use scoring generate"
            )
    if backend is None:
        backend = create_backend(config.backend, config.model, **config.model_args)
    if config.use_cache:
        backend = CachedBackend(backend, cache_root() / "requests.sqlite")
    identity = _run_fingerprint(config, tasks, backend)
    digest = provenance.fingerprint(identity)
    run_dir = run_dir or Path(config.output) / f"{_slug(config.model)}-{digest[:10]}"
    records: dict[str, dict[str, Any]] = {}
    t0 = time.perf_counter()
    store = RunStore(run_dir, digest, {"created": started, "model": config.model, "backend": config.backend})
    with store if group.is_main else contextlib.nullcontext(store):
        done, error = _open(store, group)
        if error:
            raise UserError(error)
        for task in tasks:
            # Failed samples (API errors) are retried by the next run of the same command.
            pending = [s for s in task.loaded.samples if s.key not in done or done[s.key].get("failed")]
            _run_task(task, pending, backend, config, _Sink(store, records, group), progress if group.is_main else None)
        if not group.is_main:
            group.close()
            return RunResult(run_dir, {}, [], main=False)
        records.update({k: v for k, v in done.items() if k not in records})
        ordered = [records[s.key] for t in tasks for s in t.loaded.samples]
        results = _results(config, tasks, backend, ordered, started, time.perf_counter() - t0)
        results["world_size"] = group.world
        store.finalize(results, ordered)
    group.close()
    return RunResult(run_dir, results, ordered)


def _group(config: EvalConfig) -> Group:
    group = current_group() if local_rank() is not None else Group()
    if group.world > 1 and config.backend not in ("hf", "fake"):
        raise UserError(
            f"backend {config.backend!r} does not run under torchrun: use its own parallelism "
            "(vllm: tensor_parallel_size / data_parallel_size; api: --concurrency)"
        )
    return group


def _open(store: RunStore, group: Group) -> tuple[dict[str, dict[str, Any]], str | None]:
    """Rank 0 locks the folder and reads what is done; every rank learns which samples are done (or the error)."""
    done: dict[str, dict[str, Any]] = {}
    error = None
    if group.is_main:
        try:
            done = store.open()
        except UserError as exc:
            error = str(exc)
    # Other ranks need only the keys and whether each failed, not the records.
    state = group.broadcast(({k: bool(r.get("failed")) for k, r in done.items()}, error))
    if group.is_main:
        return done, error
    return {k: {"failed": failed} for k, failed in state[0].items()}, state[1]


@dataclass
class _Sink:
    """Where finished records go: rank 0 stores what every rank sends after each round."""

    store: RunStore
    records: dict[str, dict[str, Any]]
    group: Group

    def put(self, new: list[dict[str, Any]]) -> int:
        """Store this round's records (rank 0); returns how many finished on all ranks together."""
        gathered = self.group.gather(new)
        count = 0
        for part in gathered:
            self.store.append(part)
            self.records.update((r["key"], r) for r in part)
            count += len(part)
        return count


def _run_task(
    task: PreparedTask,
    pending: list[Sample],
    backend: Backend,
    config: EvalConfig,
    sink: _Sink,
    progress: Progress | None,
) -> None:
    total = len(task.loaded.samples)
    finished = total - len(pending)
    if progress:
        progress(task.name, finished, total)
    # Similar lengths in one chunk waste little padding, and one subset per chunk keeps its shared
    # few-shot prefix shared; records are keyed, so the final files keep the data's order.
    pending = sorted(pending, key=lambda s: (s.subset, -sum(len(m["content"]) for m in s.messages)))
    # API backends want bigger chunks: enough requests to keep every connection busy.
    size = getattr(backend, "chunk_size", None) or CHUNK
    group = sink.group
    rounds = -(-len(pending) // size)
    if group.world > 1:
        # Shards balanced by prompt tokens; every rank computes the same split, and every rank
        # joins every gather, so the number of rounds is the largest shard's.
        count = getattr(backend, "count_tokens", None)
        costs = count([generate_request(s) for s in pending]) if count else [sum(len(m["content"]) for m in s.messages) for s in pending]
        shards = balanced_shards(costs, group.world)
        rounds = max(-(-len(shard) // size) for shard in shards)
        pending = [pending[i] for i in shards[group.rank]]
    for round_index in range(rounds):
        chunk = pending[round_index * size : (round_index + 1) * size]
        new: list[dict[str, Any]] = []
        if chunk and task.scoring in ("letter", "cloze"):
            results = backend.score_choices([choice_request(s, task.scoring) for s in chunk])
            new = [record_choice(s, r, task.scoring) for s, r in zip(chunk, results, strict=True)]
        elif chunk:
            gens = backend.generate([generate_request(s) for s in chunk], config.generation)
            new = [record_generation(s, g, task.scoring, task.metrics) for s, g in zip(chunk, gens, strict=True)]
        finished += sink.put(new)
        if progress:
            progress(task.name, finished, total)


def _results(
    config: EvalConfig, tasks: Sequence[PreparedTask], backend: Backend, records: list[dict[str, Any]], started: str, seconds: float
) -> dict[str, Any]:
    scores: list[dict[str, Any]] = []
    task_info: dict[str, Any] = {}
    for task in tasks:
        mine = [r for r in records if r["task"] == task.name]
        scores.extend(score_rows(task.name, mine, config.seed))
        task_info[task.name] = {
            "version": task.version,
            "kind": task.kind,
            "scoring": task.scoring,
            "metrics": list(task.metrics),
            "language": task.loaded.language,
            "subsets": sorted({s.subset for s in task.loaded.samples}),
            "files": [str(p) for p in task.loaded.files],
            "num_samples": len(mine),
            "skipped_rows": task.loaded.skipped,
            "failed": sum(1 for r in mine if r.get("failed")),
            "scoring_via": (getattr(backend, "scoring_via", None) or {}).get(task.scoring),
            "no_answer": sum(1 for r in mine if r.get("no_answer")),
        }
    return {
        "schema_version": provenance.SCHEMA_VERSION,
        "harness_version": provenance.harness_version(),
        "git_hash": provenance.git_hash(),
        "started": started,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": round(seconds, 3),
        "config": replace(config).to_dict(),
        "model": {"name": config.model, "backend": config.backend, "fingerprint": backend.fingerprint()},
        "packages": provenance.package_versions(),
        "tasks": task_info,
        "usage": {
            "prompt_tokens": sum(r.get("tokens", {}).get("prompt", 0) for r in records),
            "completion_tokens": sum(r.get("tokens", {}).get("completion", 0) for r in records),
        },
        "scores": scores,
    }
