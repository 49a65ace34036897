"""Hugging Face `evaluate` modules as corpus metrics: `"metrics": ["evaluate:NAME_OR_PATH"]`.

Users' QA metrics already live in `evaluate` (METEOR, BERTScore, SQuAD, their own scripts), so a
general_qa run (and `harness score`) can name one. The module is loaded with `evaluate.load`:

- from a local path (a `name.py` script, or a folder holding `name/name.py`), written as a path: it starts
  with `./`, `../`, `/` or `~`, or ends with `.py`; or
- by hub name (`meteor`, `owner/metric`) **from the user's cache only**: a run never downloads, as with
  models, and a bare name never picks up a folder of that name in the working directory. A module that
  is not cached is one line (exit 2) saying how to fetch it once while online.

A module is Python code: loading one needs the user's opt-in (`--trust-code`, harness.core.trust). Its rows
are namespaced (`evaluate:word_f1.f1`), so no module can take the name of a built-in metric's row.

It is computed once over the whole set (`module.compute(predictions=[...], references=[...])`), so a
corpus-level metric stays corpus-level; each numeric value it returns becomes a score row (a list with
one number per sample, as BERTScore returns, is averaged). The 95% interval is a percentile bootstrap
over samples: per-sample lists are resampled directly; a corpus value is recomputed on `RESAMPLES`
seeded resamples (each a full `compute`, hence fewer than sacrebleu's 1,000).

What was computed is pinned: the module's name, the `evaluate` version and the identity of its code (the
script and every local module it imports, harness.core.code_identity) go into results.json and the run's
scoring identity, so editing a local metric or its helper scores the stored answers again.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import io
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.core import trust
from harness.core.code_identity import code_identity
from harness.core.errors import UserError
from harness.metrics.registry import EVALUATE_PREFIX

__all__ = ["PREFIX", "RESAMPLES", "EvaluateModule", "evaluate_scores", "is_evaluate", "is_local", "load_module"]

PREFIX = EVALUATE_PREFIX
RESAMPLES = 200
_PROBE = (["the cat sat on the mat"], ["the cat sat on the mat"])


def is_evaluate(metric: str) -> bool:
    """Whether a metric name asks for an `evaluate` module."""
    return metric.startswith(PREFIX)


@dataclass(frozen=True)
class EvaluateModule:
    """A loaded module and what identifies it."""

    spec: str
    module: Any
    name: str
    version: str
    sha256: str

    files: tuple[str, ...] = ()

    def describe(self) -> dict[str, Any]:
        """What results.json and the scoring identity record: `sha256` covers every local file the script imports."""
        return {"module": self.name, "evaluate_version": self.version, "sha256": self.sha256, "files": list(self.files)}

    def label(self, key: str) -> str:
        """A score row's metric name: `evaluate:` and the module's name, with the value's key when they differ (`evaluate:squad.f1`)."""
        return PREFIX + (self.name if key == self.name else f"{self.name}.{key}")


@contextlib.contextmanager
def _silenced() -> Iterator[None]:
    """`evaluate` and `datasets` print to stdout/stderr while loading; a default run stays quiet."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def is_local(target: str) -> bool:
    """Whether a module is named by path (`./m.py`, `../m`, `/abs/m`, `~/m`, `m.py`), not by hub name."""
    return target.startswith(("./", "../", "/", "~", ".\\")) or target.endswith(".py") or target in (".", "..")


def _modules_cache() -> Path:
    """Where `evaluate` keeps the modules it fetched (its own rule: HF_MODULES_CACHE, else HF_HOME/modules)."""
    import os

    if os.environ.get("HF_MODULES_CACHE"):
        return Path(os.environ["HF_MODULES_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(home).expanduser() / "modules"


def _cached(name: str) -> bool:
    """Whether a hub module `name` (`meteor`, `owner/metric`) has a copy in the modules cache."""
    folders = {name.replace("/", "--")} | {f"evaluate-{kind}--{name}" for kind in ("metric", "comparison", "measurement")}
    root = _modules_cache() / "evaluate_modules"
    return any((root / kind / folder).is_dir() for kind in ("metrics", "comparisons", "measurements") for folder in folders)


def _identity(script: Path) -> tuple[str, tuple[str, ...]]:
    """The digest of a script's code: it and every module of its folder it imports, and the `evaluate` version."""
    ident = code_identity([script], script.parent, None, ("evaluate",))
    return ident.digest, tuple(sorted(ident.files))


def load_module(spec: str, *, trusted: bool = False) -> EvaluateModule:
    """Load `evaluate:NAME_OR_PATH` once per process and code version; every failure is a one-line `UserError`.

    The module's code runs: `trusted` is the user's opt-in (harness.core.trust); a spec opted in once stays allowed.
    """
    target = spec[len(PREFIX) :].strip()
    trust.require(spec, opted_in=trusted, what=spec)
    if target and not is_local(target) and not _cached(target):
        # Known absent without importing `evaluate` (which takes seconds: it imports torch and transformers).
        raise UserError(f"{spec}: not in the local cache (runs never download metric modules); fetch it once while online "
                        f"(python -c \"import evaluate; evaluate.load('{target}')\") or give a script's path (./{target}.py)")  # fmt: skip
    local = Path(target).expanduser() if is_local(target) else None
    script = (local / f"{local.name}.py" if local.is_dir() else local) if local is not None else None
    stamp = _identity(script)[0] if script is not None and script.is_file() else None  # an edited helper loads it again
    return _load(spec, stamp)


