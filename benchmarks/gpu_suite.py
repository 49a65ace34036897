"""GPU benchmark (issue 16): scoring and generation loops against plain transformers (and vLLM) on the same inputs.

The model is SmolLM2-1.7B's architecture with random weights (no download: the config below and
the default model's tokenizer), bf16 on CUDA. From one run:

- scoring of ARC-Easy (../shared/data/arc_easy), letter 0-shot and 5-shot and cloze 0-shot: the
  harness's scoring loop, and the whole engine (`evaluate`: records, metrics, run store), vs a plain
  scorer over the same token sequences at batch 64/256/512 (best): a last-position forward for
  letters, full (context + option) rows for cloze;
- 512 ARC-Easy questions as QA prompts x 64 new tokens: the harness's decode loop vs plain
  `model.generate` at batch 64/256/512 (best);
- with vLLM installed, its offline engine: `LLM.generate` called directly vs the harness's vllm
  backend on the same prompts.

Targets: scoring <= 1.1x the best plain forward (issue 25: the engine too), generation <= 1.3x the best plain generate,
the vllm backend <= 1.1x `LLM.generate`. End-to-end comparisons with lm-eval 0.4.13 are in
benchmarks/mcq_scoring.py (set LM_EVAL_PYTHON, and --device cuda there).

    python benchmarks/gpu_suite.py                        # on a GPU machine
    python benchmarks/gpu_suite.py --smoke                 # CPU check of the script itself: 135M shape, a few inputs
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from harness.backends import collect
from harness.backends.default_model import resolve_alias
from harness.backends.hf.backend import HFBackend
from harness.backends.prompting import encode_many, render_context
from harness.engine.config import EvalConfig, GenerationConfig
from harness.engine.plan import prepare_tasks
from harness.engine.records import choice_request, generate_request
from harness.engine.runner import evaluate

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SHAPES = {
    "1.7b": {"hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 24, "num_attention_heads": 32, "num_key_value_heads": 32},
    "135m": {"hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3},
}


def build_model(shape: str, device: str, dtype: torch.dtype) -> tuple[Any, Any]:
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(resolve_alias("smollm2-135m-instruct"))
    config = LlamaConfig(vocab_size=49152, rope_theta=130000.0, tie_word_embeddings=True, max_position_embeddings=8192,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, **SHAPES[shape])  # fmt: skip
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).to(device=device, dtype=dtype).eval()
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model, tokenizer


def timed(fn: Callable[[], object], device: str) -> float:
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def left_padded(rows: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token rows left-padded to one width, and their attention mask."""
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), pad)
    mask = torch.zeros_like(ids)
    for row, seq in enumerate(rows):
        ids[row, width - len(seq) :] = torch.tensor(seq)
        mask[row, width - len(seq) :] = 1
    return ids, mask


def plain_last_position(model: Any, sequences: list[list[int]], batch: int, pad: int) -> None:
    """Left-padded batches sorted by length, logits at the last position only: the fastest straightforward scorer."""
    order = sorted(range(len(sequences)), key=lambda i: -len(sequences[i]))
    with torch.inference_mode():
        for start in range(0, len(order), batch):
            ids, mask = left_padded([sequences[i] for i in order[start : start + batch]], pad)
            model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device), logits_to_keep=1).logits.float().log_softmax(-1)


def plain_generate(model: Any, tokenizer: Any, prompts: list[str], batch: int, new_tokens: int) -> None:
    tokenizer.padding_side = "left"
    with torch.inference_mode():
        for start in range(0, len(prompts), batch):
            enc = tokenizer(prompts[start : start + batch], return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
            model.generate(**enc, max_new_tokens=new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)


def plain_cloze(model: Any, sequences: list[tuple[list[int], list[int]]], batch: int, pad: int) -> None:
    """Every (context + option) row in full, left-padded, log-softmax at the option's positions: the plain cloze scorer."""
    order = sorted(range(len(sequences)), key=lambda i: -len(sequences[i][0]) - len(sequences[i][1]))
    with torch.inference_mode():
        for start in range(0, len(order), batch):
            part = [sequences[i] for i in order[start : start + batch]]
            ids, mask = left_padded([ctx + cont for ctx, cont in part], pad)
            width = ids.shape[1]
            logits = model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device)).logits
            for row, (_, cont) in enumerate(part):
                lp = logits[row, width - len(cont) - 1 : width - 1].float().log_softmax(-1)
                lp.gather(1, torch.tensor(cont, device=lp.device).unsqueeze(1)).sum().item()


