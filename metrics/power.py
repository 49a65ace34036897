"""What a paired comparison can see: the smallest difference it detects with 80% power, and the n a difference needs.

A gate that reports "0 regressions" on 12 questions has not shown that nothing regressed; it could
not have seen a drop smaller than about a third. These functions size that blind spot for the two
tests `harness.metrics.paired` runs, so `compare` can say it and `harness power` can size a set.

- McNemar (0/1 metrics), exact and conditional on the discordant count, as `paired_compare` runs it.
  With discordance psi (the share of samples that one run gets right and the other wrong) and a
  true difference delta, the discordant count is Binomial(n, psi) and, given d of them, the count
  favouring the new run is Binomial(d, (psi + delta) / (2 psi)). Power sums, over d, the chance that
  the exact test rejects (p < alpha) -- computed exactly, not by a normal approximation, since the
  sets where it matters are small. psi is the observed discordance when a comparison has one, never
  less than |delta| (a difference needs at least that many discordant samples).
- Bootstrap (BLEU, ROUGE, judge means): the normal approximation the percentile bootstrap tends to,
  (z(1 - alpha/2) + z(power)) * sd / sqrt(n), with sd the standard deviation of the per-sample
  differences.

Both are checked by simulation in tests/test_power.py: a planted difference of the stated size is
detected about 80% of the time.

Every answer comes in bounded time, whatever the numbers: the exact McNemar search runs up to
`EXACT_LIMIT` pairs, and beyond it (where the exact test and its normal approximation agree within
1%) the closed-form normal approximation is used and said (`Size.exact`); a set that would need
more than `MAX_N` pairs, or an alpha, sd or delta no float can carry, is one line, never a traceback.

>>> round(mcnemar_mde(12, 0.25), 2)  # 12 questions: only a drop of more than half is seen 80% of the time
0.58
>>> mcnemar_n(0.05, 0.1)
337
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist

from harness.core.errors import UserError
from harness.metrics.paired import _betainc

__all__ = ["EXACT_LIMIT", "MAX_N", "POWER", "Size", "bootstrap_mde", "bootstrap_n", "mcnemar_mde", "mcnemar_n", "mcnemar_power",
           "mcnemar_size"]  # fmt: skip

POWER = 0.8
EXACT_LIMIT = 10_000  # pairs: the exact search's bound (about a second); the normal approximation beyond it
MAX_N = 10**12
_Z = NormalDist()


def _upper(tail: float) -> float:
    """The normal quantile with `tail` probability above it; exact for tails down to the smallest float (1 - tail would round to 1)."""
    return -_Z.inv_cdf(max(tail, 5e-324))  # alpha / 2 of the smallest alpha underflows to 0


@dataclass(frozen=True)
class Size:
    """The pairs a difference needs, and whether the exact test's search found it (else the normal approximation)."""

    n: int
    exact: bool


def _too_many(delta: float, what: str) -> UserError:
    return UserError(f"a difference of {delta:g} needs more than {MAX_N:.0e} pairs ({what}); no evaluation set is that large: "
                     "size for a larger difference")  # fmt: skip


def _normal_mcnemar_n(delta: float, psi: float, alpha: float, power: float) -> float:
    """Connor's normal approximation to the pairs the McNemar test needs (inf when no float holds it)."""
    root = _upper(alpha / 2) * math.sqrt(psi) + _upper(1 - power) * math.sqrt(max(psi - delta * delta, 0.0))
    ratio = root / delta
    return ratio * ratio


def _binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    return _betainc(n - k, k + 1, 1.0 - p)


@lru_cache(maxsize=100_000)
def _critical(d: int, alpha: float) -> int:
    """The largest k for which the exact McNemar test on d discordant pairs rejects when min(b, c) = k (p < alpha); -1 if none."""
    lo, hi = -1, d // 2
    while lo < hi:  # 2 * P(X <= k) grows with k: bisect for the last k where it is below alpha
        mid = (lo + hi + 1) // 2
        if 2 * _binom_cdf(mid, d, 0.5) < alpha:
            lo = mid
        else:
            hi = mid - 1
    return lo


