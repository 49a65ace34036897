"""Backend registry: `--backend NAME` resolves here and imports the backend's libraries only then."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from harness.backends.base import Backend, ChoiceRequest, ChoiceResult, GenerateRequest, Generation, collect
from harness.core.errors import UserError

__all__ = [
    "BACKENDS",
    "BACKEND_INFO",
    "Backend",
    "ChoiceRequest",
    "ChoiceResult",
    "GenerateRequest",
    "Generation",
    "collect",
    "create_backend",
]

# name -> (module, class, pip extra that provides its libraries)
BACKENDS: dict[str, tuple[str, str, str | None]] = {
    "fake": ("harness.backends.fake", "FakeBackend", None),
    "hf": ("harness.backends.hf.backend", "HFBackend", "hf"),
    "vllm": ("harness.backends.vllm", "VLLMBackend", "vllm"),
    "api": ("harness.backends.api.backend", "ApiBackend", "api"),
}
BACKEND_INFO = {
    "hf": "transformers on CPU or GPU: letter/cloze scoring by log-likelihood, batched generation; torchrun data parallel",
    "vllm": "the offline vLLM engine: prompt log-probabilities and generation, tensor/pipeline/data parallel",
    "api": "an OpenAI-compatible server (--api-url): concurrency, retries, echo or top-logprob scoring",
    "fake": "deterministic answers without a model (hash, first, table:FILE), for tests and dry runs",
}


def create_backend(name: str, model: str, **options: Any) -> Backend:
    """Instantiate backend `name`; a missing optional dependency names the extra to install."""
    try:
        module_name, class_name, extra = BACKENDS[name]
    except KeyError:
        raise UserError(f"unknown backend {name!r} (known: {', '.join(BACKENDS)})") from None
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if extra is None or (exc.name or "").startswith("harness"):
            raise
        raise UserError(f"backend {name!r} needs {exc.name}: pip install 'harness[{extra}]'") from None
    cls = getattr(module, class_name)
    accepted = [p for p in inspect.signature(cls).parameters if p != "model"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise UserError(f"backend {name!r} does not take {', '.join(unknown)} (it takes: {', '.join(accepted)})")
    backend: Backend = cls(model, **options)
    return backend