@contextlib.contextmanager
def _outside_working_folder() -> Iterator[None]:
    """`evaluate.load(NAME)` looks for `./NAME/NAME.py` first: a bare name is resolved from an empty folder instead."""
    import os
    import tempfile

    before = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="harness-evaluate-") as empty:
        os.chdir(empty)
        try:
            yield
        finally:
            os.chdir(before)


@functools.cache
def _load(spec: str, stamp: str | None) -> EvaluateModule:
    target = spec[len(PREFIX) :].strip()
    if not target:
        raise UserError(f"{spec!r}: name a module after 'evaluate:', e.g. evaluate:meteor or evaluate:./my_metric.py")
    try:
        with _silenced():
            import evaluate
            from datasets import DownloadConfig
    except ImportError:
        raise UserError(f"{spec}: the `evaluate` library is not installed; pip install 'harness[evaluate]'") from None
    local = Path(target).expanduser() if is_local(target) else None
    fetch = f"fetch it once while online (python -c \"import evaluate; evaluate.load('{target}')\") or give a script's path (./{target}.py)"
    try:
        with _silenced():
            if local is not None:
                if not local.exists():
                    raise FileNotFoundError(str(local))
                module = evaluate.load(str(local.resolve()))
            else:
                with _outside_working_folder():
                    module = evaluate.load(target, download_config=DownloadConfig(local_files_only=True))
    except FileNotFoundError:
        if local is not None:
            raise UserError(f"{spec}: no metric script at {local} (a name.py file, or a folder with name/name.py); fix the path") from None
        raise UserError(f"{spec}: not in the local cache (runs never download metric modules); {fetch}") from None
    except Exception as exc:  # a broken script: its own error, on one line
        first = " ".join(str(exc).split())[:200]
        raise UserError(f"{spec}: the module failed to load ({type(exc).__name__}: {first}); fix the script or its dependencies") from None
    # A local module is identified by the user's own files (evaluate runs a copy of them from its cache).
    source = (local / f"{local.name}.py" if local.is_dir() else local) if local is not None else Path(inspect.getfile(type(module)))
    digest, files = _identity(source.resolve())
    loaded = EvaluateModule(spec, module, str(module.name), str(evaluate.__version__), digest, files)
    _values(loaded, *_PROBE, what="on a probe pair")
    return loaded


def _values(loaded: EvaluateModule, predictions: Sequence[str], references: Sequence[str], *, what: str) -> dict[str, Any]:
    """The numeric values `compute` returns: scalars, or one number per sample; anything else is dropped."""
    try:
        with _silenced():
            out = loaded.module.compute(predictions=list(predictions), references=list(references))
    except Exception as exc:
        _release(loaded.module)
        first = " ".join(str(exc).split())[:200]
        raise UserError(
            f"{loaded.spec}: compute(predictions=[str], references=[str]) failed {what} ({type(exc).__name__}: {first}); "
            "general_qa passes one string prediction and one string reference per sample"
        ) from None
    if not isinstance(out, dict):
        raise UserError(f"{loaded.spec}: compute returned {type(out).__name__}, not a dict of scores")
    values: dict[str, Any] = {}
    for key, value in out.items():
        if _number(value):
            values[str(key)] = float(value)
        elif isinstance(value, list | tuple | np.ndarray) and len(value) == len(predictions) and all(_number(v) for v in value):
            values[str(key)] = [float(v) for v in value]
    if not values:
        raise UserError(f"{loaded.spec}: compute returned no numeric score ({', '.join(map(str, out))}); it cannot be a metric here")
    return values


def _release(module: Any) -> None:
    """Free what a `compute` that raised left held.

    `evaluate` releases its cache-file locks only on success, so the next `compute` of any instance of the
    module in this process would wait on them forever.
    """
    for lock in getattr(module, "filelocks", None) or []:
        with contextlib.suppress(Exception):
            lock.release()
    for path in getattr(module, "file_paths", None) or []:
        with contextlib.suppress(OSError):
            Path(path).unlink()
    module.filelocks, module.file_paths, module.data, module.writer = None, None, None, None


def _number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool) and math.isfinite(float(value))


@dataclass(frozen=True)
class EvaluateScore:
    """One value of a module over a set, with its 95% bootstrap interval."""

    metric: str
    value: float
    ci_low: float
    ci_high: float
    n: int


def evaluate_scores(spec: str, predictions: Sequence[str], references: Sequence[str], *, seed: int = 0) -> list[EvaluateScore]:
    """Every value of the module over the set, each with its interval (see the module docstring)."""
    loaded = load_module(spec)
    n = len(predictions)
    if not n:
        return []
    values = _values(loaded, predictions, references, what="on the run's answers")
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, n, n) for _ in range(RESAMPLES)]
    scalars = [k for k, v in values.items() if not isinstance(v, list)]
    recomputed: dict[str, list[float]] = {k: [] for k in scalars}
    if scalars:
        for idx in draws:
            again = _values(loaded, [predictions[i] for i in idx], [references[i] for i in idx], what="on a bootstrap resample")
            for k in scalars:
                recomputed[k].append(float(again.get(k, math.nan)))
    scores = []
    for key, value in values.items():
        if isinstance(value, list):
            per = np.asarray(value)
            point, spread = float(per.mean()), [float(per[idx].mean()) for idx in draws]
        else:
            point, spread = value, [v for v in recomputed[key] if math.isfinite(v)]
        low, high = np.percentile(spread, [2.5, 97.5]) if spread else (point, point)
        scores.append(EvaluateScore(loaded.label(key), point, float(low), float(high), n))
    return scores
