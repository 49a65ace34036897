"""`harness eval` against plain transformers doing the same work, measured in one run.

Two jobs, each beside its baseline (a fresh process: import transformers and load the default
model, one plain `model.generate` over the job's QA prompts in a single batch with the job's
generation settings, one plain batched forward over the job's MCQ scoring sequences: logits at
the last position for letter scoring, at every position for cloze):

1. issue 16's job: the 12 EvalScope example MCQ questions (letter scoring) and the 12 example QA
   prompts generated to 256 tokens: what `harness eval` ran before the built-in data changed.
2. today's main job, `harness eval` with no arguments: 62 MCQ questions by cloze (50 ARC-Easy and
   the 12 example ones) and the 12 QA prompts with the built-in stop rule (a line break, 32 tokens).

Target (issue 16): harness wall time (process start to exit) <= 1.3x the baseline's sum.

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
EXAMPLE = str(ROOT / "tasks" / "data" / "example")
OLD_JOB = {"general_mcq": {"local_path": EXAMPLE, "subset_list": ["example"], "scoring": "letter"}, "general_qa": {"local_path": EXAMPLE}}

BASELINE = r"""
import json, sys, time
t0 = time.perf_counter()
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from harness.backends.default_model import resolve_alias
from harness.engine.config import EvalConfig
from harness.engine.plan import prepare_tasks
from harness.backends.prompting import chat_mode, encode_many, render_context
from harness.engine.scorers import scorer_for
path = resolve_alias("smollm2-135m-instruct")
tok = AutoTokenizer.from_pretrained(path)
model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
t_load = time.perf_counter() - t0
config = EvalConfig(dataset_args=json.loads(sys.argv[1]))
mcq, qa = prepare_tasks(config, "letter")
gen = qa.generation(config.generation)
tok.padding_side = "left"
texts = [render_context(tok, scorer_for("generate").request(s).messages, chat=True) for s in qa.loaded.samples]
batch = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
extra = {"stop_strings": list(gen.stop), "tokenizer": tok} if gen.stop else {}
t = time.perf_counter()
with torch.inference_mode():
    model.generate(**batch, max_new_tokens=gen.max_new_tokens, do_sample=False, pad_token_id=tok.eos_token_id, **extra)
t_gen = time.perf_counter() - t
# MCQ: every scored sequence (context + continuation) in one padded batch, full logits.
sequences = [ctx + c for _, ctx, conts in encode_many(tok, [scorer_for(mcq.scoring).request(s) for s in mcq.loaded.samples]) for c in conts]
sequences = sequences if mcq.scoring == "cloze" else [s[:-1] for s in sequences[::len(mcq.loaded.samples[0].choices)]]
width = max(len(s) for s in sequences)
ids = torch.full((len(sequences), width), tok.pad_token_id or 0)
mask = torch.zeros((len(sequences), width), dtype=torch.long)
for r, s in enumerate(sequences):
    ids[r, width - len(s):] = torch.tensor(s)
    mask[r, width - len(s):] = 1
t = time.perf_counter()
with torch.inference_mode():  # letter: the answer letter is read at the last position only; cloze needs every position
    model(input_ids=ids, attention_mask=mask, logits_to_keep=1 if mcq.scoring == "letter" else 0).logits.log_softmax(-1)
t_fwd = time.perf_counter() - t
print(json.dumps({"load": t_load, "generate": t_gen, "forward": t_fwd, "mcq": len(mcq.loaded.samples), "sequences": len(sequences)}))
"""


def measure(name: str, dataset_args: dict[str, object] | None, env: dict[str, str]) -> None:
    from harness.engine.config import EvalConfig
    from harness.engine.plan import plan_tasks

    args = dataset_args or {}
    resolved = {p.name: p.args for p in plan_tasks(EvalConfig(dataset_args=args), "letter")}  # the built-in settings, when none given
    baseline = subprocess.run(
        [sys.executable, "-c", BASELINE, json.dumps(args)], check=True, capture_output=True, text=True, env=env, cwd=ROOT
    )
    base = json.loads(baseline.stdout)
    flags = ["--dataset-args", json.dumps(args)] if args else []
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "harness", "eval", "--output", out, *flags], check=True, capture_output=True, env=env, cwd=ROOT
        )
        ours = time.perf_counter() - started
        (run_dir,) = Path(out).iterdir()
        results = json.loads((run_dir / "results.json").read_text())
    total = base["load"] + base["generate"] + base["forward"]
    qa_args = resolved["general_qa"]
    print(f"{name}: {base['mcq']} MCQ by {resolved['general_mcq'].scoring or 'letter'} ({base['sequences']} scored sequences), 12 QA "
          f"(max_new_tokens {qa_args.max_new_tokens or 256}, stop {list(qa_args.stop or [])})")  # fmt: skip
    print(f"  baseline: import + load {base['load']:.1f} s, plain generate (one batch) {base['generate']:.1f} s, "
          f"plain forward (one batch) {base['forward']:.2f} s; sum {total:.1f} s")  # fmt: skip
    print(f"  harness eval, process start to exit: {ours:.1f} s (evaluation loop {results['wall_seconds']:.1f} s, "
          f"{results['usage']['completion_tokens']} new tokens)")  # fmt: skip
    print(f"  ratio harness / baseline: {ours / total:.2f}x (target <= 1.3x)")


def main() -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    # The one-time GGUF conversion is part of neither side.
    subprocess.run([sys.executable, "-c", "from harness.backends.default_model import resolve_alias as r; r('smollm2-135m-instruct')"],
                   check=True, env=env, cwd=ROOT)  # fmt: skip
    print(f"main job on this machine ({os.cpu_count()} cores), default model SmolLM2-135M-Instruct, fp32")
    measure("1. issue 16's job (example data, letter, 256 new tokens)", OLD_JOB, env)
    measure("2. main job today (`harness eval`, no arguments)", None, env)


if __name__ == "__main__":
    main()
