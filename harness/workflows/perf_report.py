"""`harness perf`'s results as a table (terminal, Markdown) or JSON: one row per load level, notes below."""

from __future__ import annotations

import json
from dataclasses import asdict

from harness.reports.tables import Column, Table
from harness.workflows.perf import PerfRun, RequestShape

__all__ = ["perf_json", "perf_table"]


def perf_table(run: PerfRun, *, compact: bool = False) -> Table:
    """One row per level; `compact` (the terminal) names levels `c=4` / `r=2/s` and shortens headers to fit 80 columns."""
    ms = "p50/90/99" if compact else "p50/p90/p99 ms"
    columns = [Column("Level"), Column("OK", numeric=True), Column("Err" if compact else "Errors", numeric=True),
               Column("req/s", numeric=True), Column("out tok/s", numeric=True), Column("total tok/s", numeric=True, drop=2),
               Column(f"TTFT {ms}", numeric=True), Column(f"TPOT {ms}", numeric=True), Column(f"ITL {ms}", numeric=True, drop=3),
               Column(f"E2E {ms}", numeric=True, drop=1)]  # fmt: skip

    def triple(values: dict[str, float]) -> str:
        return "/".join(f"{values[k]:.0f}" if values[k] >= 10 else f"{values[k]:.1f}" for k in ("p50", "p90", "p99")) if values else "-"

    rows = [[_short(r.level) if compact else r.level, str(r.ok), str(r.errors), f"{r.requests_per_s:.2f}", f"{r.output_tokens_per_s:.1f}",
             f"{r.total_tokens_per_s:.1f}", triple(r.ttft_ms), triple(r.tpot_ms), triple(r.itl_ms), triple(r.e2e_ms)]
            for r in run.levels]  # fmt: skip
    notes = [f"{r.level}: first error: {r.first_error}" for r in run.levels if r.first_error]
    notes += [f"{r.level}: {_stopped(r.cut, r.unsent)} (--max-seconds: perf's own limit, not counted as errors)"
              for r in run.levels if r.cut or r.unsent]  # fmt: skip
    if run.warmup:
        failed = f", {run.warmup_errors} failed" if run.warmup_errors else ""
        notes.append(f"{run.warmup} warm-up request(s) before the levels, not counted{failed}.")
    notes.append("TTFT: time to the first streamed token; TPOT: time per output token after the first; ITL: gap between streamed "
                 "chunks; E2E: request start to last byte; total tok/s: input plus output tokens (the server's usage).")  # fmt: skip
    preamble = [f"Endpoint: {run.url}{run.shape.path}, model {run.model}, max_tokens {run.shape.max_tokens}" + _fixed(run.shape)]
    if compact:
        notes.append("c=N: N requests in flight; r=R/s: R arrivals per second; times in ms (p50/p90/p99).")
    return Table(columns, rows, title="Serving performance", preamble=preamble, notes=notes)


def _short(level: str) -> str:
    """`concurrency 4` as `c=4`, `rate 2/s` as `r=2/s` (the terminal table's Level column)."""
    return level.replace("concurrency ", "c=").replace("rate ", "r=")


def _stopped(cut: int, unsent: int) -> str:
    parts = [f"{cut} request(s) cut while running"] * bool(cut) + [f"{unsent} not sent"] * bool(unsent)
    return ", ".join(parts)


def _fixed(shape: RequestShape) -> str:
    parts = ["ignore_eos"] * shape.ignore_eos + ([f"min_tokens {shape.min_tokens}"] if shape.min_tokens is not None else [])
    parts += [f"{k} {json.dumps(v)}" for k, v in sorted(shape.extra_body.items())]
    return (", " + ", ".join(parts)) if parts else ""


def perf_json(run: PerfRun) -> str:
    """The results as JSON."""
    body = {"endpoint": run.url + run.shape.path, "model": run.model, "request": {**asdict(run.shape)}, "warmup": run.warmup,
            "warmup_errors": run.warmup_errors, "levels": [asdict(r) for r in run.levels]}  # fmt: skip
    return json.dumps(body, indent=2) + "\n"
