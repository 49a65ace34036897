"""A gate that knows what it can see: minimum detectable differences, checked by simulation, in `compare` and `harness power`.

The simulations plant a difference of exactly the stated size and run the same tests `compare`
runs (`paired_compare`): it must be detected (p < alpha) about 80% of the time.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys

import numpy as np
import pytest
from conftest import EXAMPLE, SHARED_DATA, TEST_DATA

from harness.cli.main import main
from harness.metrics.paired import paired_compare
from harness.metrics.power import bootstrap_mde, bootstrap_n, mcnemar_mde, mcnemar_n, mcnemar_power

EXAMPLE_MCQ = {"general_mcq": {"local_path": str(EXAMPLE), "subset_list": ["example"]}}


def planted_pairs(rng: random.Random, n: int, discordance: float, delta: float) -> tuple[list[float], list[float]]:
    """n paired 0/1 outcomes: a share `discordance` disagree, and the base wins `delta` more of them than the new run."""
    q = 0.5 + delta / (2 * discordance)
    base, new = [], []
    for _ in range(n):
        if rng.random() < discordance:
            won = rng.random() < q
            base.append(1.0 if won else 0.0)
            new.append(0.0 if won else 1.0)
        else:
            same = float(rng.random() < 0.6)
            base.append(same)
            new.append(same)
    return base, new


@pytest.mark.parametrize(("n", "discordance"), [(12, 0.25), (200, 0.2), (1000, 0.08)])
def test_a_drop_of_the_mcnemar_mde_is_detected_80_percent_of_the_time(n, discordance):
    mde = mcnemar_mde(n, discordance)
    rng = random.Random(n)
    sims = 1000
    hits = sum(paired_compare(*planted_pairs(rng, n, max(discordance, mde), mde)).p_value < 0.05 for _ in range(sims))
    assert abs(hits / sims - 0.8) < 0.05, (mde, hits)
    # Half that drop is seen far less often: the figure is not a loose bound.
    half = sum(paired_compare(*planted_pairs(rng, n, max(discordance, mde), mde / 2)).p_value < 0.05 for _ in range(300))
    assert half / 300 < 0.6


def test_a_drop_of_the_bootstrap_mde_is_detected_80_percent_of_the_time():
    n, sd = 100, 0.2
    mde = bootstrap_mde(n, sd)
    rng = np.random.default_rng(0)
    sims = 300
    hits = 0
    for seed in range(sims):
        base = rng.uniform(0.2, 0.8, n)
        new = base - mde + rng.normal(0, sd, n)
        hits += paired_compare(base.tolist(), new.tolist(), seed=seed).p_value < 0.05
    assert abs(hits / sims - 0.8) < 0.08, (mde, hits)


def test_sample_sizes_reach_the_power_they_promise():
    for delta, psi in [(0.05, 0.1), (0.02, 0.2), (0.1, 0.3)]:
        n = mcnemar_n(delta, psi)
        assert mcnemar_power(n, delta, psi) >= 0.8 > mcnemar_power(n // 2, delta, psi)
    assert bootstrap_n(0.01, 0.15) == math.ceil(((1.959964 + 0.841621) * 0.15 / 0.01) ** 2)


def two_runs(tmp_path, dataset_args: dict) -> tuple[str, str]:
    dirs = []
    for model in ("hash", "first"):
        run_dir = str(tmp_path / model)
        args = ["eval", "--backend", "fake", "--model", model, "--datasets", "general_mcq", "--dataset-args", json.dumps(dataset_args)]
        assert main([*args, "--run-dir", run_dir]) == 0
        dirs.append(run_dir)
    return dirs[0], dirs[1]


def test_compare_on_the_12_question_example_says_it_cannot_see_small_drops(tmp_path, capsys):
    base, new = two_runs(tmp_path, EXAMPLE_MCQ)
    capsys.readouterr()
    assert main(["compare", base, new]) == 0  # without --require-power the line informs, it does not fail
    out = capsys.readouterr().out
    assert "with n=12 the test finds drops of 0.5" in out and "80% of the time" in out and "add samples" in out
    assert main(["compare", base, new, "--require-power"]) == 1
    assert "gate failed: first: general_mcq/acc example: with n=12 the test finds drops of" in capsys.readouterr().err
    assert main(["compare", base, new, "--format", "json"]) == 0
    body = json.loads(capsys.readouterr().out)
    (row,) = body["rows"]
    assert row["mde"] > 0.4 and row["n"] == 12
    assert body["underpowered"] and "n=12" in body["underpowered"][0]
    assert main(["compare", base, new, "--format", "md"]) == 0
    header = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| Run"))
    assert "MDE" in header


def test_require_power_passes_where_the_set_is_large_enough(tmp_path, capsys):
    base, new = two_runs(tmp_path, {"general_mcq": {"local_path": str(TEST_DATA / "arc_easy_100")}})
    capsys.readouterr()
    assert main(["compare", base, new, "--require-power", "--min-delta", "0.3"]) == 0
    assert main(["compare", base, new, "--require-power", "--min-delta", "0.05"]) == 1  # 100 questions cannot see 0.05


@pytest.mark.acceptance
def test_require_power_on_2376_arc_questions_passes_at_min_delta_005(tmp_path, capsys):
    base, new = two_runs(tmp_path, {"general_mcq": {"local_path": str(SHARED_DATA / "arc_easy")}})
    assert main(["compare", base, new, "--require-power", "--min-delta", "0.05"]) == 0


def test_power_command_sizes_a_set(capsys):
    assert main(["power", "--metric", "acc", "--discordance", "0.1", "--delta", "0.05"]) == 0
    assert f"n >= {mcnemar_n(0.05, 0.1)} questions" in capsys.readouterr().out
    assert main(["power", "--metric", "rougeL_f", "--delta", "0.01", "--sd", "0.15"]) == 0
    assert f"n >= {bootstrap_n(0.01, 0.15)} questions" in capsys.readouterr().out
    proc = subprocess.run([sys.executable, "-m", "harness", "power", "--metric", "bleu", "--delta", "0.01"], capture_output=True, text=True)
    assert proc.returncode == 2 and "pass --sd" in proc.stderr and "Traceback" not in proc.stderr


def test_a_significant_change_below_the_mde_is_explained_and_discordance_is_shown(tmp_path, capsys):
    from harness.reports.compare import CompareRow, Comparison

    row = CompareRow("new", "general_mcq", "acc", "OVERALL", 62, 0.61, 0.48, -0.129, -0.23, -0.03, 0.012, "mcnemar", "regression",
                     mde=0.16, discordance=0.2)  # fmt: skip
    (line,) = Comparison([row], [], []).explained()
    assert "-0.129 is significant (p = 0.012) though smaller than the MDE 0.16" in line and "80% of the time" in line
    assert Comparison([replace_delta(row, -0.2)], [], []).explained() == []  # above its MDE: nothing to explain
    base, new = two_runs(tmp_path, EXAMPLE_MCQ)
    capsys.readouterr()
    assert main(["compare", base, new, "--format", "json"]) == 0
    (json_row,) = json.loads(capsys.readouterr().out)["rows"]
    assert 0 < json_row["discordance"] <= 1
    assert main(["compare", base, new]) == 0 and "Disc." in capsys.readouterr().out
    assert main(["power", "--runs", base, new, "--delta", "0.05"]) == 0
    out = capsys.readouterr().out
    assert f"discordance {json_row['discordance']:.3g} (measured on 12 questions both runs scored)" in out


def replace_delta(row, delta):
    from dataclasses import replace

    return replace(row, delta=delta)
