"""Host work around the forward: harness vs a plain hand-written script, CPU seconds outside the model.

On a GPU the forward is fast, so every CPU second spent between forwards is wall time. This measures
that host work where it is cheap: a tiny random Llama (the default model's tokenizer and 49152-token
vocabulary, one layer of width 64, built here, no download) whose forward costs almost nothing, one
torch thread, ARC-Easy from ../shared/data.

For each case the harness (`harness.evaluate` on the hf backend, writing its run folder) and a plain
script (the same samples and chat-template prompts; batched tokenization, padded forwards, log-softmax
and gather by hand, predictions written as JSONL) each run twice in fresh processes: on all questions
and on the first `--short`. Host CPU = process CPU time - CPU time inside `model.forward` (a forward
hook with `time.thread_time` on the model, its decoder and its output head, so a second thread's work is
host work). The per-question figure is
marginal, (full - short) / (n_full - n_short), so imports and model load cancel; each run is repeated
(`--repeat`, default 2) and the least host time kept, since a busy machine only adds. Cases:

- letter 0-shot, cloze 0-shot, letter 5-shot: general_mcq on arc_easy (2376 questions);
- generation: general_qa on arc_easy_qa, the first 512 prompts, 32 new tokens, greedy.

The plain script's choices must equal the harness's on every question (printed), else its figure is
not a baseline. Target (issue 25): letter, cloze and 5-shot <= 1.2x, generation <= 1.0x.

    python benchmarks/host_overhead.py [--short 200] [--repeat 2] [--cases letter,cloze,letter5,generate]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("HARNESS_SHARED_DATA", ROOT.parent / "shared" / "data"))

CASES: dict[str, tuple[str, dict[str, object], int]] = {
    # name: (task, dataset args, full size)
    "letter": ("general_mcq", {"scoring": "letter"}, 2376),
    "cloze": ("general_mcq", {"scoring": "cloze"}, 2376),
    "letter5": ("general_mcq", {"scoring": "letter", "few_shot_num": 5}, 2376),
    "generate": ("general_qa", {}, 512),
}

BUILD = r"""
import sys, torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
from harness.backends.default_model import resolve_alias
tok = AutoTokenizer.from_pretrained(resolve_alias("smollm2-135m-instruct"))
torch.manual_seed(0)
config = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                     num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=8192,
                     tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
LlamaForCausalLM(config).save_pretrained(sys.argv[1])
tok.save_pretrained(sys.argv[1])
"""

# Shared by both sides: one torch thread, forward CPU time by hook, the task's samples from the loader.
COMMON = r"""
import json, sys, time
import torch
torch.set_num_threads(1)
from harness.engine.config import EvalConfig
from harness.engine.plan import prepare_tasks
case = json.loads(sys.argv[1])
inside = [0.0]
def timed(model):
    # The model's compute: the whole model, or its decoder and output head when called apart; nested calls count once.
    start = []
    def enter(m, *a):
        start.append(time.thread_time())
    def leave(m, *a):
        t = start.pop()
        if not start:
            inside[0] += time.thread_time() - t
    for module in {model, model.get_decoder(), model.get_output_embeddings()}:
        module.register_forward_pre_hook(enter, with_kwargs=True)
        module.register_forward_hook(leave, with_kwargs=True)
config = EvalConfig(datasets=(case["task"],), dataset_args={case["task"]: case["args"]}, limit=case["n"],
                    generation=__import__("harness").GenerationConfig(max_new_tokens=32, stop=()))
"""

HARNESS = r"""
from harness.backends.hf.backend import HFBackend
from harness.engine.runner import evaluate
backend = HFBackend(case["model"], dtype="float32")
timed(backend.model)
t0 = time.process_time()
evaluate(config, backend=backend, run_dir=__import__("pathlib").Path(case["out"]))
host = time.process_time() - t0 - inside[0]
picks = {}
with open(case["out"] + "/samples.jsonl", encoding="utf-8") as f:
    for line in f:
        r = json.loads(line)
        picks[r["key"]] = r["prediction"]
print(json.dumps({"host": host, "forward": inside[0], "picks": picks}))
"""

PLAIN = r"""
from transformers import AutoModelForCausalLM, AutoTokenizer
tok = AutoTokenizer.from_pretrained(case["model"])
model = AutoModelForCausalLM.from_pretrained(case["model"], dtype=torch.float32).eval()
timed(model)
t0 = time.process_time()
[task] = prepare_tasks(config, "letter")
samples = task.loaded.samples
# The harness's own prompts: its renderer is the chat template (or plain turns where the data set says so) plus the cue.
from harness.backends.prompting import chat_mode, join_continuation, render_context
chat = [chat_mode(tok, s.chat_template) for s in samples]
prompts = [render_context(tok, s.messages, chat=c, answer_prefix=s.answer_prefix, delimiter=s.target_delimiter)
           for s, c in zip(samples, chat)]
def cont_text(i, text):
    s = samples[i]
    return join_continuation(text, chat=chat[i], answer_prefix=s.answer_prefix, delimiter=s.target_delimiter)
picks = {}
pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id

def batches(lengths, budget=1024):
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    out, cur = [], []
    for i in order:
        if cur and lengths[cur[0]] * (len(cur) + 1) > budget:
            out.append(cur); cur = []
        cur.append(i)
    return out + ([cur] if cur else [])

