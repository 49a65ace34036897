"""The metric registry is the one list: implementations, `harness list metrics` and the record's fields agree with it."""

from __future__ import annotations

import re
import typing

from conftest import ROOT

from harness.cli.main import main
from harness.metrics.corpus import CORPUS_METRICS
from harness.metrics.qa import QA_METRICS
from harness.metrics.registry import METRICS, all_metrics, choice_metrics, metric_info, names_of
from harness.runs.record import SampleRecord


def test_every_implemented_metric_is_registered_and_every_registered_one_implemented():
    assert {m.name for m in METRICS.values() if m.kind == "sample"} == set(QA_METRICS)
    assert {m.name for m in METRICS.values() if m.kind == "corpus"} == set(CORPUS_METRICS)
    assert {m.name for m in METRICS.values() if m.kind == "choice"} == {"acc", "acc_norm", "mc2"}
    # The 0/1 metrics (the HTML page's right/wrong column, in this order): each scores 0 or 1 on a hand case.
    binary = [m.name for m in METRICS.values() if m.binary]
    assert binary == ["acc", "acc_norm", "exact_match", "contains", "numeric_match", "strict_match", "flexible_extract"]
    for name in binary[2:]:
        for scores in (QA_METRICS[name]("#### 42", "#### 42"), QA_METRICS[name]("7", "#### 42")):
            assert set(scores.values()) <= {0.0, 1.0}


def test_what_a_metric_reads_is_a_record_field_and_its_reference_test_exists():
    fields = set(typing.get_type_hints(SampleRecord))
    for m in all_metrics():
        assert set(m.reads) <= fields, m.name
        for path in re.findall(r"tests/\w+\.py", m.reference):
            assert (ROOT / path).is_file(), (m.name, path)
    assert choice_metrics() == {"acc": "chosen", "acc_norm": "chosen_norm"}


def test_kinds_route_names_and_unknown_names_are_none():
    assert names_of(["rouge", "chrf", "judge", "evaluate:./m.py", "acc", "nope"], "sample", "judge") == ("rouge", "judge")
    assert metric_info("nope") is None and metric_info("evaluate:x") is not None


def test_list_metrics_prints_every_entry_with_its_reference(capsys):
    assert main(["list", "metrics"]) == 0
    out = capsys.readouterr().out
    for m in all_metrics():
        assert m.name in out
    assert out.count("checked against") == len(all_metrics())
