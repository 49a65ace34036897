"""`harness quant-compare`: quantized variants of one model against a reference, side by side.

Every variant is evaluated on the same samples (one run folder each) and compared with the first
(the reference) in one table: each metric with its difference, 95% interval and paired p-value
(`harness.reports.compare`'s tests), agreement (MCQ: same chosen option; QA: identical output), mean
absolute change of the log-probability of the reference's chosen option, mean KL divergence
KL(reference || variant) between the option distributions (softmax over option log-probabilities),
weight memory, peak RSS while loading and evaluating, load time and tokens per second.
Samples whose chosen option differs from the reference are written to `flips_VARIANT.jsonl`.

Python API: `compare(model, methods, config, ...)`.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import resource
import time
import warnings
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessWarning, UserError, one_line
from harness.engine.config import EvalConfig
from harness.metrics.paired import paired_compare
from harness.runs.samples import load_samples
from harness.workflows.quant_methods import load_kwargs, weight_bytes
from harness.workflows.quant_report import QuantReport, VariantResult, render_quant

__all__ = ["QuantReport", "VariantResult", "compare", "render_quant"]


def _reset_peak_rss() -> None:
    """Reset the kernel's VmHWM so each variant's peak is its own (Linux; elsewhere a no-op)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _parse_variants(methods: list[str], paths: dict[str, str]) -> list[tuple[str, str | None]]:
    """The variants to run, checked before any model loads: known methods, each once."""
    from harness.workflows.quant_methods import METHODS

    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise UserError(f"--quant: unknown method {unknown[0]!r} (known: {', '.join(METHODS)}); see harness list quant")
    repeated = sorted({m for m in [*methods, *paths] if [*methods, *paths].count(m) > 1})
    if repeated:
        raise UserError(f"--quant/--variant name {', '.join(repeated)} more than once; each variant is run and listed once")
    out: list[tuple[str, str | None]] = [(m, None) for m in methods]
    out += [(name, path) for name, path in paths.items()]
    if not out:
        raise UserError("quant-compare needs at least one --quant method or --variant NAME=PATH")
    return out


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


def _softmax(lps: list[float]) -> list[float]:
    top = max(lps)
    exps = [math.exp(v - top) for v in lps]
    total = sum(exps)
    return [e / total for e in exps]


def _agreement(ref: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]], result: VariantResult, out: Path) -> None:
    keys = [k for k in ref if k in new]
    same, dlogp, kls, flips = 0, [], [], []
    for k in keys:
        a, b = ref[k], new[k]
        agree = a["chosen"] == b.get("chosen") if "chosen" in a else a.get("prediction") == b.get("prediction")
        same += agree
        if not agree:
            flips.append(
                {
                    "key": k,
                    "reference": a.get("chosen", a.get("prediction")),
                    "variant": b.get("chosen", b.get("prediction")),
                    "reference_scores": a["scores"],
                    "variant_scores": b["scores"],
                    "answer": a.get("answer", a.get("reference")),
                }
            )
        if "option_logprobs" in a and "option_logprobs" in b:
            i = a["option_logprobs"].index(max(a["option_logprobs"]))
            dlogp.append(abs(b["option_logprobs"][i] - a["option_logprobs"][i]))
            p, q = _softmax(a["option_logprobs"]), _softmax(b["option_logprobs"])
            kls.append(sum(pi * (math.log(pi) - math.log(qi)) for pi, qi in zip(p, q, strict=True) if pi > 0))
    result.agreement = same / len(keys) if keys else 0.0
    result.mean_abs_dlogp = sum(dlogp) / len(dlogp) if dlogp else None
    result.mean_kl = sum(kls) / len(kls) if kls else None
    result.flips = len(flips)
    (out / f"flips_{result.name}.jsonl").write_text("".join(json.dumps(f, ensure_ascii=False) + "\n" for f in flips), encoding="utf-8")


