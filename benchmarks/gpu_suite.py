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

- with lm-eval installed, the command lines end to end: `harness eval --datasets cmmlu` against
  `lm_eval --tasks cmmlu_*` on the same CMMLU files and letter prompts (../shared/data/cmmlu), 0- and 5-shot,
  each a fresh process (start-up, model load and scoring, as a user runs them).

Every section prints one JSON line the moment it ends and appends it to `--out` (default
gpu_suite.jsonl), so a later failure loses nothing; a section that fails (its plain baseline included) is
recorded with its error and the others run. Both sides of each timing are warmed the same way.

Targets: scoring <= 1.1x the best plain forward (issue 25: the engine too), generation <= 1.3x the best plain generate,
the vllm backend <= 1.1x `LLM.generate`, the CLI below lm-eval's.

    python benchmarks/gpu_suite.py                        # on a GPU machine
    python benchmarks/gpu_suite.py --smoke                 # every section on the CPU: 135M shape, a few inputs (the slow suite runs it)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from harness.backends import collect
from harness.backends.default_model import resolve_alias
from harness.backends.generation import GenerationConfig
from harness.backends.hf.backend import HFBackend
from harness.backends.prompting import encode_many, render_context
from harness.engine.config import EvalConfig
from harness.engine.plan import prepare_tasks
from harness.engine.runner import evaluate
from harness.engine.scorers import scorer_for

SHARED = Path(os.environ.get("HARNESS_SHARED_DATA", Path(__file__).resolve().parent.parent.parent / "shared" / "data"))
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


def best_of(run: Callable[[int], float], batches: tuple[int, ...]) -> tuple[dict[str, Any], float]:
    """Time `run` at each batch size; a batch size that fails is recorded with its error (the others still count).

    A baseline that fails everywhere (plain `generate` has failed inside cuDNN's attention) is retried once with
    cuDNN's attention off, and says so; if it still fails, the section fails with that error.
    """
    timings: dict[str, Any] = {}
    for attempt in ("default", "cudnn attention off"):
        for b in batches:
            try:
                timings[str(b)] = round(run(b), 2)
            except Exception as exc:  # recorded, not fatal: the other batch sizes are a baseline too
                timings[str(b)] = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
        ok = [v for v in timings.values() if isinstance(v, float)]
        if ok:
            if attempt != "default":
                timings["note"] = "plain baseline ran with cuDNN's scaled-dot-product attention off (it failed with it)"
            return timings, min(ok)
        if not torch.cuda.is_available():
            break
        torch.backends.cuda.enable_cudnn_sdp(False)
    raise RuntimeError(f"the plain baseline failed at every batch size: {timings}")


