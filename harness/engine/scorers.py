"""One scorer per scoring mode: how a sample becomes a backend request, and how the answer becomes its record.

- `LetterScorer`: the option letters are the scored continuations; the most likely letter is the answer.
- `ClozeScorer`: the option texts are; `acc` takes the highest sum, `acc_norm` the highest sum divided by the
  option text's length in characters (lm-eval's acc_norm).
- `GenerateScorer`: generate, then read the letter (harness.engine.extract; no letter is wrong); a QA answer
  is stored unscored and scored with the dataset's metrics when the run is finalized (harness.engine.scoring),
  so a metric never costs an answer.

With several correct options (`multiple_correct`, TruthfulQA MC2), letter and cloze give `acc` (the most
likely option is a correct one) and `mc2`: the probability mass on the correct options (harness.metrics.
truthfulqa, lm-eval's MC2); generate scores the exact set of letters. Every record is a `SampleRecord`
(harness.runs.record).
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.backends.base import ChoiceRequest, ChoiceResult, GenerateRequest, Generation
from harness.engine.extract import extract_letters
from harness.metrics.accuracy import is_correct
from harness.metrics.registry import JUDGE_METRIC
from harness.metrics.truthfulqa import mc2
from harness.runs.record import SampleRecord
from harness.tasks.modes import ScoringMode
from harness.tasks.sample import Sample

__all__ = ["ChoiceScorer", "ClozeScorer", "GenerateScorer", "LetterScorer", "scorer_for"]


def _base(sample: Sample, mode: ScoringMode) -> SampleRecord:
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
        "messages": [dict(m) for m in sample.messages],
        "reference": sample.reference,
        "scores": {},
    }


def _argmax(values: Sequence[float]) -> int:
    return max(range(len(values)), key=lambda i: values[i])


class ChoiceScorer:
    """Scores given continuations by their log-probabilities (letter and cloze share all but what is scored)."""

    mode = ScoringMode.LETTER
    no_answer_scores: dict[str, float | None] = {"acc": 0.0}

    def continuations(self, sample: Sample) -> tuple[str, ...]:
        """What the backend scores after the prompt: one continuation per option."""
        return tuple(sample.letters)

    def request(self, sample: Sample) -> ChoiceRequest:
        """The sample's request."""
        return ChoiceRequest(
            sample.key, sample.messages, self.continuations(sample), sample.answer_prefix, sample.target_delimiter, sample.chat_template
        )

    def record(self, sample: Sample, result: ChoiceResult) -> SampleRecord:
        """Score an answer: the most likely option, and with several correct options the mass they hold."""
        rec = _base(sample, self.mode)
        if result.prompt_tokens or result.completion_tokens:  # reported by API servers; local backends count nothing here
            rec["tokens"] = {"prompt": result.prompt_tokens, "completion": result.completion_tokens}
        rec["prompt"], rec["answer"] = result.context, list(sample.answer)
        if result.error is not None or result.no_answer:
            rec["prediction"], rec["chosen"] = None, []
            if result.error is not None:
                # A failed request has no score: it is counted as failed, never as a wrong answer.
                rec["error"], rec["failed"] = result.error, True
            else:
                # The model answered, but not with an option: wrong, and counted as "no answer", never guessed.
                rec["no_answer"], rec["scores"] = True, dict(self.no_answer_scores)
            return rec
        lps = list(result.logprobs)
        chosen = sample.letters[_argmax(lps)]
        rec["prediction"], rec["chosen"], rec["option_logprobs"] = chosen, [chosen], lps
        if len(sample.answer) > 1:
            true = {sample.letters.index(a) for a in sample.answer}
            rec["scores"] = {"acc": float(chosen in sample.answer), "mc2": mc2(lps, true)}
            return rec
        rec["scores"] = {"acc": is_correct([chosen], sample.answer)}
        self.extend(sample, rec, lps)
        return rec

    def extend(self, sample: Sample, rec: SampleRecord, lps: Sequence[float]) -> None:
        """Fields and scores a mode adds for a single-answer question (none for letter)."""


class LetterScorer(ChoiceScorer):
    """The option letters, scored where the answer starts."""


class ClozeScorer(ChoiceScorer):
    """The option texts, scored after the question; adds `acc_norm`."""

    mode = ScoringMode.CLOZE
    no_answer_scores = {"acc": 0.0, "acc_norm": 0.0}

    def continuations(self, sample: Sample) -> tuple[str, ...]:
        """The option texts."""
        return sample.choices

    def extend(self, sample: Sample, rec: SampleRecord, lps: Sequence[float]) -> None:
        """`acc_norm`: the highest log-likelihood per character of the option's text."""
        norm = [lp / max(1, len(text)) for lp, text in zip(lps, sample.choices, strict=True)]
        chosen_norm = sample.letters[_argmax(norm)]
        rec["option_logprobs_norm"] = norm
        rec["chosen_norm"] = [chosen_norm]
        rec["scores"]["acc_norm"] = is_correct([chosen_norm], sample.answer)


class GenerateScorer:
    """A generated answer: letter extraction for MCQ; QA answers are scored when the run is finalized."""

    mode = ScoringMode.GENERATE

    def __init__(self, metrics: Sequence[str] = ()) -> None:
        """`metrics`: the task's; a QA task with the judge marks each answer as owed a judgement."""
        self.judged = JUDGE_METRIC in metrics

    def request(self, sample: Sample) -> GenerateRequest:
        """The sample's request; MCQ samples tell the backend which letters exist."""
        return GenerateRequest(sample.key, sample.messages, sample.chat_template, sample.letters)

    def record(self, sample: Sample, gen: Generation) -> SampleRecord:
        """The answer, with its MCQ score (QA: scored later, see the module docstring)."""
        rec = _base(sample, self.mode)
        rec["prompt"], rec["prediction"], rec["error"] = gen.prompt, gen.text, gen.error
        rec["tokens"] = {"prompt": gen.prompt_tokens, "completion": gen.completion_tokens}
        if gen.text is None:
            # No reply at all (an API error): not scored, counted as failed.
            rec["failed"] = True
            if sample.choices:
                rec["chosen"], rec["answer"] = [], list(sample.answer)
            return rec
        if sample.choices:
            chosen, rule = extract_letters(gen.text, sample.letters)
            rec["chosen"], rec["extraction"], rec["answer"], rec["no_answer"] = list(chosen), rule, list(sample.answer), not chosen
            rec["scores"] = {"acc": is_correct(chosen, sample.answer)}
        elif self.judged:
            rec["judge_pending"] = True  # judged right after the task's generations (harness.engine.judge)
        return rec


def scorer_for(mode: ScoringMode | str, metrics: Sequence[str] = ()) -> ChoiceScorer | GenerateScorer:
    """The scorer of a mode (given as its word, too: scripts and tests pass "letter")."""
    mode = ScoringMode(mode)
    if mode is ScoringMode.GENERATE:
        return GenerateScorer(metrics)
    return ClozeScorer() if mode is ScoringMode.CLOZE else LetterScorer()
