"""GSM8K's strict-match and flexible-extract equal lm-eval 0.4's on 50 model outputs, awkward ones included
(commas in numbers, trailing periods, several "####", signs, currency, full-width digits).

The fixture records lm-eval's verdicts (written by lm-eval's own RegexFilter and exact_match); the second
test recomputes them live with lm-eval when it is installed, so the recorded values cannot drift."""

from __future__ import annotations

import json

import pytest
from conftest import TEST_DATA

from harness.metrics.gsm8k import extract_flexible, extract_strict, flexible_extract, strict_match

CASES = [json.loads(x) for x in (TEST_DATA / "gsm8k_outputs.jsonl").read_text(encoding="utf-8").splitlines()]


def test_fifty_outputs_equal_lm_evals_recorded_verdicts():
    assert len(CASES) == 50
    assert 0 < sum(c["lm_eval_strict_match"] for c in CASES) < 50  # both verdicts occur
    for c in CASES:
        assert strict_match(c["prediction"], c["reference"]) == c["lm_eval_strict_match"], c
        assert flexible_extract(c["prediction"], c["reference"]) == c["lm_eval_flexible_extract"], c


def test_live_against_lm_eval():
    filters = pytest.importorskip("lm_eval.filters.extraction")
    from lm_eval.api.metrics import exact_match_hf_evaluate

    strict = filters.RegexFilter(regex_pattern=r"#### (\-?[0-9\.\,]+)", group_select=0)
    flex = filters.RegexFilter(regex_pattern=r"(-?[$0-9.,]{2,})|(-?[0-9]+)", group_select=-1)
    kw = {"ignore_case": True, "ignore_punctuation": False, "regexes_to_ignore": [",", "\\$", "(?s).*#### ", "\\.$"]}
    for c in CASES:
        (s,), (f,) = list(strict.apply([[c["prediction"]]], [{}]))[0], list(flex.apply([[c["prediction"]]], [{}]))[0]
        assert extract_strict(c["prediction"]) == s and extract_flexible(c["prediction"]) == f
        assert strict_match(c["prediction"], c["reference"]) == exact_match_hf_evaluate([s], [c["reference"]], **kw)["exact_match"]
        assert flexible_extract(c["prediction"], c["reference"]) == exact_match_hf_evaluate([f], [c["reference"]], **kw)["exact_match"]
