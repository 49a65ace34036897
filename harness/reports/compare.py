"""`harness compare BASE NEW [...]`: paired comparison of finished runs, and a regression gate.

For every task, metric and subset (plus OVERALL, pooled, when a task has several subsets) the
runs are compared on the samples both hold (matched by sample key); samples present in only one
run are counted and reported, never silently dropped. A row is a regression when the metric drops
by at least `min_delta` with p < `alpha`, an improvement when it rises likewise.

Every row also says what it could have seen: `mde`, the smallest difference its test detects with
80% power at its n and alpha (harness.metrics.power). Where a headline row (OVERALL, or a task's only
subset) cannot see a drop of `min_delta`, the comparison says so in one line per row ("n=12 can only
detect drops >= 0.58; add samples"), and `--require-power` fails the gate on it: "0 regressions" on
such a set means "too small to tell", not "no regression".
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import UserError
from harness.metrics.paired import paired_compare
from harness.metrics.power import bootstrap_mde, mcnemar_mde
from harness.reports.scores import describe_run, run_label
from harness.runs.record import SampleRecord
from harness.runs.results_file import load_results
from harness.runs.samples import load_samples

__all__ = ["CompareRow", "Comparison", "compare_runs", "paired_rows"]


@dataclass(frozen=True)
class CompareRow:
    """One metric on one subset: base vs new on shared samples."""

    run: str
    task: str
    metric: str
    subset: str
    n: int
    base: float
    new: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    test: str
    verdict: str
    mde: float = math.nan  # smallest difference this row's test detects with 80% power; nan: no variation to tell
    discordance: float | None = None  # 0/1 metrics: the share of pairs on which the runs disagree (what McNemar's power turns on)


def _label(run_dir: Path) -> str:
    return run_label(run_dir)


def _content_hash(rec: SampleRecord) -> str:
    """The record's question hash; records written before hashes existed get one from their prompt and reference."""
    return str(rec.get("hash") or hashlib.sha256(json.dumps([rec.get("messages"), rec.get("reference")]).encode()).hexdigest()[:16])


@dataclass
class Comparison:
    """Rows for every run against the base, notes on what was not compared, and tasks a new run lacks."""

    rows: list[CompareRow]
    notes: list[str]
    missing_tasks: list[tuple[str, str]]
    runs: list[tuple[str, str]] = field(default_factory=list)  # (label, what the run is), the base first
    pairs: dict[str, int] = field(default_factory=dict)  # "label: task/metric" -> pairs compared
    unmeasured: list[str] = field(default_factory=list)  # metrics of the base with no pair in a new run, and why
    min_delta: float = 0.01

    def underpowered(self) -> list[str]:
        """One line per headline row (OVERALL, or a task's only subset) that cannot detect a drop of `min_delta`."""
        single = {(r.run, r.task) for r in self.rows if r.subset == "OVERALL"}
        lines = []
        for r in self.rows:
            if (r.subset == "OVERALL" or (r.run, r.task) not in single) and not r.mde <= self.min_delta:
                seen = "no variation to size a drop from" if math.isnan(r.mde) else f"finds drops of {r.mde:.2g} or more 80% of the time"
                lines.append(f"{r.run}: {r.task}/{r.metric} {r.subset}: with n={r.n} the test {seen}, not drops of min delta "
                             f"{self.min_delta:g}; add samples")  # fmt: skip
        return lines

    def explained(self) -> list[str]:
        """One sentence per significant change smaller than its row's MDE: both are right, and this says why."""
        return [f"{r.run}: {r.task}/{r.metric} {r.subset}: the change of {r.delta:+.3g} is significant (p = {r.p_value:.2g}) though "
                f"smaller than the MDE {r.mde:.2g}: the MDE is the change the test finds 80% of the time at this n; smaller ones "
                "are found less often, and this one was" for r in self.rows
                if r.verdict != "-" and not math.isnan(r.mde) and abs(r.delta) < r.mde]  # fmt: skip

    def gate_reasons(self, *, allow_missing_tasks: bool = False, require_power: bool = False) -> list[str]:
        """Every reason the regression gate fails; empty when it passes. A gate never passes on nothing compared."""
        reasons = [f"{r.run}: {r.task}/{r.metric} {r.subset} dropped {r.delta:+.4f} (p = {r.p_value:.3g})" for r in self.rows
                   if r.verdict == "regression"]  # fmt: skip
        reasons += self.unmeasured
        if self.missing_tasks and not allow_missing_tasks:
            reasons += [f"{label}: task {task} of the base is missing (see the note for the command that makes them comparable, or "
                        "pass --allow-missing-tasks)" for label, task in self.missing_tasks]  # fmt: skip
        if require_power:
            reasons += self.underpowered()
        return reasons

    def failed_gate(self, *, allow_missing_tasks: bool = False, require_power: bool = False) -> bool:
        """A regression, a metric of the base with nothing compared, a missing task (unless allowed), an underpowered row (if required)."""
        return bool(self.gate_reasons(allow_missing_tasks=allow_missing_tasks, require_power=require_power))


