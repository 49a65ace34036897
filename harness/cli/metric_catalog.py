"""Every metric by name, for `harness list metrics`: what it scores and how it is computed."""

from __future__ import annotations

from harness.engine.judge import JUDGE_METRIC
from harness.metrics.corpus import CORPUS_METRICS
from harness.metrics.qa import METRIC_INFO

__all__ = ["metric_rows"]

_MCQ = {
    "acc": "accuracy: the chosen option (letter, cloze or extracted from generated text) is the answer; Wilson interval",
    "acc_norm": "cloze only: the option with the highest log-likelihood per character, as lm-eval's acc_norm",
}
_CORPUS = {
    "sacrebleu": "corpus BLEU by sacrebleu (0-100; tokenizer zh for Chinese, 13a otherwise), signature reported, bootstrap interval",
    "chrf": "corpus chrF by sacrebleu (0-100, character 6-grams), signature reported, bootstrap interval",
}
_EVALUATE = (
    "a Hugging Face evaluate module (local script, or cached hub name; never downloaded) over the whole set; "
    "each value it returns is a row, bootstrap interval, script hash in the run identity"
)
_JUDGE = "an LLM judge's score mapped to 0-1 (dataset arg judge_args: server, model, template, scale); failed judgements counted"


def metric_rows() -> list[list[str]]:
    """[name, for, description] for every metric."""
    assert set(_CORPUS) == set(CORPUS_METRICS)
    rows = [[name, "general_mcq", text] for name, text in _MCQ.items()]
    rows += [[name, "general_qa (default)" if name in ("bleu", "rouge") else "general_qa", text] for name, text in METRIC_INFO.items()]
    rows += [[name, "general_qa", text] for name, text in _CORPUS.items()]
    rows.append([JUDGE_METRIC, "general_qa", _JUDGE])
    rows.append(["evaluate:NAME_OR_PATH", "general_qa", _EVALUATE])
    return rows