def scoring(
    backend: HFBackend, shots: int, limit: int | None, batches: tuple[int, ...], device: str, mode: str = "letter"
) -> dict[str, Any]:
    """The scorer's loop (backend.score_choices) and the whole engine (records, store) vs the plain scorer's best batch."""
    args = {"local_path": str(SHARED / "arc_easy"), "scoring": mode, "few_shot_num": shots}
    config = EvalConfig(datasets=("general_mcq",), dataset_args={"general_mcq": args}, limit=limit)
    samples = prepare_tasks(config, "letter")[0].loaded.samples
    requests = [choice_request(s, mode) for s in samples]
    collect(backend.score_choices(requests[:32]))  # warm-up
    ours = timed(lambda: collect(backend.score_choices(requests)), device)
    with tempfile.TemporaryDirectory() as tmp:
        engine = timed(lambda: evaluate(config, backend=backend, run_dir=Path(tmp) / "run"), device)
    encoded = encode_many(backend.tokenizer, requests)
    pad = backend.tokenizer.pad_token_id
    if mode == "letter":
        sequences = [ctx for _, ctx, _ in encoded]
        plain = {b: timed(lambda b=b: plain_last_position(backend.model, sequences, b, pad), device) for b in batches}
    else:
        pairs = [(ctx, cont) for _, ctx, conts in encoded for cont in conts]
        plain = {b: timed(lambda b=b: plain_cloze(backend.model, pairs, max(1, b // 4), pad), device) for b in batches}
    best = min(plain, key=plain.__getitem__)
    return {"questions": len(requests), "shots": shots, "scoring": mode, "harness_loop_s": round(ours, 2),
            "harness_engine_s": round(engine, 2), "plain_s": {str(b): round(t, 2) for b, t in plain.items()},
            "loop_vs_best_plain": round(ours / plain[best], 2), "engine_vs_best_plain": round(engine / plain[best], 2)}  # fmt: skip


def generation(backend: HFBackend, n: int, new_tokens: int, batches: tuple[int, ...], device: str) -> dict[str, Any]:
    args = {"local_path": str(SHARED / "arc_easy_qa")}
    samples = prepare_tasks(EvalConfig(datasets=("general_qa",), dataset_args={"general_qa": args}), "generate")[0].loaded.samples[:n]
    requests = [generate_request(s) for s in samples]
    config = GenerationConfig(max_new_tokens=new_tokens)
    collect(backend.generate(requests[:8], config))  # warm-up
    ours = timed(lambda: collect(backend.generate(requests, config)), device)
    prompts = [render_context(backend.tokenizer, r.messages, chat=True) for r in requests]
    plain = {b: timed(lambda b=b: plain_generate(backend.model, backend.tokenizer, prompts, b, new_tokens), device) for b in batches}
    best = min(plain, key=plain.__getitem__)
    timings = {str(b): round(t, 2) for b, t in plain.items()}
    return {"prompts": len(requests), "new_tokens": new_tokens, "harness_s": round(ours, 2), "plain_generate_s": timings,
            "ratio_vs_best_plain": round(ours / plain[best], 2)}  # fmt: skip


def vllm_generation(model_dir: Path, n: int, new_tokens: int) -> dict[str, Any]:
    try:
        import vllm
    except ModuleNotFoundError:
        return {"vllm": "not installed"}
    from harness.backends.vllm import VLLMBackend

    backend = VLLMBackend(str(model_dir), dtype="bfloat16")
    args = {"local_path": str(SHARED / "arc_easy_qa")}
    samples = prepare_tasks(EvalConfig(datasets=("general_qa",), dataset_args={"general_qa": args}), "generate")[0].loaded.samples[:n]
    requests = [generate_request(s) for s in samples]
    config = GenerationConfig(max_new_tokens=new_tokens)
    prompts = [{"prompt_token_ids": backend._encode(r)} for r in requests]
    params = vllm.SamplingParams(max_tokens=new_tokens, temperature=0.0)
    backend.llm.generate(prompts[:8], params, use_tqdm=False)  # warm-up
    direct = timed(lambda: backend.llm.generate(prompts, params, use_tqdm=False), "cpu")
    ours = timed(lambda: collect(backend.generate(requests, config)), "cpu")
    return {"vllm_direct_s": round(direct, 2), "harness_vllm_s": round(ours, 2), "ratio": round(ours / direct, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="CPU, 135M shape, a few inputs: checks the script runs")
    ns = parser.parse_args()
    device = "cpu" if ns.smoke else "cuda"
    shape, limit, n, new_tokens = ("135m", 8, 8, 8) if ns.smoke else ("1.7b", None, 512, 64)
    batches = (4, 8) if ns.smoke else (64, 256, 512)
    model, tokenizer = build_model(shape, device, torch.float32 if ns.smoke else torch.bfloat16)
    backend = HFBackend(f"random-{shape}", loaded=(model, tokenizer), fingerprint={"backend": "hf", "model": f"random-{shape}"})
    report: dict[str, Any] = {"device": torch.cuda.get_device_name() if device == "cuda" else "cpu", "shape": shape}
    report["scoring_0shot"] = scoring(backend, 0, limit, batches, device)
    report["scoring_5shot"] = scoring(backend, 5, limit, batches, device)
    report["scoring_cloze"] = scoring(backend, 0, limit, batches, device, mode="cloze")
    report["generation"] = generation(backend, n, new_tokens, batches, device)
    if not ns.smoke:
        folder = Path("/tmp/harness-random-1.7b")
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        del backend, model
        torch.cuda.empty_cache()
        report["vllm"] = vllm_generation(folder, n, new_tokens)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