def scoring(
    backend: HFBackend, shots: int, limit: int | None, batches: tuple[int, ...], device: str, mode: str = "letter"
) -> dict[str, Any]:
    """The scorer's loop (backend.score_choices) and the whole engine (records, store) vs the plain scorer's best batch."""
    args = {"local_path": str(SHARED / "arc_easy"), "scoring": mode, "few_shot_num": shots}
    config = EvalConfig(datasets=("general_mcq",), dataset_args={"general_mcq": args}, limit=limit)
    samples = prepare_tasks(config, "letter")[0].loaded.samples
    requests = [scorer_for(mode).request(s) for s in samples]
    encoded = encode_many(backend.tokenizer, requests)
    pad = backend.tokenizer.pad_token_id
    if mode == "letter":
        sequences = [ctx for _, ctx, _ in encoded]

        def plain_run(b: int, part: slice = slice(None)) -> float:
            return timed(lambda: plain_last_position(backend.model, sequences[part], b, pad), device)
    else:
        pairs = [(ctx, cont) for _, ctx, conts in encoded for cont in conts]
        per_question = max(1, len(pairs) // max(1, len(requests)))

        def plain_run(b: int, part: slice = slice(None)) -> float:
            rows = pairs if part == slice(None) else pairs[: 32 * per_question]
            return timed(lambda: plain_cloze(backend.model, rows, max(1, b // 4), pad), device)

    # Both sides warmed the same way (32 questions each) before either is timed.
    collect(backend.score_choices(requests[:32]))
    plain_run(batches[0], slice(0, 32))
    ours = timed(lambda: collect(backend.score_choices(requests)), device)
    with tempfile.TemporaryDirectory() as tmp:
        engine = timed(lambda: evaluate(config, backend=backend, run_dir=Path(tmp) / "run"), device)
    plain, best = best_of(plain_run, batches)
    return {"questions": len(requests), "shots": shots, "scoring": mode, "harness_loop_s": round(ours, 2),
            "harness_engine_s": round(engine, 2), "plain_s": plain, "loop_vs_best_plain": round(ours / best, 2),
            "engine_vs_best_plain": round(engine / best, 2)}  # fmt: skip


def generation(backend: HFBackend, n: int, new_tokens: int, batches: tuple[int, ...], device: str) -> dict[str, Any]:
    args = {"local_path": str(SHARED / "arc_easy_qa")}
    samples = prepare_tasks(EvalConfig(datasets=("general_qa",), dataset_args={"general_qa": args}), "generate")[0].loaded.samples[:n]
    requests = [scorer_for("generate").request(s) for s in samples]
    config = GenerationConfig(max_new_tokens=new_tokens)
    collect(backend.generate(requests[:8], config))  # warm-up
    ours = timed(lambda: collect(backend.generate(requests, config)), device)
    prompts = [render_context(backend.tokenizer, r.messages, chat=True) for r in requests]
    plain_generate(backend.model, backend.tokenizer, prompts[:8], batches[0], new_tokens) if device == "cpu" else None
    timings, best = best_of(lambda b: timed(lambda: plain_generate(backend.model, backend.tokenizer, prompts, b, new_tokens), device),
                            batches)  # fmt: skip
    return {"prompts": len(requests), "new_tokens": new_tokens, "harness_s": round(ours, 2), "plain_generate_s": timings,
            "ratio_vs_best_plain": round(ours / best, 2)}  # fmt: skip


def vllm_generation(model_dir: Path, n: int, new_tokens: int) -> dict[str, Any]:
    try:
        import vllm
    except ModuleNotFoundError:
        return {"skipped": "vllm is not installed"}
    from harness.backends.vllm import VLLMBackend

    backend = VLLMBackend(str(model_dir), dtype="bfloat16")
    args = {"local_path": str(SHARED / "arc_easy_qa")}
    samples = prepare_tasks(EvalConfig(datasets=("general_qa",), dataset_args={"general_qa": args}), "generate")[0].loaded.samples[:n]
    requests = [scorer_for("generate").request(s) for s in samples]
    config = GenerationConfig(max_new_tokens=new_tokens)
    prompts = [{"prompt_token_ids": backend._encode(r)} for r in requests]
    params = vllm.SamplingParams(max_tokens=new_tokens, temperature=0.0)
    backend.llm.generate(prompts[:8], params, use_tqdm=False)  # warm-up
    direct = timed(lambda: backend.llm.generate(prompts, params, use_tqdm=False), "cpu")
    ours = timed(lambda: collect(backend.generate(requests, config)), "cpu")
    return {"vllm_direct_s": round(direct, 2), "harness_vllm_s": round(ours, 2), "ratio": round(ours / direct, 2)}


CMMLU_SUBJECTS = ("agronomy", "computer_security")


def cmmlu_snapshot(root: Path) -> Path:
    """CMMLU's repository layout (test/SUBJECT.csv, dev/SUBJECT.csv) written from ../shared/data/cmmlu."""
    for subject in CMMLU_SUBJECTS:
        for split, suffix in (("test", "val"), ("dev", "dev")):
            (root / split).mkdir(parents=True, exist_ok=True)
            with (SHARED / "cmmlu" / f"{subject}_{suffix}.csv").open(encoding="utf-8", newline="") as f:
                rows = list(csv.DictReader(f))
            with (root / split / f"{subject}.csv").open("w", encoding="utf-8", newline="") as f:
                w = csv.writer(f)
                w.writerow(["", "Question", "A", "B", "C", "D", "Answer"])
                w.writerows([i, r["question"], r["A"], r["B"], r["C"], r["D"], r["answer"]] for i, r in enumerate(rows))
    return root


def cli_vs_lm_eval(folder: Path, shots: int, limit: int | None, device: str, dtype: str, batch: str = "auto") -> dict[str, Any]:
    """`harness eval` and `lm_eval` as a user runs them (fresh processes), on the same CMMLU files and letter prompts."""
    try:
        import lm_eval
    except ModuleNotFoundError:
        return {"skipped": "lm-eval is not installed"}
    with tempfile.TemporaryDirectory() as tmp:
        snap = cmmlu_snapshot(Path(tmp) / "cmmlu")
        pulled = Path(tmp) / "pulled"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
        harness = [sys.executable, "-m", "harness"]
        subprocess.run([*harness, "data", "pull", "cmmlu", "--from", str(snap), "--to", str(pulled)], check=True, capture_output=True,
                       env=env)  # fmt: skip
        args = json.dumps({"cmmlu": {"local_path": str(pulled), "few_shot_num": shots}})
        ours_cmd = [*harness, "eval", "--model", str(folder), "--datasets", "cmmlu", "--dataset-args", args, "--device", device,
                    "--dtype", dtype, "--run-dir", str(Path(tmp) / "run"), *(["--limit", str(limit)] if limit else [])]  # fmt: skip
        include = Path(tmp) / "tasks"
        include.mkdir()
        tasks_dir = Path(lm_eval.__file__).parent / "tasks" / "cmmlu"
        for s in CMMLU_SUBJECTS:
            (include / f"cmmlu_{s}_local.yaml").write_text(
                f"include: {tasks_dir / f'cmmlu_{s}.yaml'}\ntask: cmmlu_{s}_local\ndataset_path: csv\ndataset_name: null\n"
                f"dataset_kwargs:\n  data_files:\n    test: {snap / 'test' / f'{s}.csv'}\n    dev: {snap / 'dev' / f'{s}.csv'}\n",
                encoding="utf-8")  # fmt: skip
        theirs_cmd = [sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args", f"pretrained={folder},dtype={dtype}",
                      "--tasks", ",".join(f"cmmlu_{s}_local" for s in CMMLU_SUBJECTS), "--include_path", str(include),
                      "--num_fewshot", str(shots), "--batch_size", batch, "--device", device, "--output_path", str(Path(tmp) / "lm"),
                      *(["--limit", str(limit)] if limit else [])]  # fmt: skip
        times = {}
        for name, cmd in (("harness", ours_cmd), ("lm_eval", theirs_cmd)):
            started = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            times[name] = round(time.perf_counter() - started, 2)
            if proc.returncode:
                raise RuntimeError(f"{name} exited {proc.returncode}: {proc.stderr.strip().splitlines()[-1][:200] if proc.stderr else ''}")
    return {"shots": shots, "subjects": list(CMMLU_SUBJECTS), "limit": limit, "harness_cli_s": times["harness"],
            "lm_eval_cli_s": times["lm_eval"], "ratio": round(times["harness"] / times["lm_eval"], 2)}  # fmt: skip


def run_section(name: str, fn: Callable[[], dict[str, Any]], out: Path) -> dict[str, Any]:
    """Run one section; print and append its JSON line at once, whether it worked or failed (with its error)."""
    started = time.perf_counter()
    try:
        line: dict[str, Any] = {"section": name, "status": "ok", **fn()}
        if "skipped" in line:
            line["status"] = "skipped"
    except Exception as exc:  # recorded; the next section still runs
        line = {"section": name, "status": "failed", "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}",
                "where": traceback.format_exc().strip().splitlines()[-3:]}  # fmt: skip
    line["seconds"] = round(time.perf_counter() - started, 1)
    text = json.dumps(line)
    print(text, flush=True)
    with out.open("a", encoding="utf-8") as f:
        f.write(text + "\n")
    return line


def in_process(ns: argparse.Namespace, device: str, shape: str, limit: int | None, n: int, new_tokens: int,
               batches: tuple[int, ...]) -> Path:  # fmt: skip
    """The sections that drive the model in this process; returns the folder the model is saved to for the rest."""
    dtype = torch.float32 if ns.smoke else torch.bfloat16
    model, tokenizer = build_model(shape, device, dtype)
    backend = HFBackend(f"random-{shape}", loaded=(model, tokenizer), fingerprint={"backend": "hf", "model": f"random-{shape}"})
    device_name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    run_section("setup", lambda: {"device": device_name, "shape": shape, "torch": torch.__version__}, ns.out)
    run_section("scoring_0shot", lambda: scoring(backend, 0, limit, batches, device), ns.out)
    run_section("scoring_5shot", lambda: scoring(backend, 5, limit, batches, device), ns.out)
    run_section("scoring_cloze", lambda: scoring(backend, 0, limit, batches, device, mode="cloze"), ns.out)
    run_section("generation", lambda: generation(backend, n, new_tokens, batches, device), ns.out)
    folder = Path(tempfile.mkdtemp(prefix=f"harness-random-{shape}-"))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="every section on the CPU: 135M shape, a few inputs")
    parser.add_argument("--out", type=Path, default=Path("gpu_suite.jsonl"), help="JSON lines, one per section, appended as each ends")
    ns = parser.parse_args()
    device = "cpu" if ns.smoke else "cuda"
    shape, limit, n, new_tokens = ("135m", 2, 4, 4) if ns.smoke else ("1.7b", None, 512, 64)
    batches = (4,) if ns.smoke else (64, 256, 512)
    folder = in_process(ns, device, shape, limit, n, new_tokens, batches)
    if device == "cuda":
        torch.cuda.empty_cache()
    name = "float32" if ns.smoke else "bfloat16"
    # lm-eval's batch-size search (`auto`) probes up to its maximum length: minutes on a CPU, so the smoke run fixes 4.
    limit_cli, batch = (2, "4") if ns.smoke else (None, "auto")
    run_section("cli_vs_lm_eval_0shot", lambda: cli_vs_lm_eval(folder, 0, limit_cli, device, name, batch), ns.out)
    run_section("cli_vs_lm_eval_5shot", lambda: cli_vs_lm_eval(folder, 5, limit_cli, device, name, batch), ns.out)
    if ns.smoke:
        run_section("vllm", lambda: {"skipped": "not run in --smoke (the CPU engine takes minutes to start)"}, ns.out)
    else:
        run_section("vllm", lambda: vllm_generation(folder, n, new_tokens), ns.out)


if __name__ == "__main__":
    main()
