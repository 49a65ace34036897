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

import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessWarning, UserError
from harness.core.folders import OwnedFolder
from harness.core.names import check_apart, check_name
from harness.engine.config import EvalConfig
from harness.metrics.paired import paired_compare
from harness.metrics.registry import choice_metrics
from harness.runs.record import SampleRecord
from harness.runs.samples import load_samples
from harness.tasks.modes import ScoringMode
from harness.workflows.quant_report import QuantReport, VariantResult, render_quant
from harness.workflows.quant_variant import measure_in_fresh_process

__all__ = ["QuantReport", "VariantResult", "compare", "render_quant"]


def _parse_variants(methods: list[str], paths: dict[str, str]) -> list[tuple[str, str | None]]:
    """The variants to run, checked before any model loads: known methods, each once, names safe as folder names."""
    from harness.workflows.quant_methods import METHODS

    for name in paths:
        check_name(name, "--variant name")
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


def _softmax(lps: list[float]) -> list[float]:
    top = max(lps)
    exps = [math.exp(v - top) for v in lps]
    total = sum(exps)
    return [e / total for e in exps]


# The choice each MCQ metric scores: `acc` the option with the highest log-likelihood, `acc_norm` the highest per
# character (cloze). Agreement and flips are per metric, so a question whose acc_norm choice moved is a flip of acc_norm.
CHOICE_FIELDS = choice_metrics()  # from the metric registry: acc -> chosen, acc_norm -> chosen_norm


def _choice(rec: SampleRecord, metric: str) -> Any:
    """What a record chose under `metric`: its letter(s) for a choice metric, else its generated text."""
    field = CHOICE_FIELDS.get(metric, "chosen" if "chosen" in rec else "prediction")
    return rec.get(field, rec.get("prediction"))


def _agreement(ref: dict[str, SampleRecord], new: dict[str, SampleRecord], result: VariantResult, out: OwnedFolder) -> None:
    """Per metric: the share of shared samples with the same choice; every changed choice is a flip (with its metric)."""
    keys = [k for k in ref if k in new]
    metrics = list(dict.fromkeys(m for k in keys for m in ref[k]["scores"] if m in CHOICE_FIELDS)) or ["output"]
    same: dict[str, int] = dict.fromkeys(metrics, 0)
    dlogp, kls, flips = [], [], []
    for k in keys:
        a, b = ref[k], new[k]
        for metric in metrics:
            if metric in CHOICE_FIELDS and metric not in a["scores"]:
                continue
            before, after = _choice(a, metric), _choice(b, metric)
            same[metric] += before == after
            if before != after:
                flips.append({"key": k, "metric": metric, "reference": before, "variant": after, "reference_scores": a["scores"],
                              "variant_scores": b["scores"], "answer": a.get("answer", a.get("reference"))})  # fmt: skip
        if "option_logprobs" in a and "option_logprobs" in b:
            i = a["option_logprobs"].index(max(a["option_logprobs"]))
            dlogp.append(abs(b["option_logprobs"][i] - a["option_logprobs"][i]))
            p, q = _softmax(a["option_logprobs"]), _softmax(b["option_logprobs"])
            kls.append(sum(pi * (math.log(pi) - math.log(qi)) for pi, qi in zip(p, q, strict=True) if pi > 0))
    counted = {m: sum(1 for k in keys if m not in CHOICE_FIELDS or m in ref[k]["scores"]) for m in metrics}
    result.agreement_by_metric = {m: same[m] / counted[m] for m in metrics if counted[m]}
    result.agreement = result.agreement_by_metric.get("acc", next(iter(result.agreement_by_metric.values()), 0.0))
    result.mean_abs_dlogp = sum(dlogp) / len(dlogp) if dlogp else None
    result.mean_kl = sum(kls) / len(kls) if kls else None
    result.flips = len(flips)
    out.write_text(f"flips_{result.name}.jsonl", "".join(json.dumps(f, ensure_ascii=False) + "\n" for f in flips))


def _metric_rows(ref: dict[str, SampleRecord], new: dict[str, SampleRecord], seed: int) -> list[dict[str, Any]]:
    keys = [k for k in ref if k in new]
    rows = []
    for task in dict.fromkeys(ref[k]["task"] for k in keys):
        mine = [k for k in keys if ref[k]["task"] == task]
        for metric in ref[mine[0]]["scores"]:
            # Both scored (a failed judgement is None: left out, as compare does); a metric the variant lacks is 0.
            pairs = [(ref[k]["scores"].get(metric), new[k]["scores"].get(metric, 0.0)) for k in mine]
            x = [float(a) for a, b in pairs if a is not None and b is not None]
            y = [float(b) for a, b in pairs if a is not None and b is not None]
            if not x:
                continue
            r = paired_compare(x, y, seed)
            rows.append({"task": task, "metric": metric, "n": r.n, "reference": r.base, "score": r.new, "delta": r.delta,
                         "ci_low": r.ci_low, "ci_high": r.ci_high, "p_value": r.p_value, "test": r.test})  # fmt: skip
    return rows


