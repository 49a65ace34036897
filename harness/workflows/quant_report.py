"""quant-compare's report: the variant results it is made of, and its table (terminal, Markdown, CSV).

Kept apart from the measuring (`quant_compare`) so that rendering a stored report never needs torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.reports.tables import Column, Table

__all__ = ["COLUMNS", "QuantReport", "VariantResult", "render_quant", "table_rows"]


@dataclass
class VariantResult:
    """What one variant cost and scored; `error` set when it could not run here."""

    name: str
    run_dir: str | None = None
    error: str | None = None
    skipped: bool = False  # `error` says why this machine cannot run it (a skip); False: it failed while running
    weight_mb: float = 0.0
    peak_rss_mb: float = 0.0
    load_seconds: float = 0.0
    eval_seconds: float = 0.0
    tokens: int = 0
    agreement: float = 0.0  # acc's (MCQ) or identical outputs (QA)
    agreement_by_metric: dict[str, float] = field(default_factory=dict)  # each choice metric's (acc, acc_norm)
    mean_abs_dlogp: float | None = None
    mean_kl: float | None = None
    flips: int = 0
    metrics: list[dict[str, Any]] = field(default_factory=list)

    @property
    def tokens_per_second(self) -> float:
        """Prompt plus generated tokens per second of evaluation."""
        return self.tokens / self.eval_seconds if self.eval_seconds else 0.0


@dataclass
class QuantReport:
    """All variants, reference first."""

    reference: str
    variants: list[VariantResult]
    output: str


COLUMNS = [
    Column("Variant"), Column("Dataset", drop=5), Column("Metric"), Column("Num", numeric=True, drop=6), Column("Score", numeric=True),
    Column("Delta", numeric=True), Column("95% CI", numeric=True, drop=4), Column("p", numeric=True, drop=3),
    Column("Agreement", numeric=True), Column("mean|dlogP|", numeric=True, drop=2), Column("KL", numeric=True, drop=2),
    Column("Weights MB", numeric=True), Column("Peak RSS MB", numeric=True, drop=1), Column("Load s", numeric=True, drop=1),
    Column("tok/s", numeric=True),
]  # fmt: skip


def _opt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def table_rows(report: QuantReport) -> list[list[str]]:
    """One row per variant and metric; a variant that could not run gets one row with its error."""
    rows = []
    for v in report.variants:
        if v.error:
            rows.append([v.name, "-", f"not run: {v.error}", *["-"] * (len(COLUMNS) - 3)])
            continue
        for m in v.metrics:
            rows.append([
                v.name, m["task"], m["metric"], str(m["n"]), f"{m['score']:.4f}", f"{m['delta']:+.4f}",
                f"[{m['ci_low']:+.4f}, {m['ci_high']:+.4f}]", f"{m['p_value']:.3g}",
                f"{100 * v.agreement_by_metric.get(m['metric'], v.agreement):.1f}%",
                _opt(v.mean_abs_dlogp), _opt(v.mean_kl), f"{v.weight_mb:.1f}", f"{v.peak_rss_mb:.0f}", f"{v.load_seconds:.1f}",
                f"{v.tokens_per_second:.0f}",
            ])  # fmt: skip
    return rows


def render_quant(report: QuantReport, fmt: str) -> str:
    """Terminal table, Markdown or CSV."""
    table = Table(list(COLUMNS), table_rows(report), title="Quantized vs reference", preamble=[f"Reference: {report.reference}"])
    table.notes = [
        "Delta, 95% CI and p: against the reference on the same samples (paired test); Agreement: the same choice under that row's "
        "metric (acc: highest log-likelihood; acc_norm: highest per character) or, for text metrics, identical output.",
        "mean|dlogP|: mean absolute change of the log-probability of the reference's choice; KL: KL(reference || variant) over options.",
    ]
    if fmt == "md":
        return table.markdown()
    if fmt == "csv":
        return table.csv()
    return table.terminal()
