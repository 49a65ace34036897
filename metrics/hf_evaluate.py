"""Hugging Face `evaluate` modules as corpus metrics: `"metrics": ["evaluate:NAME_OR_PATH"]`.

Users' QA metrics already live in `evaluate` (METEOR, BERTScore, SQuAD, their own scripts), so a
general_qa run (and `harness score`) can name one. The module is loaded with `evaluate.load`:

- from a local path (a `name.py` script, or a folder holding `name/name.py`), or
- by hub name (`meteor`, `owner/metric`) **from the user's cache only**: a run never downloads, as with
  models. A module that is not cached is one line (exit 2) saying how to fetch it once while online.

It is computed once over the whole set (`module.compute(predictions=[...], references=[...])`), so a
corpus-level metric stays corpus-level; each numeric value it returns becomes a score row (a list with
one number per sample, as BERTScore returns, is averaged). The 95% interval is a percentile bootstrap
over samples: per-sample lists are resampled directly; a corpus value is recomputed on `RESAMPLES`
seeded resamples (each a full `compute`, hence fewer than sacrebleu's 1,000).

What was computed is pinned: the module's name, the `evaluate` version and the sha256 of the module's
script go into the run identity and results.json, so editing a local metric changes the run's hash.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import io
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.core.errors import UserError

__all__ = ["PREFIX", "RESAMPLES", "EvaluateModule", "evaluate_scores", "is_evaluate", "load_module"]

PREFIX = "evaluate:"
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

    def describe(self) -> dict[str, str]:
        """What results.json and the run identity record."""
        return {"module": self.name, "evaluate_version": self.version, "sha256": self.sha256}

    def label(self, key: str) -> str:
        """A score row's metric name: the module's name, with the value's key when they differ (`squad.f1`)."""
        return self.name if key == self.name else f"{self.name}.{key}"


@contextlib.contextmanager
def _silenced() -> Iterator[None]:
    """`evaluate` and `datasets` print to stdout/stderr while loading; a default run stays quiet."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_module(spec: str) -> EvaluateModule:
    """Load `evaluate:NAME_OR_PATH` once per process and script version; every failure is a one-line `UserError`."""
    local = Path(spec[len(PREFIX) :].strip()).expanduser()
    script = local / f"{local.name}.py" if local.is_dir() else local  # evaluate's folder layout: name/name.py
    stamp = (script.stat().st_mtime_ns, script.stat().st_size) if script.is_file() else None  # an edited script is loaded again
    return _load(spec, stamp)


@functools.cache
def _load(spec: str, stamp: tuple[int, int] | None) -> EvaluateModule:
    target = spec[len(PREFIX) :].strip()
    if not target:
        raise UserError(f"{spec!r}: name a module after 'evaluate:', e.g. evaluate:meteor or evaluate:./my_metric.py")
    try:
        with _silenced():
            import evaluate
            from datasets import DownloadConfig
    except ImportError:
        raise UserError(f"{spec}: the `evaluate` library is not installed; pip install 'harness[evaluate]'") from None
    local = Path(target).expanduser()
    fetch = f"fetch it once while online (python -c \"import evaluate; evaluate.load('{target}')\") or give a local script path"
    try:
        with _silenced():
            if local.exists():
                module = evaluate.load(str(local.resolve()))
            else:
                module = evaluate.load(target, download_config=DownloadConfig(local_files_only=True))
    except FileNotFoundError:
        if local.suffix == ".py" or target.startswith((".", "/", "~")):
            raise UserError(f"{spec}: no metric script at {local} (a name.py file, or a folder with name/name.py); fix the path") from None
        raise UserError(f"{spec}: not in the local cache (runs never download metric modules); {fetch}") from None
    except Exception as exc:  # a broken script: its own error, on one line
        first = " ".join(str(exc).split())[:200]
        raise UserError(f"{spec}: the module failed to load ({type(exc).__name__}: {first}); fix the script or its dependencies") from None
    source = Path(inspect.getfile(type(module)))
    loaded = EvaluateModule(spec, module, str(module.name), str(evaluate.__version__), _sha256(source))
    _values(loaded, *_PROBE, what="on a probe pair")
    return loaded


def _values(loaded: EvaluateModule, predictions: Sequence[str], references: Sequence[str], *, what: str) -> dict[str, Any]:
    """The numeric values `compute` returns: scalars, or one number per sample; anything else is dropped."""
    try:
        with _silenced():
            out = loaded.module.compute(predictions=list(predictions), references=list(references))
    except Exception as exc:
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