def compare(
    model: str,
    methods: list[str],
    config: EvalConfig,
    *,
    variants: dict[str, str] | None = None,
    output: Path,
    device: str = "auto",
    force: bool = False,
    say: Callable[[str], None] | None = None,
) -> QuantReport:
    """Evaluate each variant on `config`'s datasets and compare with the first; see the module docstring.

    Each variant is loaded, timed and evaluated in a fresh process (harness.workflows.quant_variant), so its
    load time and peak memory are its own, whatever ran before it. `output` is a folder the harness owns
    (harness.core.folders): one holding a user's files is refused unless `force`. `say` gets a line as each
    variant starts and ends.
    """
    from harness.backends.hf.loading import require_model
    from harness.engine.plan import prepare_tasks

    plan = _parse_variants(methods, variants or {})
    inputs = [("--model", Path(model) if Path(model).exists() else None)]
    inputs += [(f"--variant {name}", Path(path)) for name, path in plan if path is not None]
    check_apart([("--output", output)], inputs)
    folder = OwnedFolder(output, "quant-compare", force=force)
    folder.check()  # a folder holding the user's files is refused before anything is loaded
    prepare_tasks(config, ScoringMode.LETTER)  # the data files are read and checked before any model loads
    require_model(model)  # a missing model path is the one line `eval` gives, not the hub's message
    _warn_if_dequantized(model)
    say = say or (lambda line: None)
    results: list[VariantResult] = []
    reference: dict[str, SampleRecord] | None = None
    with folder:
        for n, (name, path) in enumerate(plan, start=1):
            result = VariantResult(name)
            results.append(result)
            run_dir = folder.subfolder(name)
            say(f"[{n}/{len(plan)}] {name}: loading and evaluating in its own process")
            started = time.monotonic()
            measured = measure_in_fresh_process(model, name, path, device, config, run_dir)
            outcome = "skipped" if measured.get("skipped") else "failed" if measured.get("failed") else "done"
            say(f"[{n}/{len(plan)}] {name}: {outcome} in {time.monotonic() - started:.0f} s")
            reference = _take(result, measured, run_dir, reference, folder, config.seed)
        report = QuantReport(results[0].name, results, str(output))
        folder.write_text("quant_compare.json", json.dumps(asdict(report), indent=2, ensure_ascii=False) + "\n")
        for fmt in ("md", "csv"):
            folder.write_text(f"quant_compare.{fmt}", render_quant(report, fmt))
    return report


def _take(
    result: VariantResult,
    measured: dict[str, Any],
    run_dir: Path,
    reference: dict[str, SampleRecord] | None,
    folder: OwnedFolder,
    seed: int,
) -> dict[str, SampleRecord] | None:
    """Fill one variant's row from what its process measured; returns the reference's records (the first variant's)."""
    if measured.get("skipped") or measured.get("failed"):
        if reference is None:
            why = measured.get("skipped") or f"{result.name} {measured['failed']}; put a variant that runs here first in --quant"
            raise UserError(why if measured.get("skipped") else f"quant-compare: the reference variant {why}")
        result.error, result.skipped = str(measured.get("skipped") or measured["failed"]), bool(measured.get("skipped"))
        return reference
    for key in ("weight_mb", "peak_rss_mb", "load_seconds", "eval_seconds", "tokens"):
        setattr(result, key, measured[key])
    result.run_dir = str(run_dir)
    records = load_samples(run_dir)
    reference = reference if reference is not None else records
    _agreement(reference, records, result, folder)
    result.metrics = _metric_rows(reference, records, seed)
    return reference


def _warn_if_dequantized(model: str) -> None:
    """A reference de-quantized from a low-bit GGUF is not full precision: say so before the table claims it."""
    from harness.backends.default_model import resolve_alias, weights_origin

    folder = resolve_alias(model) or (Path(model) if Path(model).is_dir() else None)
    origin = weights_origin(folder, "float32") if folder else None
    if origin:
        warnings.warn(f"the reference {model} is {origin}: its fp32 variant is low-bit weights stored in float32, "
                      "not the full-precision model", HarnessWarning, stacklevel=3)  # fmt: skip
