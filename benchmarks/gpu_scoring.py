"""GPU check: HF letter scoring on ARC-Easy, split into tokenization and model time, vs a plain full-logit forward.

Usage: python benchmarks/gpu_scoring.py [ARC_EASY_DIR]  (needs CUDA; prints one JSON line per dtype).
The baseline runs the same context token sequences through the model in batches of 64 and 512
with full logits and a log-softmax, as a straightforward implementation would.
"""

from __future__ import annotations

import json
import sys
import time

import torch

from harness.backends.hf import HFBackend
from harness.backends.hf_scoring import EncodedChoice
from harness.config import EvalConfig
from harness.prompting import encode_many
from harness.runner import prepare_tasks
from harness.scoring import choice_request


def timed(fn: object) -> float:
    """Seconds `fn()` takes, with the GPU drained before and after."""
    torch.cuda.synchronize()
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    torch.cuda.synchronize()
    return time.perf_counter() - start


def plain_forward(backend: HFBackend, sequences: list[list[int]], batch: int) -> None:
    """Right-padded batches, full logits, log-softmax over the vocabulary."""
    with torch.inference_mode():
        for i in range(0, len(sequences), batch):
            part = sequences[i : i + batch]
            width = max(map(len, part))
            ids = torch.full((len(part), width), backend.tokenizer.pad_token_id)
            mask = torch.zeros_like(ids)
            for row, seq in enumerate(part):
                ids[row, : len(seq)] = torch.tensor(seq)
                mask[row, : len(seq)] = 1
            backend.model(input_ids=ids.cuda(), attention_mask=mask.cuda()).logits.float().log_softmax(-1)


def main() -> None:
    """One JSON line per dtype."""
    data = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/arc_easy"
    args = {"local_path": data, "scoring": "letter"}
    samples = prepare_tasks(EvalConfig(datasets=("general_mcq",), dataset_args={"general_mcq": args}), "letter")[0].loaded.samples
    requests = [choice_request(s, "letter") for s in samples]
    for dtype in ("float32", "bfloat16"):
        print(json.dumps(measure(dtype, samples, requests)))
        torch.cuda.empty_cache()


def measure(dtype: str, samples: list, requests: list) -> dict:
    """Total, tokenization, model (prefix reuse on/off) and plain-forward seconds, and accuracy."""
    backend = HFBackend("smollm2-135m-instruct", dtype=dtype, device="cuda")
    backend.score_choices(requests[:64])  # warm-up
    results: list = []
    total = timed(lambda: results.extend(backend.score_choices(requests)))
    start = time.perf_counter()
    encoded = encode_many(backend.tokenizer, requests)
    out = {"dtype": dtype, "n": len(requests), "tokens": sum(len(c) for _, c, _ in encoded), "total_s": round(total, 2)}
    out["tokenize_s"] = round(time.perf_counter() - start, 2)
    items = [EncodedChoice(tuple(c), tuple(tuple(x) for x in conts)) for _, c, conts in encoded]
    for reuse in (True, False):
        backend.scorer.reuse_prefix, backend.scorer._prefix = reuse, ()
        out[f"model_s_reuse_{reuse}"] = round(timed(lambda: backend.scorer.score(items)), 2)
    sequences = [c for _, c, _ in encoded]
    for batch in (64, 512):
        out[f"raw_forward_bs{batch}_s"] = round(timed(lambda: plain_forward(backend, sequences, batch)), 2)  # noqa: B023
    right = sum(s.letters[r.logprobs.index(max(r.logprobs))] in s.answer for s, r in zip(samples, results, strict=True))
    out["acc"] = round(right / len(samples), 4)
    out["ratio_total_vs_raw64"] = round(total / out["raw_forward_bs64_s"], 2)
    return out


if __name__ == "__main__":
    main()