def mcnemar_power(n: int, delta: float, discordance: float, alpha: float = 0.05) -> float:
    """Chance that the exact McNemar test rejects on n pairs when the true difference is `delta`."""
    delta = abs(delta)
    psi = min(1.0, max(discordance, delta))
    if n <= 0 or psi <= 0.0:
        return 0.0
    q = 0.5 + delta / (2 * psi)  # share of discordant pairs favouring the better run
    mean, sd = n * psi, math.sqrt(n * psi * (1 - psi))
    lo, hi = max(0, int(mean - 8 * sd) - 1), min(n, int(mean + 8 * sd) + 2)
    total = 0.0
    for d in range(lo, hi + 1):
        k = _critical(d, alpha)
        if k < 0:
            continue
        # Rejected when the worse run's count is <= k: mostly the tail on the side of the difference.
        reject = _binom_cdf(k, d, q) + (1.0 - _binom_cdf(d - k - 1, d, q))
        total += _binom_pmf(d, n, psi) * reject
    return min(1.0, total)


def _binom_pmf(k: int, n: int, p: float) -> float:
    if p <= 0.0:
        return 1.0 if k == 0 else 0.0
    if p >= 1.0:
        return 1.0 if k == n else 0.0
    log = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p) + (n - k) * math.log1p(-p)
    return math.exp(log)


def mcnemar_mde(n: int, discordance: float, alpha: float = 0.05, power: float = POWER) -> float:
    """The smallest difference in accuracy the exact McNemar test detects with `power` on n pairs (1.0: none it can).

    Beyond `EXACT_LIMIT` pairs, the difference whose normal-approximation size is n (bisection on a closed form).
    """
    if n > EXACT_LIMIT:
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = (lo + hi) / 2
            if mid > 0 and _normal_mcnemar_n(mid, min(1.0, max(discordance, mid)), alpha, power) <= n:
                hi = mid
            else:
                lo = mid
        return hi
    if mcnemar_power(n, 1.0, 1.0, alpha) < power:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(30):
        mid = (lo + hi) / 2
        if mcnemar_power(n, mid, discordance, alpha) >= power:
            hi = mid
        else:
            lo = mid
    return hi


def mcnemar_size(delta: float, discordance: float, alpha: float = 0.05, power: float = POWER) -> Size:
    """The fewest pairs on which the exact McNemar test detects `delta` with `power` (see the module docstring)."""
    if not 0 < abs(delta) <= 1:
        raise UserError(f"the difference must be in (0, 1], got {delta:g}")
    delta = abs(delta)
    psi = min(1.0, max(discordance, delta))
    approx = _normal_mcnemar_n(delta, psi, alpha, power)
    if not approx <= MAX_N:  # inf or nan included
        raise _too_many(delta, f"discordance {psi:g}, alpha {alpha:g}")
    if approx > EXACT_LIMIT:
        return Size(max(2, math.ceil(approx)), exact=False)
    hi = 8
    while mcnemar_power(hi, delta, psi, alpha) < power:
        hi *= 2
        if hi > 4 * EXACT_LIMIT:
            return Size(max(2, math.ceil(approx)), exact=False)
    lo = hi // 2
    while lo + 1 < hi:  # power is not quite monotone in n (exact tests saw-tooth); the first n that reaches it
        mid = (lo + hi) // 2
        if mcnemar_power(mid, delta, psi, alpha) >= power:
            hi = mid
        else:
            lo = mid
    return Size(hi, exact=True)


def mcnemar_n(delta: float, discordance: float, alpha: float = 0.05, power: float = POWER) -> int:
    """The fewest pairs on which the McNemar test detects `delta` with `power` (`mcnemar_size`'s n)."""
    return mcnemar_size(delta, discordance, alpha, power).n


def bootstrap_mde(n: int, sd: float, alpha: float = 0.05, power: float = POWER) -> float:
    """The smallest mean difference a paired test of n pairs detects with `power`, per-sample differences having sd `sd`."""
    if n <= 0:
        return math.inf
    return (_upper(alpha / 2) + _upper(1 - power)) * sd / math.sqrt(n)


def bootstrap_n(delta: float, sd: float, alpha: float = 0.05, power: float = POWER) -> int:
    """The fewest pairs on which a mean difference `delta` is detected with `power`."""
    if delta == 0:
        raise UserError("the difference to detect must not be 0")
    ratio = (_upper(alpha / 2) + _upper(1 - power)) * sd / abs(delta)  # a product, never `**`: inf, not an OverflowError
    n = ratio * ratio
    if not n <= MAX_N:
        raise _too_many(abs(delta), f"sd {sd:g}, alpha {alpha:g}")
    return max(2, math.ceil(n))
