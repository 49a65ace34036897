"""One quant-compare variant, measured in a process of its own: load, warm up, evaluate, and what it cost.

`quant-compare` runs this module once per variant (`python -m harness.workflows.quant_variant SPEC OUT`), so a
variant's load time and peak memory do not depend on which variants ran before it in the same process (a
second load of the same weights comes from the page cache in 0.2 s; freed memory stays in the allocator).
What a fresh evaluation measured is kept beside its run (`measured.json`); a rerun that reuses the run
reports those figures, never the near-zero time of reuse.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.backends.generation import GenerationConfig
from harness.core.errors import UserError, one_line
from harness.engine.config import EvalConfig
from harness.runs.record import SampleRecord
from harness.workflows.quant_methods import load_kwargs, weight_bytes

__all__ = ["MEASURED", "measure_in_fresh_process"]

MEASURED = "measured.json"  # a variant's cost, measured when it was evaluated, kept beside its run
_COSTS = ("weight_mb", "peak_rss_mb", "load_seconds", "eval_seconds", "tokens")


def measure_in_fresh_process(model: str, name: str, path: str | None, device: str, config: EvalConfig, run_dir: Path) -> dict[str, Any]:
    """Run the variant in a child process; its measurements, or {"skipped": why} / {"failed": why}."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="harness-variant-") as scratch:  # never in the output folder (it is the user's view)
        spec, out = Path(scratch) / "spec.json", Path(scratch) / "measured.json"
        spec.write_text(json.dumps({"model": model, "name": name, "path": path, "device": device, "config": config.to_dict(),
                                    "run_dir": str(run_dir)}), encoding="utf-8")  # fmt: skip
        proc = subprocess.run([sys.executable, "-m", "harness.workflows.quant_variant", str(spec), str(out)],
                              capture_output=True, text=True, env=os.environ.copy())  # fmt: skip
        if not out.is_file():
            last = next((line for line in reversed(proc.stderr.splitlines()) if line.strip()), f"exit {proc.returncode}")
            return {"failed": f"failed in its process ({last.strip()[:200]})"}
        measured: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return measured


def _config(d: dict[str, Any]) -> EvalConfig:
    gen = d["generation"]
    return EvalConfig(**{**d, "datasets": tuple(d["datasets"]),
                         "generation": GenerationConfig(**{**gen, "stop": tuple(gen["stop"])})})  # fmt: skip


def _peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load(model: str, method: str, path: str | None, device: str) -> tuple[Any, Any, dict[str, Any]]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.backends.default_model import resolve_alias
    from harness.backends.hf.loading import load_model, pick_device

    device = pick_device(device)
    if path is not None:  # a pre-quantized checkpoint (GPTQ, AWQ, compressed-tensors) or GGUF file
        loaded = load_model(path, device=device, dtype="auto")
        return loaded.model, loaded.tokenizer, loaded.fingerprint
    source = resolve_alias(model) or Path(model)
    kwargs = load_kwargs(method, device)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        loaded_model: Any = AutoModelForCausalLM.from_pretrained(source, device_map=device, **kwargs)
    except (ImportError, RuntimeError, ValueError, OSError) as exc:
        raise UserError(f"{method}: cannot load here ({one_line(exc)[:200]})") from None
    loaded_model.eval()
    return loaded_model, tokenizer, {"backend": "hf", "model": str(source), "quant": method, "device": device}


def _warm_up(model: Any, tokenizer: Any) -> None:
    """One short forward pass, so one-time kernel set-up is not charged to the first variant's tokens/s."""
    import torch

    ids = torch.tensor([tokenizer.encode("warm up", add_special_tokens=False)], device=next(model.parameters()).device)
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model(input_ids=ids, logits_to_keep=1)


def _count_tokens(tokenizer: Any, records: dict[str, SampleRecord]) -> int:
    total = 0
    for rec in records.values():
        tokens = rec.get("tokens")
        if tokens and (tokens["prompt"] or tokens["completion"]):
            total += (tokens["prompt"] or 0) + (tokens["completion"] or 0)
        elif rec.get("prompt"):
            total += len(tokenizer.encode(rec["prompt"], add_special_tokens=False))
    return total


def _keep_measurements(measured: dict[str, Any], path: Path, *, reused: bool) -> dict[str, Any]:
    """A fresh evaluation stores what it measured; a reused one reports those figures."""
    if reused and path.is_file():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            return {**measured, **{key: stored[key] for key in _COSTS}}
        except (OSError, ValueError, KeyError, TypeError):
            pass  # damaged: the figures of this run stand
    path.write_text(json.dumps({key: measured[key] for key in _COSTS}, indent=2) + "\n", encoding="utf-8")
    return measured


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Load, warm up and evaluate one variant in this process; what it cost."""
    from harness.backends import create_backend
    from harness.engine.runner import evaluate

    model, name, config, run_dir = spec["model"], spec["name"], _config(spec["config"]), Path(spec["run_dir"])
    try:
        t0 = time.perf_counter()
        loaded, tokenizer, fingerprint = _load(model, name, spec["path"], spec["device"])
        load_seconds = time.perf_counter() - t0
    except UserError as exc:
        return {"skipped": str(exc)}  # cannot run here (a CUDA-only kernel, a missing package)
    backend = create_backend("hf", f"{model}@{name}", loaded=(loaded, tokenizer), fingerprint=fingerprint, batch_size=config.batch_size)
    _warm_up(loaded, tokenizer)
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*MatMul8bitLt.*")  # bitsandbytes warns once per matmul
            done = evaluate(replace(config, model=f"{model}@{name}"), backend=backend, run_dir=run_dir, replace_stale=True)
    except (UserError, RuntimeError, NotImplementedError, ValueError, TypeError) as exc:
        # A kernel missing on this device, out of memory: one variant's failure, reported in its row.
        return {"failed": f"failed during evaluation ({type(exc).__name__}: {one_line(exc)[:160]})"}
    from harness.runs.samples import load_samples

    measured = {"weight_mb": weight_bytes(loaded) / 2**20, "peak_rss_mb": _peak_rss_mb(), "load_seconds": load_seconds,
                "eval_seconds": time.perf_counter() - t0, "tokens": _count_tokens(tokenizer, load_samples(run_dir))}  # fmt: skip
    return _keep_measurements(measured, run_dir / MEASURED, reused=done.reused)


def main(argv: list[str]) -> int:
    """`python -m harness.workflows.quant_variant SPEC.json OUT.json`: measure one variant, write what it cost."""
    from harness.core.quiet import quiet_libraries

    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    with quiet_libraries(), contextlib.suppress(KeyboardInterrupt):
        result = measure(spec)
        Path(argv[1]).write_text(json.dumps(result), encoding="utf-8")
        return 0
    return 130


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
