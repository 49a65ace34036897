"""QA metric speed: BLEU-1..4 + ROUGE-1/2/L on 10,000 pairs, vs the reference libraries in the same run.

Pairs: ARC-Easy QA references (English, ../shared/data/arc_easy_qa) with word-shuffled predictions, and
the 400 Chinese parity pairs repeated; 10,000 in all. Baselines: NLTK `sentence_bleu` x4 on the same
Treebank tokens plus Google rouge-score (English), measured on the English part.
Usage: python benchmarks/qa_metrics.py
"""

from __future__ import annotations

import json
import os
import random
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("HARNESS_SHARED_DATA", ROOT.parent / "shared" / "data"))


def pairs() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    rng = random.Random(0)
    refs = [json.loads(line)["response"] for line in (SHARED / "arc_easy_qa" / "arc_easy.jsonl").read_text(encoding="utf-8").splitlines()]
    english = []
    for i in range(7000):
        words = refs[i % len(refs)].split()
        rng.shuffle(words)
        english.append((" ".join(words[: max(1, len(words) - rng.randrange(2))]), refs[i % len(refs)]))
    zh_lines = (ROOT / "tests" / "data" / "evalscope_zh_pairs.jsonl").read_text(encoding="utf-8").splitlines()
    chinese = [(d["prediction"], d["reference"]) for d in map(json.loads, zh_lines)]
    chinese = (chinese * 8)[:3000]
    return english, chinese


def main() -> None:
    t0 = time.perf_counter()
    from harness.metrics.qa import score_pair

    score_pair("预热", "预热")  # jieba's dictionary loads here, once per process
    load = time.perf_counter() - t0
    english, chinese = pairs()
    t0 = time.perf_counter()
    for p, r in english + chinese:
        score_pair(p, r, ("bleu", "rouge"))
    ours = time.perf_counter() - t0
    print(f"harness BLEU-1..4 + ROUGE-1/2/L on {len(english) + len(chinese)} pairs: {ours:.2f} s (+ {load:.2f} s one-time jieba load)")

    from nltk.translate.bleu_score import sentence_bleu
    from rouge_score import rouge_scorer

    from harness.metrics.tokenize import bleu_tokens

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"])
    weights = [(1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1)]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p, r in english:
            pt, rt = bleu_tokens(p), bleu_tokens(r)
            for w in weights:
                sentence_bleu([rt], pt, weights=w)
            scorer.score(r, p)
    base = time.perf_counter() - t0
    t0 = time.perf_counter()
    for p, r in english:
        score_pair(p, r, ("bleu", "rouge"))
    ours_en = time.perf_counter() - t0
    print(f"English part ({len(english)} pairs): harness {ours_en:.2f} s, NLTK sentence_bleu x4 + rouge-score {base:.2f} s")
    print(f"  ratio {ours_en / base:.2f}x")


if __name__ == "__main__":
    main()