def _pair(base: dict[str, SampleRecord], new: dict[str, SampleRecord], label: str, *, skip_changed: bool) -> tuple[list[str], list[str]]:
    """Keys to compare (same key, same question) and notes; a UserError when the runs are not comparable."""
    shared = [k for k in base if k in new]
    legacy = any("hash" not in base[k] or "hash" not in new[k] for k in shared)
    # The question itself, not the prompt, when both runs record it: runs that differ only in scoring or shots compare.
    by_question = all("question_hash" in base[k] and "question_hash" in new[k] for k in shared)

    def same(a: SampleRecord, b: SampleRecord) -> bool:
        if by_question:
            return a.get("question_hash") == b.get("question_hash")
        return _content_hash(a) == _content_hash(b) if legacy else a.get("hash") == b.get("hash")

    changed = [k for k in shared if not same(base[k], new[k])]
    matched = [k for k in shared if k not in set(changed)] if changed else shared
    if not shared:
        raise UserError(
            f"{label}: nothing to compare with the base run (no sample key is in both); compare runs of the same tasks and data"
        )
    if changed and (not skip_changed or not matched):
        raise UserError(
            f"{label}: {len(changed)} of {len(shared)} shared samples are different questions under the same key (first: {changed[0]}); "
            "the data changed between the runs: re-run the base on the same data, or pass --skip-changed to compare the rest"
        )
    notes = []
    only_base, only_new = len(base) - len(shared), len(new) - len(shared)
    if only_base or only_new or changed:
        notes.append(
            f"{label}: not compared: {only_base} samples only in the base run, {only_new} only in this run"
            + (f", {len(changed)} changed questions" if changed else "")
        )
    return matched, notes


def compare_runs(
    base_dir: Path,
    new_dirs: list[Path],
    *,
    alpha: float = 0.05,
    min_delta: float = 0.01,
    seed: int = 0,
    skip_changed: bool = False,
) -> Comparison:
    """Compare each new run with the base on the samples that are the same question in both.

    Refuses (UserError) runs that share no sample, or that hold different questions under the
    same keys (unless `skip_changed`); notes what was left out; lists tasks of the base that a
    new run lacks entirely, which fail the gate unless the caller allows them.
    """
    base_results = load_results(base_dir)
    base = load_samples(base_dir)
    if not base:
        raise UserError(f"{base_dir}: the base run holds no samples; nothing to compare")
    result = Comparison([], [], [], runs=[(f"Base {_label(base_dir)}", describe_run(base_results, base_dir))], min_delta=min_delta)
    base_tasks = list(dict.fromkeys([*base_results["tasks"], *(r["task"] for r in base.values())]))
    for new_dir in new_dirs:
        new_results = load_results(new_dir)
        new = load_samples(new_dir)
        label = _label(new_dir)
        if not new:
            raise UserError(f"{new_dir}: the run holds no samples; nothing to compare")
        result.runs.append((f"New {label}", describe_run(new_results, new_dir)))
        rows, notes = paired_rows(base, new, label, alpha=alpha, min_delta=min_delta, seed=seed, skip_changed=skip_changed)
        result.rows += rows
        result.notes += notes
        result.pairs.update({f"{label}: {k}": n for k, n in _pair_counts(base, new, label).items()})
        new_tasks = {*new_results["tasks"], *(r["task"] for r in new.values())}
        for metric, n in _pair_counts(base, new, label).items():
            if n == 0 and metric.split("/")[0] in new_tasks:  # a task missing entirely is a missing task (below)
                result.unmeasured.append(f"{label}: {metric} has no comparable pair (no sample scored in both runs: failed samples "
                                         "or failed judgements); nothing was compared")  # fmt: skip
        for task in base_tasks:
            if task not in new_tasks:
                result.missing_tasks.append((label, task))
                result.notes.append(
                    f"{label}: task {task} of the base run is missing from this run; {_same_tasks(base_dir, base_results, new_tasks)}"
                )
    return result