def left_pad(rows):
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad); mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r):] = torch.tensor(r); mask[i, width - len(r):] = 1
    return ids, mask

with torch.inference_mode():
    if case["scoring"] == "letter":
        ctx = tok(prompts, add_special_tokens=False)["input_ids"]
        letter_ids = {l: tok(cont_text(0, l), add_special_tokens=False)["input_ids"][-1] for l in "ABCDEFGHIJ"}
        for b in batches([len(c) for c in ctx]):
            ids, mask = left_pad([ctx[i] for i in b])
            lp = model(input_ids=ids, attention_mask=mask, logits_to_keep=1).logits[:, -1].float().log_softmax(-1)
            for row, i in enumerate(b):
                s = samples[i]
                scores = lp[row, [letter_ids[l] for l in s.letters]]
                picks[s.key] = s.letters[int(scores.argmax())]
    elif case["scoring"] == "cloze":
        ctx = tok(prompts, add_special_tokens=False)["input_ids"]
        owners = [(i, j) for i, s in enumerate(samples) for j in range(len(s.choices))]
        conts = tok([cont_text(i, samples[i].choices[j]) for i, j in owners], add_special_tokens=False)["input_ids"]
        rows = [ctx[i] + c for (i, _), c in zip(owners, conts)]
        sums = [[0.0] * len(s.choices) for s in samples]
        for b in batches([len(r) for r in rows]):
            ids, mask = left_pad([rows[k] for k in b])
            logits = model(input_ids=ids, attention_mask=mask).logits
            width = ids.shape[1]
            for row, k in enumerate(b):
                n = len(conts[k])
                lp = logits[row, width - n - 1 : width - 1].float().log_softmax(-1)
                i, j = owners[k]
                sums[i][j] = float(lp.gather(1, torch.tensor(conts[k]).unsqueeze(1)).sum())
        for i, s in enumerate(samples):
            picks[s.key] = s.letters[max(range(len(s.choices)), key=lambda j: sums[i][j])]
    else:
        tok.padding_side = "left"
        enc = tok(prompts, add_special_tokens=False)["input_ids"]
        for b in batches([len(e) for e in enc], budget=1 << 30):
            for start in range(0, len(b), 32):
                part = b[start : start + 32]
                ids, mask = left_pad([enc[i] for i in part])
                out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=32, do_sample=False, pad_token_id=pad)
                for row, i in enumerate(part):
                    picks[samples[i].key] = tok.decode(out[row, ids.shape[1]:], skip_special_tokens=True)
with open(case["out"], "w", encoding="utf-8") as f:
    for key, pick in picks.items():
        f.write(json.dumps({"key": key, "prediction": pick}) + "\n")
host = time.process_time() - t0 - inside[0]
print(json.dumps({"host": host, "forward": inside[0], "picks": picks}))
"""


def run(side: str, case: dict[str, object]) -> dict[str, object]:
    code = COMMON + (HARNESS if side == "harness" else PLAIN)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code, json.dumps(case)], capture_output=True, text=True, env=env, cwd=ROOT)
    if out.returncode:
        raise SystemExit(f"{side} {case['name']} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", type=int, default=200, help="questions in the short run (start-up cancels)")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--repeat", type=int, default=2, help="runs per side and size; the least host time counts (noise only adds)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "tiny"
        subprocess.run([sys.executable, "-c", BUILD, str(model)], check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        print(f"tiny model: 1 layer, width 64, vocab 49152; one torch thread; data {SHARED}")
        head = f"{'case':<10} {'n':>5} {'harness ms/q':>13} {'plain ms/q':>11} {'ratio':>6}"
        print(head + "  same picks   (harness / plain host s, full run)")
        for name in args.cases.split(","):
            task, extra, full = CASES[name]
            data = SHARED / ("arc_easy" if task == "general_mcq" else "arc_easy_qa")
            dargs = {"local_path": str(data), "subset_list": ["arc_easy"], **extra}
            figures: dict[str, dict[int, dict[str, object]]] = {"harness": {}, "plain": {}}
            for side in ("harness", "plain"):
                for n in (args.short, full):
                    runs = []
                    for attempt in range(args.repeat):  # a fresh folder each time: a finished run would be reused
                        out = str(Path(tmp) / f"{side}-{name}-{n}-{attempt}")
                        case = {"name": name, "task": task, "args": dargs, "n": n, "model": str(model), "out": out}
                        case["scoring"] = extra.get("scoring", "generate")
                        runs.append(run(side, case))
                    figures[side][n] = min(runs, key=lambda r: float(r["host"]))
            marginal = {
                side: (float(figures[side][full]["host"]) - float(figures[side][args.short]["host"])) / (full - args.short)
                for side in figures
            }
            picks_h, picks_p = figures["harness"][full]["picks"], figures["plain"][full]["picks"]
            assert isinstance(picks_h, dict) and isinstance(picks_p, dict)
            same = sum(picks_h.get(k) == v for k, v in picks_p.items())
            print(
                f"{name:<10} {full:>5} {marginal['harness'] * 1000:>13.3f} {marginal['plain'] * 1000:>11.3f} "
                f"{marginal['harness'] / marginal['plain']:>5.2f}x  {same}/{len(picks_p)}"
                f"   ({figures['harness'][full]['host']:.2f} / {figures['plain'][full]['host']:.2f})",
                flush=True,
            )


if __name__ == "__main__":
    main()
