"""The main job (`harness eval`, no arguments) against plain transformers doing the same work, in one run.

Baseline, in a fresh process: import transformers and load the default model, one plain
`model.generate` over the 12 example QA prompts in a single batch (greedy, the same
max_new_tokens), and one plain forward over the 12 example MCQ prompts (chat template plus
"ANSWER:", left-padded, full logits). The harness: `harness eval --output FRESH_DIR`, process
start to exit. Target (issue 16): harness wall <= 1.3x the baseline's sum.

    python benchmarks/main_job.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BASELINE = r"""
import json, sys, time
t0 = time.perf_counter()
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from harness.backends.default_model import resolve_alias
from harness.config import EvalConfig, GenerationConfig
from harness.prepare import prepare_tasks
from harness.scoring import choice_request, generate_request
from harness.prompting import render_context
path = resolve_alias("smollm2-135m-instruct")
tok = AutoTokenizer.from_pretrained(path)
model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
t_load = time.perf_counter() - t0
mcq, qa = prepare_tasks(EvalConfig(), "letter")
tok.padding_side = "left"
qa_text = [render_context(tok, generate_request(s).messages, chat=True) for s in qa.loaded.samples]
mcq_text = [render_context(tok, choice_request(s, "letter").messages, chat=True, answer_prefix=s.answer_prefix) for s in mcq.loaded.samples]
batch = tok(qa_text, return_tensors="pt", padding=True, add_special_tokens=False)
t = time.perf_counter()
with torch.inference_mode():
    out = model.generate(**batch, max_new_tokens=GenerationConfig().max_new_tokens, do_sample=False, pad_token_id=tok.eos_token_id)
t_gen = time.perf_counter() - t
new = out[:, batch["input_ids"].shape[1]:]
generated = int(sum(next((k for k, x in enumerate(row) if x == tok.eos_token_id), len(row)) for row in new.tolist()))
batch = tok(mcq_text, return_tensors="pt", padding=True, add_special_tokens=False)
t = time.perf_counter()
with torch.inference_mode():
    model(**batch).logits.log_softmax(-1)
t_fwd = time.perf_counter() - t
print(json.dumps({"load": t_load, "generate": t_gen, "forward": t_fwd, "generated": generated}))
"""


def main() -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    subprocess.run(
        [sys.executable, "-c", "from harness.backends.default_model import resolve_alias as r; r('smollm2-135m-instruct')"],
        check=True,
        env=env,
        cwd=ROOT,
    )  # fmt: skip  (first-run conversion is not part of either side)
    base = json.loads(
        subprocess.run([sys.executable, "-c", BASELINE], check=True, capture_output=True, text=True, env=env, cwd=ROOT).stdout
    )
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "harness", "eval", "--output", out], check=True, capture_output=True, env=env, cwd=ROOT)
        ours = time.perf_counter() - started
        (run_dir,) = Path(out).iterdir()
        results = json.loads((run_dir / "results.json").read_text())
    total = base["load"] + base["generate"] + base["forward"]
    print(f"main job on this machine ({os.cpu_count()} cores), default model and data")
    print(f"  baseline: import + load {base['load']:.1f} s, plain generate of 12 QA prompts in one batch {base['generate']:.1f} s "
          f"({base['generated']} new tokens), plain forward of 12 MCQ prompts {base['forward']:.2f} s; sum {total:.1f} s")  # fmt: skip
    print(f"  harness eval (process start to exit): {ours:.1f} s, evaluation loop {results['wall_seconds']:.1f} s, "
          f"{results['usage']['completion_tokens']} new tokens")  # fmt: skip
    print(f"  ratio harness / baseline: {ours / total:.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main()
