"""Turn samples into backend requests, and backend answers into scored per-sample records.

MCQ modes (dataset arg `scoring`):
- `letter`: log-probability of each option letter where the answer starts; one pass per question.
- `cloze`: log-likelihood of each option text after the question; `acc` takes the highest sum,
  `acc_norm` the highest sum divided by the option text's length in characters (lm-eval's acc_norm).
- `generate`: generate, then extract the letter (`harness.engine.extract`); no answer is wrong.

With several correct options (`multiple_correct`, TruthfulQA MC2), letter and cloze give `acc` (the
most likely option is a correct one) and `mc2`: the probability mass on the correct options
(harness.metrics.truthfulqa, lm-eval's MC2); generate mode scores the exact set of letters.
QA is always generated; its answers are stored unscored and scored with the dataset's `metrics` when the run
is finalized (harness.engine.scoring), so a metric never costs an answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.backends.base import ChoiceRequest, ChoiceResult, GenerateRequest, Generation
from harness.engine.extract import extract_letters
from harness.engine.judge import JUDGE_METRIC
from harness.metrics.accuracy import is_correct
from harness.metrics.truthfulqa import mc2
from harness.tasks.sample import Sample

__all__ = ["choice_request", "generate_request", "record_choice", "record_generation"]

Record = dict[str, Any]


def choice_request(sample: Sample, mode: str) -> ChoiceRequest:
    """Letters (letter mode) or option texts (cloze mode) as the scored continuations."""
    continuations = tuple(sample.letters) if mode == "letter" else sample.choices
    return ChoiceRequest(sample.key, sample.messages, continuations, sample.answer_prefix, sample.target_delimiter, sample.chat_template)


def generate_request(sample: Sample) -> GenerateRequest:
    """A generation request; MCQ samples tell the backend which letters exist."""
    return GenerateRequest(sample.key, sample.messages, sample.chat_template, sample.letters)


def _base(sample: Sample, mode: str) -> Record:
    return {
        "key": sample.key,
        "hash": sample.content_hash,
        "question_hash": sample.question_hash,
        "task": sample.task,
        "subset": sample.subset,
        "index": sample.index,
        "id": sample.id,
        "line": sample.line,
        "category": sample.category,
        "scoring": mode,
        "messages": list(sample.messages),
        "reference": sample.reference,
    }


def _argmax(values: Sequence[float]) -> int:
    return max(range(len(values)), key=lambda i: values[i])


def record_choice(sample: Sample, result: ChoiceResult, mode: str) -> Record:
    """Score a letter or cloze answer."""
    rec = _base(sample, mode)
    if result.prompt_tokens or result.completion_tokens:  # reported by API servers; local backends count nothing here
        rec["tokens"] = {"prompt": result.prompt_tokens, "completion": result.completion_tokens}
    if result.error is not None or result.no_answer:
        rec.update(prompt=result.context, prediction=None, chosen=[], answer=list(sample.answer))
        if result.error is not None:
            # A failed request has no score: it is counted as failed, never as a wrong answer.
            rec.update(error=result.error, failed=True, scores={})
        else:
            # The model answered, but not with an option: wrong, and counted as "no answer", never guessed.
            rec.update(no_answer=True, scores={"acc": 0.0, **({"acc_norm": 0.0} if mode == "cloze" else {})})
        return rec
    lps = list(result.logprobs)
    chosen = sample.letters[_argmax(lps)]
    rec.update(prompt=result.context, prediction=chosen, chosen=[chosen], option_logprobs=lps, answer=list(sample.answer))
    if len(sample.answer) > 1:  # several correct options: the top one is among them, and the mass they hold
        true = {sample.letters.index(a) for a in sample.answer}
        rec["scores"] = {"acc": float(chosen in sample.answer), "mc2": mc2(lps, true)}
        return rec
    rec["scores"] = {"acc": is_correct([chosen], sample.answer)}
    if mode == "cloze":
        norm = [lp / max(1, len(text)) for lp, text in zip(lps, sample.choices, strict=True)]
        chosen_norm = sample.letters[_argmax(norm)]
        rec["option_logprobs_norm"] = norm
        rec["chosen_norm"] = [chosen_norm]
        rec["scores"]["acc_norm"] = is_correct([chosen_norm], sample.answer)
    return rec


def record_generation(sample: Sample, gen: Generation, mode: str, metrics: Sequence[str]) -> Record:
    """Score a generated answer: letter extraction for MCQ, text metrics for QA."""
    rec = _base(sample, mode)
    rec.update(
        prompt=gen.prompt, prediction=gen.text, error=gen.error, tokens={"prompt": gen.prompt_tokens, "completion": gen.completion_tokens}
    )
    if gen.text is None:
        # No reply at all (an API error): not scored, counted as failed.
        rec.update(failed=True, scores={})
        if sample.choices:
            rec.update(chosen=[], answer=list(sample.answer))
        return rec
    text = gen.text
    if sample.choices:
        chosen, rule = extract_letters(text, sample.letters)
        rec.update(chosen=list(chosen), extraction=rule, answer=list(sample.answer), no_answer=not chosen)
        rec["scores"] = {"acc": is_correct(chosen, sample.answer)}
    else:
        rec["scores"] = {}  # scored from the stored answer when the run is finalized (harness.engine.scoring)
        if JUDGE_METRIC in metrics:
            rec["judge_pending"] = True  # judged right after the task's generations (harness.engine.judge)
    return rec
