"""Every metric, self-described: its name, kind, what it reads from a sample record, and what it is checked against.

The one place a metric name is looked up. The plan checks the names a dataset asks for here; the engine picks
the per-sample, corpus, module and judge metrics by kind; `harness list metrics` prints this table; compare and
quant-compare find the choice metrics (those whose score follows from a chosen option) and the record field
holding each one's choice. Kinds:

- `choice`: MCQ, from the option the model chose (letter, cloze or extracted from generated text).
- `sample`: QA, per sample, from the prediction and reference (harness.metrics.qa).
- `corpus`: QA, over the whole set by sacrebleu (harness.metrics.corpus).
- `module`: QA, a Hugging Face `evaluate` module (`evaluate:NAME_OR_PATH`, harness.metrics.hf_evaluate).
- `judge`: QA, an LLM judge's verdict (harness.engine.judge).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["DEFAULT_QA_METRICS", "EVALUATE_PREFIX", "JUDGE_METRIC", "METRICS", "MetricInfo", "MetricKind", "all_metrics",
           "choice_metrics", "metric_info", "names_of"]  # fmt: skip

MetricKind = Literal["choice", "sample", "corpus", "module", "judge"]
JUDGE_METRIC = "judge"
EVALUATE_PREFIX = "evaluate:"  # light on purpose: `harness --help` reads this registry and must not import numpy


@dataclass(frozen=True)
class MetricInfo:
    """One metric: see the module docstring."""

    name: str
    kind: MetricKind
    description: str
    reads: tuple[str, ...]  # the sample record's fields it is computed from
    reference: str  # the independent implementation the tests check it against
    default: bool = False  # asked for when a dataset names no metrics
    binary: bool = False  # each sample scores 0 or 1, saying whether the answer is right (the HTML page's column)

    @property
    def task(self) -> str:
        """The format it scores."""
        return "general_mcq" if self.kind == "choice" else "general_qa"

    @property
    def choice_field(self) -> str | None:
        """For a choice metric, the record field holding the chosen option(s); None for others.

        >>> METRICS["acc_norm"].choice_field, METRICS["bleu"].choice_field
        ('chosen_norm', None)
        """
        return self.reads[0] if self.kind == "choice" else None


_ENTRIES = (
    MetricInfo("acc", "choice", "accuracy: the chosen option (letter, cloze or extracted from generated text) is the answer; "
               "Wilson interval", ("chosen", "answer"), "lm-eval's acc per sample (tests/test_acceptance_lmeval.py)", binary=True),
    MetricInfo("acc_norm", "choice", "cloze only: the option with the highest log-likelihood per character, as lm-eval's acc_norm",
               ("chosen_norm", "answer"), "lm-eval's acc_norm per sample (tests/test_acceptance_lmeval.py)", binary=True),
    MetricInfo("mc2", "choice", "several correct options: the probability mass on the correct ones, as lm-eval's truthfulqa_mc2",
               ("option_logprobs", "answer"), "lm-eval's truthfulqa_mc2 per sample (tests/test_acceptance_lmeval.py)"),
    MetricInfo("bleu", "sample", "BLEU-1..4 per sample, EvalScope's variant (jieba words for Chinese, nltk sentence_bleu, no smoothing)",
               ("prediction", "reference"), "EvalScope's recorded values and nltk (tests/test_metrics_reference.py)", default=True),
    MetricInfo("rouge", "sample", "ROUGE-1/2/L recall, precision, F1 per sample (rouge_chinese on jieba words for CJK, Google rouge-score "
               "otherwise)", ("prediction", "reference"), "rouge-score and EvalScope (tests/test_metrics_reference.py)", default=True),
    MetricInfo("exact_match", "sample", "1 when the normalised prediction equals the reference", ("prediction", "reference"),
               "hand computation (tests/test_metrics_edges.py)", binary=True),
    MetricInfo("contains", "sample", "1 when the normalised prediction contains the reference", ("prediction", "reference"),
               "hand computation (tests/test_metrics_edges.py)", binary=True),
    MetricInfo("numeric_match", "sample", "1 when the last number in the prediction equals the reference's last number",
               ("prediction", "reference"), "hand computation (tests/test_metrics_edges.py)", binary=True),
    MetricInfo("strict_match", "sample", "GSM8K: the first '#### N' of the answer equals the reference's, as lm-eval's strict-match",
               ("prediction", "reference"), "lm-eval's regex on recorded outputs (tests/test_gsm8k_extract.py)", binary=True),
    MetricInfo("flexible_extract", "sample", "GSM8K: the last number in the answer equals the reference's '#### N', as lm-eval's "
               "flexible-extract", ("prediction", "reference"), "lm-eval's regex on recorded outputs (tests/test_gsm8k_extract.py)",
               binary=True),
    MetricInfo("sacrebleu", "corpus", "corpus BLEU by sacrebleu (0-100; tokenizer zh for Chinese, 13a otherwise), signature reported, "
               "bootstrap interval", ("prediction", "reference"), "sacrebleu itself (tests/test_sacrebleu_metrics.py)"),
    MetricInfo("chrf", "corpus", "corpus chrF by sacrebleu (0-100, character 6-grams), signature reported, bootstrap interval",
               ("prediction", "reference"), "sacrebleu itself (tests/test_sacrebleu_metrics.py)"),
    MetricInfo(JUDGE_METRIC, "judge", "an LLM judge's score mapped to 0-1 (dataset arg judge_args: server, model, template, scale); "
               "failed judgements counted", ("messages", "reference", "prediction"), "a fake judge server (tests/test_judge.py)"),
)  # fmt: skip
METRICS: dict[str, MetricInfo] = {m.name: m for m in _ENTRIES}
DEFAULT_QA_METRICS = tuple(m.name for m in _ENTRIES if m.default)
_MODULE = MetricInfo(
    "evaluate:NAME_OR_PATH", "module",
    "a Hugging Face evaluate module (local script, or cached hub name; never downloaded) over the whole set; each value it returns "
    "is a row, bootstrap interval, script hash in the run identity", ("prediction", "reference"),
    "the module run directly (tests/test_evaluate_metric.py)",
)  # fmt: skip


def metric_info(name: str) -> MetricInfo | None:
    """The metric of a name a dataset asks for, or None when there is none (`evaluate:` names are modules).

    >>> metric_info("rouge").kind, metric_info("evaluate:./my_metric.py").kind, metric_info("blue")
    ('sample', 'module', None)
    """
    return _MODULE if name.startswith(EVALUATE_PREFIX) else METRICS.get(name)


def choice_metrics() -> dict[str, str]:
    """Each choice metric -> the record field holding its choice (mc2 scores the mass, not one choice: left out).

    >>> choice_metrics()
    {'acc': 'chosen', 'acc_norm': 'chosen_norm'}
    """
    return {m.name: m.reads[0] for m in _ENTRIES if m.kind == "choice" and m.reads[0].startswith("chosen")}


def names_of(metrics: Sequence[str], *kinds: MetricKind) -> tuple[str, ...]:
    """The names among `metrics` of the given kinds, in their order.

    >>> names_of(["bleu", "sacrebleu", "evaluate:x", "judge"], "corpus", "module")
    ('sacrebleu', 'evaluate:x')
    """
    return tuple(m for m in metrics if (info := metric_info(m)) is not None and info.kind in kinds)


def all_metrics() -> tuple[MetricInfo, ...]:
    """Every entry, the `evaluate:` form last (what `harness list metrics` prints)."""
    return (*_ENTRIES, _MODULE)
