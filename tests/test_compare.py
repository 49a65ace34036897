"""Paired statistics against scipy/statsmodels, and the regression gate on planted changes."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from harness.cli.main import main
from harness.metrics.paired import clopper_pearson, mcnemar_exact, paired_bootstrap, paired_compare


@pytest.mark.parametrize(("b", "c"), [(0, 0), (1, 0), (12, 3), (30, 41), (7, 7), (100, 60)])
def test_exact_mcnemar_matches_statsmodels_and_scipy(b, c):
    from scipy.stats import binomtest
    from statsmodels.stats.contingency_tables import mcnemar

    expected = mcnemar([[10, b], [c, 10]], exact=True).pvalue
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)
    if b + c:
        assert mcnemar_exact(b, c) == pytest.approx(binomtest(min(b, c), b + c, 0.5).pvalue, rel=1e-12)


def test_bootstrap_known_cases():
    low, high, p = paired_bootstrap([0.2] * 50)
    # Every resampled mean is 0.2: the interval is the point, and p is the floor of the inverted percentile test.
    assert (low, high) == pytest.approx((0.2, 0.2)) and p == pytest.approx(2 / 10_001)
    assert paired_bootstrap([0.0] * 50)[2] == 1.0
    # Symmetric noise around zero: the interval covers 0 and p is large.
    low, high, p = paired_bootstrap([0.1, -0.1] * 100, seed=1)
    assert low < 0 < high and p > 0.5
    assert paired_bootstrap([0.1, -0.05, 0.3], seed=4) == paired_bootstrap([0.1, -0.05, 0.3], seed=4)


def test_paired_compare_picks_the_test():
    assert paired_compare([1.0, 0.0, 1.0], [1.0, 1.0, 0.0]).test == "mcnemar"
    assert paired_compare([0.5, 0.2], [0.4, 0.2]).test == "bootstrap"


def write_run(folder: Path, correct: list[float], bleu: list[float], extra: int = 0) -> Path:
    folder.mkdir(parents=True)
    records = [
        {"key": f"t/s/{i}", "task": "t", "subset": "s", "scores": {"acc": a, "bleu-1": b}}
        for i, (a, b) in enumerate(zip(correct, bleu, strict=True))
    ]
    records += [{"key": f"t/s/x{i}", "task": "t", "subset": "s", "scores": {"acc": 1.0, "bleu-1": 1.0}} for i in range(extra)]
    (folder / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (folder / "results.json").write_text(json.dumps({"scores": [], "model": {"name": folder.name}, "tasks": {}}))
    return folder


def test_planted_drop_fails_the_gate_and_noise_passes(tmp_path, capsys):
    rng = random.Random(0)
    base_acc = [1.0 if rng.random() < 0.7 else 0.0 for _ in range(500)]
    base_bleu = [rng.random() for _ in range(500)]
    base = write_run(tmp_path / "base", base_acc, base_bleu)
    # Planted: 50 of the correct answers become wrong (a 10-point drop), BLEU drops by 0.1 everywhere.
    right = [i for i, a in enumerate(base_acc) if a == 1.0]
    dropped = set(rng.sample(right, 50))
    worse = write_run(
        tmp_path / "worse", [0.0 if i in dropped else a for i, a in enumerate(base_acc)], [max(0.0, b - 0.1) for b in base_bleu], extra=3
    )
    # Noise: 15 flips each way, BLEU jitter of +-0.05.
    wrong = [i for i, a in enumerate(base_acc) if a == 0.0]
    flips = set(rng.sample(right, 15)) | set(rng.sample(wrong, 15))
    noisy = write_run(
        tmp_path / "noisy",
        [1.0 - a if i in flips else a for i, a in enumerate(base_acc)],
        [b + rng.uniform(-0.05, 0.05) for b in base_bleu],
    )

    assert main(["compare", str(base), str(worse), "--fail-on-regression", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    acc = next(r for r in report["rows"] if r["metric"] == "acc")
    assert acc["delta"] == pytest.approx(-0.1) and acc["verdict"] == "regression" and acc["test"] == "mcnemar" and acc["n"] == 500
    assert acc["p_value"] == pytest.approx(mcnemar_exact(50, 0))
    assert next(r for r in report["rows"] if r["metric"] == "bleu-1")["verdict"] == "regression"
    assert any("3 only in this run" in n for n in report["notes"])

    assert main(["compare", str(base), str(noisy), "--fail-on-regression", "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("### Evaluation comparison") and "**0 regression(s)" in md and "| noisy | t | acc | s | 500 |" in md


def test_compare_of_a_non_run_is_a_user_error(tmp_path, capsys):
    assert main(["compare", str(tmp_path), str(tmp_path)]) == 2
    assert "no results.json" in capsys.readouterr().err


# --- one test per comparison: the interval shown excludes zero exactly when p < alpha

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.0, 1.0]), st.sampled_from([0.0, 1.0])), min_size=1, max_size=300),
       st.sampled_from([0.01, 0.05, 0.1]))  # fmt: skip
def test_mcnemar_interval_excludes_zero_exactly_when_p_is_below_alpha(pairs, alpha):
    res = paired_compare([x for x, _ in pairs], [y for _, y in pairs], alpha=alpha)
    assert res.test == "mcnemar" and res.ci_low - 1e-12 <= res.delta <= res.ci_high + 1e-12
    assert (res.ci_low > 0 or res.ci_high < 0) == (res.p_value < alpha)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=2, max_size=80), st.floats(-0.3, 0.3), st.integers(0, 5))
def test_bootstrap_interval_excludes_zero_exactly_when_p_is_below_alpha(pairs, shift, seed):
    base = [0.5 for _ in pairs]  # not 0/1, so the bootstrap is used
    new = [min(1.0, max(0.0, 0.5 + (y - x) / 2 + shift)) for x, y in pairs]
    res = paired_compare(base, new, seed=seed)
    assert res.test == "bootstrap"
    assert (res.ci_low > 0 or res.ci_high < 0) == (res.p_value < 0.05)


def test_the_compare_table_interval_agrees_with_its_p_value_on_planted_drops(tmp_path, capsys):
    """The case that read as a contradiction in a PR: -0.35 [-0.65, -0.05] next to p = 0.0654."""
    import random

    rng = random.Random(3)
    for n, drop in ((20, 0.35), (200, 0.05), (2000, 0.0)):
        base = [1.0 if rng.random() < 0.6 else 0.0 for _ in range(n)]
        new = [0.0 if (b == 1.0 and rng.random() < drop) else b for b in base]
        for alpha in (0.05, 0.1):
            res = paired_compare(base, new, alpha=alpha)
            assert (res.ci_low > 0 or res.ci_high < 0) == (res.p_value < alpha)
    assert clopper_pearson(7, 10) == pytest.approx((0.3475471499400027, 0.9332604888222655), abs=1e-12)  # scipy beta.ppf


def test_runs_that_differ_only_in_scoring_compare(tmp_path, capsys):
    """Letter and cloze prompts differ, the questions do not: compare pairs them (it refused them as 'the data changed')."""
    from conftest import EXAMPLE

    runs = []
    for scoring in ("letter", "cloze"):
        args = json.dumps({"general_mcq": {"local_path": str(EXAMPLE), "subset_list": ["example"], "scoring": scoring}})
        run = tmp_path / scoring
        assert main(["eval", "--backend", "fake", "--datasets", "general_mcq", "--dataset-args", args, "--run-dir", str(run)]) == 0
        runs.append(str(run))
    capsys.readouterr()
    assert main(["compare", *runs, "--format", "json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert any(r["metric"] == "acc" and r["n"] == 12 for r in body["rows"])
    # Every row of compare --format json: the interval excludes zero exactly when p < alpha.
    assert all((r["ci_low"] > 0 or r["ci_high"] < 0) == (r["p_value"] < 0.05) for r in body["rows"])


def test_the_terminal_comparison_keeps_what_a_reviewer_needs_at_80_columns(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)  # pytest-xdist's workers inherit one
    runs = []
    for model in ("hash", "first"):
        run = tmp_path / model
        assert main(["eval", "--backend", "fake", "--model", model, "--run-dir", str(run)]) == 0
        runs.append(str(run))
    capsys.readouterr()
    main(["compare", *runs])  # piped (not a terminal): nothing to fit, every column kept, one row per line
    piped = capsys.readouterr().out
    header = next(line for line in piped.splitlines() if "Metric" in line)
    assert all(name in header for name in ("Base", "New", "MDE", "95% CI", " p ")) and "left out" not in piped
    monkeypatch.setenv("COLUMNS", "80")  # an 80-column terminal
    main(["compare", *runs])
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if "Metric" in line)
    assert all(name in header for name in ("Metric", "Subset", "Delta", "95% CI", " p ", "Verdict"))
    assert max(len(line) for line in out.splitlines()) <= 80
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert all(line.split("│")[1].strip() for line in rows)  # no row continues a wrapped name: every row names its metric
