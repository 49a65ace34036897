"""Which decode batch gives the most tokens per second on this machine (sets CPU_DECODE_ROWS in harness/backends/hf.py).

SmolLM2-135M fp32, 128 ARC-Easy questions as QA prompts (../shared/data/arc_easy_qa), 32 new tokens
each, greedy; the harness decoder at several row limits, and plain `model.generate` at batch 64 on
the same prompts for scale.

    python benchmarks/decode_batch.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from harness.backends.default_model import resolve_alias
from harness.backends.generation import GenerationConfig
from harness.backends.hf.decode import Decoder, DecoderLimits

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def main() -> None:
    path = resolve_alias("smollm2-135m-instruct")
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    lines = (SHARED / "arc_easy_qa" / "arc_easy.jsonl").read_text(encoding="utf-8").split("\n")[:128]
    texts = [
        tok.apply_chat_template([{"role": "user", "content": json.loads(x)["query"]}], tokenize=False, add_generation_prompt=True)
        for x in lines
    ]
    prompts = [tok.encode(t, add_special_tokens=False) for t in texts]
    config = GenerationConfig(max_new_tokens=32)
    print(f"decode throughput, {len(prompts)} prompts x up to 32 new tokens, {torch.get_num_threads()} threads")
    for rows in (8, 16, 32, 64, 128):
        started = time.perf_counter()
        out = dict(Decoder(model, tok, DecoderLimits(rows, 1 << 30)).run(prompts, config))
        seconds = time.perf_counter() - started
        tokens = sum(len(v) for v in out.values())
        print(f"  harness decoder, up to {rows:3d} rows: {seconds:6.1f} s, {tokens / seconds:6.1f} tokens/s")
    tok.padding_side = "left"
    started, tokens = time.perf_counter(), 0
    for start in range(0, len(texts), 64):
        batch = tok(texts[start : start + 64], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            new = model.generate(**batch, max_new_tokens=32, do_sample=False, pad_token_id=tok.eos_token_id)[
                :, batch["input_ids"].shape[1] :
            ]
        tokens += sum(next((k for k, t in enumerate(r) if t == tok.eos_token_id), len(r)) for r in new.tolist())
    seconds = time.perf_counter() - started
    print(f"  plain model.generate, batch 64:      {seconds:6.1f} s, {tokens / seconds:6.1f} tokens/s")


if __name__ == "__main__":
    main()