def _same_tasks(base_dir: Path, base_results: Any, new_tasks: set[str]) -> str:
    """The command that makes the base comparable: the base evaluated on exactly the new run's datasets."""
    datasets = " ".join(sorted(new_tasks))
    target = f"{base_dir}-{'-'.join(sorted(new_tasks))}"
    if (base_dir / "config.yaml").is_file():
        command = f"harness eval --config {base_dir / 'config.yaml'} --datasets {datasets} --run-dir {target}"
    else:
        command = f"harness eval --model {base_results['model']['name']} --datasets {datasets} --run-dir {target}"
    return f"to compare like with like, evaluate the base on the same datasets ({command}), or pass --allow-missing-tasks"


def _pair_counts(base: dict[str, SampleRecord], new: dict[str, SampleRecord], label: str) -> dict[str, int]:
    """Per task/metric that the base scored, how many samples are scored in both runs (same key)."""
    counts: dict[str, int] = {}
    for key, a in base.items():
        b = new.get(key)
        for metric, value in a["scores"].items():
            if value is None:
                continue
            name = f"{a['task']}/{metric}"
            both = b is not None and b["task"] == a["task"] and b["scores"].get(metric) is not None
            counts[name] = counts.get(name, 0) + both
    return counts


def paired_rows(
    base: dict[str, SampleRecord],
    new: dict[str, SampleRecord],
    label: str,
    *,
    alpha: float = 0.05,
    min_delta: float = 0.01,
    seed: int = 0,
    skip_changed: bool = False,
) -> tuple[list[CompareRow], list[str]]:
    """Paired tests of one run against the base on the samples that are the same question in both, and notes.

    Raises UserError when the two runs share no question, or (unless `skip_changed`) hold different questions under the same keys.
    """
    keys, notes = _pair(base, new, label, skip_changed=skip_changed)
    return _rows(base, new, keys, label, alpha=alpha, min_delta=min_delta, seed=seed), notes


def _rows(
    base: dict[str, SampleRecord],
    new: dict[str, SampleRecord],
    keys: list[str],
    label: str,
    *,
    alpha: float,
    min_delta: float,
    seed: int,
) -> list[CompareRow]:
    groups: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    subsets: dict[str, set[str]] = defaultdict(set)
    for key in keys:
        a, b = base[key], new[key]
        subsets[a["task"]].add(a["subset"])
        for metric in a["scores"]:
            if a["scores"][metric] is not None and b["scores"].get(metric) is not None:  # both scored (no failed judgement)
                groups[(a["task"], metric, a["subset"])].append(key)
                groups[(a["task"], metric, "OVERALL")].append(key)
    rows = []
    for (task, metric, subset), group in groups.items():
        if subset == "OVERALL" and len(subsets[task]) < 2:
            continue
        x = [float(base[k]["scores"][metric] or 0.0) for k in group]  # never None: groups hold scored pairs only
        y = [float(new[k]["scores"][metric] or 0.0) for k in group]
        res = paired_compare(x, y, seed, alpha=alpha)  # its interval is at level 1 - alpha: it excludes 0 iff p < alpha
        significant = res.p_value < alpha and abs(res.delta) >= min_delta
        verdict = ("regression" if res.delta < 0 else "improvement") if significant else "-"
        rows.append(
            CompareRow(
                label,
                task,
                metric,
                subset,
                res.n,
                res.base,
                res.new,
                res.delta,
                res.ci_low,
                res.ci_high,
                res.p_value,
                res.test,
                verdict,
                mde=_mde(x, y, res.test, alpha),
                discordance=sum(a != b for a, b in zip(x, y, strict=True)) / len(x) if res.test == "mcnemar" and x else None,
            )
        )
    return rows


def _mde(x: list[float], y: list[float], test: str, alpha: float) -> float:
    """The smallest difference this row's test detects with 80% power at its n (harness.metrics.power).

    McNemar: at the discordance the two runs show. Bootstrap: at the spread of the per-sample
    differences, or, when the runs agree on every sample, at the spread two independent runs
    with these scores would show; nan when there is no spread at all to size from.
    """
    n = len(x)
    if test == "mcnemar":
        return mcnemar_mde(n, sum(a != b for a, b in zip(x, y, strict=True)) / n, alpha)
    sd = statistics.pstdev([b - a for a, b in zip(x, y, strict=True)]) if n > 1 else 0.0
    if sd == 0.0 and n > 1:
        sd = math.sqrt(statistics.pvariance(x) + statistics.pvariance(y))
    return bootstrap_mde(n, sd, alpha) if sd > 0 else math.nan
