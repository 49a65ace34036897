"""`harness power`: how many questions a set needs to detect a difference, before you build or run it.

    harness power --metric acc --base 0.6 --delta 0.02
    harness power --metric rougeL_f --delta 0.01 --sd 0.15

0/1 metrics (acc, acc_norm, exact match) are sized for the exact McNemar test `compare` runs, at
a discordance (the share of questions one model gets right and the other wrong) that `--discordance`
gives, measured from two real runs; without it, that of two independent models at these accuracies,
which is an upper bound for a fine-tune and its base (they agree more), so the n is conservative.
Other metrics are sized from the standard deviation of per-sample differences (`--sd`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.args import Help, number

NAME = "power"
BINARY = ("acc", "acc_norm", "em", "exact_match")


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """This command's flags."""
    p = sub.add_parser("power", help="how many questions a set needs to detect a difference (80%% power)", formatter_class=Help)
    p.add_argument("--metric", default="acc", help="metric to size for: acc-like (0/1) metrics use McNemar, others need --sd")
    p.add_argument("--delta", type=number(0, 1, low_open=True), required=True, help="the difference to detect (e.g. 0.02)")
    p.add_argument("--base", type=number(0, 1), default=None, help="the base run's score (0/1 metrics, without --discordance)")
    p.add_argument("--discordance", type=number(0, 1, low_open=True), default=None, help="share of questions the two runs disagree on")
    p.add_argument("--runs", type=Path, nargs=2, default=None, metavar=("BASE", "NEW"),
                   help="measure the discordance from two finished runs (the Disc. that harness compare shows) instead")  # fmt: skip
    p.add_argument("--sd", type=number(0, low_open=True), default=None, help="standard deviation of per-sample differences")
    p.add_argument("--alpha", type=number(0, 1, low_open=True, high_open=True), default=0.05, help="significance level")
    p.add_argument("--power", type=number(0, 1, low_open=True, high_open=True), default=0.8, help="chance of detecting the difference")


def run(ns: argparse.Namespace) -> int:
    """Run the command; its exit code."""
    from harness.core.errors import UserError
    from harness.metrics.power import EXACT_LIMIT, bootstrap_n, mcnemar_size

    if ns.sd is not None:
        n = bootstrap_n(ns.delta, ns.sd, ns.alpha, ns.power)
        how = f"paired bootstrap (normal approximation), per-sample differences with sd {ns.sd:g}"
    elif ns.metric in BINARY:
        if ns.runs is not None:
            psi, shared = _measured(ns.runs[0], ns.runs[1], ns.metric)
            assumed = f"measured on {shared} questions both runs scored"
        elif ns.discordance is not None:
            psi, assumed = ns.discordance, "given"
        elif ns.base is not None:
            worse = max(0.0, ns.base - ns.delta)
            psi = ns.base * (1 - worse) + worse * (1 - ns.base)
            assumed = "of two independent models; a fine-tune agrees more with its base: measure it and pass --discordance"
        else:
            raise UserError("power for a 0/1 metric needs --base (its score) or --discordance (measured from two runs)")
        if ns.delta > psi:
            raise UserError(f"a difference of {ns.delta:g} needs the runs to disagree on at least that share; --discordance is {psi:g}")
        size = mcnemar_size(ns.delta, psi, ns.alpha, ns.power)
        n = size.n
        method = "exact McNemar" if size.exact else f"normal approximation to exact McNemar (exact search up to {EXACT_LIMIT} pairs)"
        how = f"{method}, discordance {psi:.3g} ({assumed})"
    else:
        raise UserError(f"{ns.metric} is not a 0/1 metric: pass --sd, the standard deviation of its per-sample differences")
    print(f"{ns.metric}: n >= {n} questions detect a difference of {ns.delta:g} with {100 * ns.power:.6g}% power at alpha {ns.alpha:g}")
    print(f"({how})")
    return 0


def _measured(base: Path, new: Path, metric: str) -> tuple[float, int]:
    """The share of shared questions whose 0/1 `metric` differs between two runs, and how many were shared."""
    from harness.core.errors import UserError
    from harness.runs.samples import load_samples

    a, b = load_samples(base), load_samples(new)
    pairs = [(a[k]["scores"].get(metric), b[k]["scores"].get(metric)) for k in a if k in b]
    pairs = [(x, y) for x, y in pairs if x is not None and y is not None]
    if not pairs:
        raise UserError(f"--runs {base} {new}: no question scored with {metric} in both runs; compare runs of the same data")
    disagree = sum(x != y for x, y in pairs) / len(pairs)
    if disagree == 0:
        raise UserError(f"--runs {base} {new}: the runs agree on all {len(pairs)} questions ({metric}), so no difference can be sized "
                        "from them; pass --discordance")  # fmt: skip
    return disagree, len(pairs)
