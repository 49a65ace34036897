"""`harness score`: score predictions made elsewhere (lines with `prediction` and `reference`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.core.errors import UserError
from harness.engine.corpus_scores import corpus_rows, evaluate_rows
from harness.metrics.hf_evaluate import load_module
from harness.metrics.qa import score_pair
from harness.metrics.registry import METRICS, MetricKind, metric_info, names_of
from harness.runs.results_file import Results
from harness.runs.score_rows import score_rows
from harness.tasks.errors import DataError
from harness.tasks.files import read_jsonl

__all__ = ["score_pairs_file"]

_FROM_PAIRS: tuple[MetricKind, ...] = ("sample", "corpus", "module")  # what a file of pairs can be scored with (no judge, no choices)


def score_pairs_file(path: Path, metrics: list[str], seed: int = 0, *, trust_code: bool = False) -> tuple[Results, list[dict[str, Any]]]:
    """Score every line; returns (results in run format, per-line records with their scores).

    `trust_code` is the user's opt-in to run `evaluate:` modules (their Python code; harness.core.trust).
    """
    unknown = [m for m in metrics if (found := metric_info(m)) is None or found.kind not in _FROM_PAIRS]
    if unknown:
        known = ", ".join(m.name for m in METRICS.values() if m.kind in _FROM_PAIRS)
        raise UserError(f"unknown metric {unknown[0]!r} (known: {known}, evaluate:NAME_OR_PATH)")
    for metric in names_of(metrics, "module"):
        load_module(metric, trusted=trust_code)  # not opted in, missing or broken: one line before any line is read
    per_sample = names_of(metrics, "sample")
    records = []
    for rec in read_jsonl(path, exact_numbers=False):
        if isinstance(rec, DataError):
            raise rec
        obj = rec.value
        for field in ("prediction", "reference"):
            if field not in obj:
                raise DataError(path, f'no "{field}" field', line=rec.line, fix='each line needs "prediction" and "reference"')
        if obj["reference"] is None or isinstance(obj["reference"], bool | list | dict):
            raise DataError(path, f'"reference" is {json.dumps(obj["reference"])[:40]}, not text', line=rec.line,
                            fix="a reference is the expected answer as a string; drop lines without one")  # fmt: skip
        if obj["prediction"] is not None and isinstance(obj["prediction"], bool | list | dict):
            raise DataError(path, f'"prediction" is {json.dumps(obj["prediction"])[:40]}, not text', line=rec.line,
                            fix="a prediction is the model's answer as a string (null for no answer)")  # fmt: skip
        pred = "" if obj["prediction"] is None else str(obj["prediction"])
        scores = score_pair(pred, str(obj["reference"]), per_sample)
        records.append({**obj, **scores, "subset": str(obj.get("subset", path.stem)), "scores": scores})
    if not records:
        raise DataError(path, "no lines to score", fix='one {"prediction": ..., "reference": ...} per line')
    rows = score_rows("score", records, seed)
    info: dict[str, Any] = {"scoring": "external predictions"}
    pairs: dict[str, list[tuple[str, str]]] = {}
    for line in records:
        pairs.setdefault(line["subset"], []).append(("" if line["prediction"] is None else str(line["prediction"]), str(line["reference"])))
    for metric in names_of(metrics, "corpus"):
        corpus, info.setdefault("sacrebleu", {})[metric] = corpus_rows("score", metric, pairs, seed=seed)
        rows.extend(corpus)
    for metric in names_of(metrics, "module"):
        corpus, info.setdefault("evaluate", {})[metric] = evaluate_rows("score", metric, pairs, seed=seed)
        rows.extend(corpus)
    info.update(files=[str(path)], num_samples=len(records))
    results: Results = {"model": {"name": path.name, "backend": f"predictions scored from {len(records)} line(s)"},
                        "tasks": {"score": info}, "scores": rows}  # fmt: skip
    per_line = [{k: v for k, v in r.items() if k != "scores"} for r in records]
    return results, per_line


def write_per_sample(path: Path, records: list[dict[str, Any]]) -> None:
    """One JSON line per pair: the input fields and every score under EvalScope's key names."""
    from harness.runs.store import atomic_write_text

    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
