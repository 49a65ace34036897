"""Every metric by name, for `harness list metrics`: what it scores, how, and what it is checked against.

Read from the one registry (harness.metrics.registry), so a metric added there is listed here.
"""

from __future__ import annotations

from harness.metrics.registry import DEFAULT_QA_METRICS, all_metrics

__all__ = ["metric_rows"]


def metric_rows() -> list[list[str]]:
    """[name, for, description] for every metric."""
    rows = []
    for m in all_metrics():
        where = f"{m.task} (default)" if m.name in DEFAULT_QA_METRICS else m.task
        rows.append([m.name, where, f"{m.description}; checked against {m.reference}"])
    return rows
