"""A local `evaluate` metric for the tests: SQuAD-style word F1 per pair (averaged) and pooled word precision.

Two values so the harness's handling of several returned keys, and of a corpus-level (pooled) value that is
not a mean of per-pair numbers, are both exercised.
"""

from collections import Counter

import datasets
import evaluate


class WordF1(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="word F1 per pair, averaged; and word precision pooled over the corpus",
            citation="",
            inputs_description="predictions: list of str; references: list of str",
            features=datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references):
        f1s, common_total, predicted_total = [], 0, 0
        for prediction, reference in zip(predictions, references, strict=True):
            p, r = prediction.lower().split(), reference.lower().split()
            common = sum((Counter(p) & Counter(r)).values())
            common_total += common
            predicted_total += len(p)
            if not p or not r:
                f1s.append(float(p == r))
            elif common == 0:
                f1s.append(0.0)
            else:
                precision, recall = common / len(p), common / len(r)
                f1s.append(2 * precision * recall / (precision + recall))
        return {"f1": sum(f1s) / len(f1s), "pooled_precision": common_total / predicted_total if predicted_total else 0.0}