def _metric_rows(ref: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    keys = [k for k in ref if k in new]
    rows = []
    for task in dict.fromkeys(ref[k]["task"] for k in keys):
        mine = [k for k in keys if ref[k]["task"] == task]
        for metric in ref[mine[0]]["scores"]:
            x = [float(ref[k]["scores"][metric]) for k in mine]
            y = [float(new[k]["scores"].get(metric, 0.0)) for k in mine]
            r = paired_compare(x, y, seed)
            rows.append({"task": task, "metric": metric, "n": r.n, "reference": r.base, "score": r.new, "delta": r.delta,
                         "ci_low": r.ci_low, "ci_high": r.ci_high, "p_value": r.p_value, "test": r.test})  # fmt: skip
    return rows


def _count_tokens(tokenizer: Any, records: dict[str, dict[str, Any]]) -> int:
    total = 0
    for rec in records.values():
        tokens = rec.get("tokens")
        if tokens and (tokens["prompt"] or tokens["completion"]):
            total += int(tokens["prompt"]) + int(tokens["completion"])
        elif rec.get("prompt"):
            total += len(tokenizer.encode(rec["prompt"], add_special_tokens=False))
    return total


def compare(
    model: str, methods: list[str], config: EvalConfig, *, variants: dict[str, str] | None = None, output: Path, device: str = "auto"
) -> QuantReport:
    """Evaluate each variant on `config`'s datasets and compare with the first; see the module docstring."""
    from harness.backends.hf.backend import HFBackend
    from harness.backends.hf.loading import require_model
    from harness.engine.plan import prepare_tasks
    from harness.engine.runner import evaluate

    plan = _parse_variants(methods, variants or {})
    prepare_tasks(config, "letter")  # the data files are read and checked before any model loads
    require_model(model)  # a missing model path is the one line `eval` gives, not the hub's message
    _warn_if_dequantized(model)
    output.mkdir(parents=True, exist_ok=True)
    results: list[VariantResult] = []
    reference: dict[str, dict[str, Any]] | None = None
    for name, path in plan:
        result = VariantResult(name)
        results.append(result)
        gc.collect()
        _reset_peak_rss()
        try:
            t0 = time.perf_counter()
            loaded, tokenizer, fingerprint = _load(model, name, path, device)
            result.load_seconds = time.perf_counter() - t0
        except UserError as exc:
            if reference is None:
                raise
            result.error, result.skipped = str(exc), True  # cannot run here (a CUDA-only kernel, a missing package): a skip
            continue
        result.weight_mb = weight_bytes(loaded) / 2**20
        backend = HFBackend(f"{model}@{name}", loaded=(loaded, tokenizer), fingerprint=fingerprint, batch_size=config.batch_size)
        _warm_up(loaded, tokenizer)
        run_dir = output / name
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*MatMul8bitLt.*")  # bitsandbytes warns once per matmul
                done = evaluate(replace(config, model=f"{model}@{name}"), backend=backend, run_dir=run_dir, replace_stale=True)
        except (UserError, RuntimeError, NotImplementedError, ValueError, TypeError) as exc:
            # A kernel missing on this device, out of memory: one variant's failure, reported in its row.
            why = f"failed during evaluation ({type(exc).__name__}: {one_line(exc)[:160]})"
            if reference is None:
                raise UserError(
                    f"quant-compare: the reference variant {name} {why}; put a variant that runs here first in --quant"
                ) from None
            result.error = why
            del backend, loaded
            continue
        result.eval_seconds = time.perf_counter() - t0
        result.peak_rss_mb = _peak_rss_mb()
        result.run_dir = str(run_dir)
        _keep_measurements(result, run_dir / MEASURED, reused=done.reused)
        records = load_samples(run_dir)
        result.tokens = _count_tokens(tokenizer, records)
        if reference is None:
            reference = records
        _agreement(reference, records, result, output)
        result.metrics = _metric_rows(reference, records, config.seed)
        del backend, loaded
    report = QuantReport(results[0].name, results, str(output))
    (output / "quant_compare.json").write_text(json.dumps(asdict(report), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for fmt, suffix in (("md", "md"), ("csv", "csv")):
        (output / f"quant_compare.{suffix}").write_text(render_quant(report, fmt), encoding="utf-8")
    return report


MEASURED = "measured.json"  # a variant's cost, measured when it was evaluated, kept beside its run
_COSTS = ("weight_mb", "peak_rss_mb", "load_seconds", "eval_seconds")


def _keep_measurements(result: VariantResult, path: Path, *, reused: bool) -> None:
    """A fresh evaluation stores what it measured; a reused one reports those figures, not the near-zero time of reuse."""
    if reused and path.is_file():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            for key in _COSTS:
                setattr(result, key, float(stored[key]))
            return
        except (OSError, ValueError, KeyError, TypeError):
            pass  # damaged: the figures of this run stand
    path.write_text(json.dumps({key: getattr(result, key) for key in _COSTS}, indent=2) + "\n", encoding="utf-8")


def _warn_if_dequantized(model: str) -> None:
    """A reference de-quantized from a low-bit GGUF is not full precision: say so before the table claims it."""
    from harness.backends.default_model import resolve_alias, weights_origin

    folder = resolve_alias(model) or (Path(model) if Path(model).is_dir() else None)
    origin = weights_origin(folder, "float32") if folder else None
    if origin:
        warnings.warn(f"the reference {model} is {origin}: its fp32 variant is low-bit weights stored in float32, "
                      "not the full-precision model", HarnessWarning, stacklevel=3)  # fmt: skip
