"""MCQ scoring speed and agreement: our HF backend vs a plain forward and vs lm-evaluation-harness.

Data: the first 200 ARC-Easy test questions with exactly four options (../shared/data/arc_easy),
prompt "{question}\\nA. {A}\\nB. {B}\\nC. {C}\\nD. {D}\\nAnswer:" (letter) and
"Question: {question}\\nAnswer:" (cloze), plain text, SmolLM2-135M-Instruct fp32 on CPU.

Prints, from one run:
- scoring phase: our letter scoring vs a plain batched forward with full logits (batch 8), ratio;
- end to end (process start to table, subprocess): `harness eval` vs `lm_eval`, 0-shot and 5-shot, ratio;
- peak RSS of each process, tokens/s, share of our time outside the model forward;
- agreement with lm-eval: same choice share and max |log-likelihood difference| (letter and cloze).

lm-eval runs from the Python named by $LM_EVAL_PYTHON (default /tmp/lmeval/bin/python), a throwaway
venv with lm-eval 0.4.13; without it those rows say "lm-eval not installed".
Usage: python benchmarks/mcq_scoring.py [--n 200] [--skip-lm-eval]
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("HARNESS_SHARED_DATA", ROOT.parent / "shared" / "data"))
LETTER_TEMPLATE = "{question}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nAnswer:"
CLOZE_TEMPLATE = "Question: {question}\nAnswer:"
LM_EVAL_PY = os.environ.get("LM_EVAL_PYTHON", "/tmp/lmeval/bin/python")


def four_option_rows(path: Path, n: int) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if all(r[c].strip() for c in "ABCD") and not r.get("E", "").strip()]
    return rows[:n]


def write_data(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for split, count in (("val", n), ("dev", 5)):
        rows = four_option_rows(SHARED / "arc_easy" / f"arc_easy_{split}.csv", count)
        with (folder / f"arc_{split}.csv").open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "question", "A", "B", "C", "D", "answer"])
            w.writerows([[r["id"], r["question"], r["A"], r["B"], r["C"], r["D"], r["answer"]] for r in rows])
        with (folder / f"arc_{split}.jsonl").open("w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps({k: r[k] for k in ("id", "question", "A", "B", "C", "D", "answer")}, ensure_ascii=False) + "\n")


def lm_eval_task_yaml(folder: Path, name: str, letter: bool, shots: int) -> None:
    text = LETTER_TEMPLATE if letter else CLOZE_TEMPLATE
    jinja = text.replace("{question}", "{{question}}")
    for c in "ABCD":
        jinja = jinja.replace("{" + c + "}", "{{" + c + "}}")
    choice = '["A", "B", "C", "D"]' if letter else "{{[A, B, C, D]}}"
    (folder / f"{name}.yaml").write_text(
        f"""task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {folder / "data" / "arc_val.jsonl"}
    dev: {folder / "data" / "arc_dev.jsonl"}
test_split: test
fewshot_split: dev
fewshot_config:
  sampler: first_n
num_fewshot: {shots}
output_type: multiple_choice
doc_to_text: {json.dumps(jinja)}
doc_to_choice: '{choice}'
doc_to_target: "{{{{['A', 'B', 'C', 'D'].index(answer)}}}}"
metric_list:
  - metric: acc
  - metric: acc_norm
""",
        encoding="utf-8",
    )


# A fresh wrapper per command: RUSAGE_CHILDREN's ru_maxrss is a max over all children ever waited for.
_WRAPPER = (
    "import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:]).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(rc)"
)


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) of the command's process tree leader, and its output."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _WRAPPER, *cmd], capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed:\n{proc.stderr[-3000:]}")
    peak_kb = int(proc.stderr.strip().splitlines()[-1])
    return wall, peak_kb / 1024, proc.stdout


def harness_cmd(data: Path, out: Path, scoring: str, shots: int) -> list[str]:
    template = LETTER_TEMPLATE if scoring == "letter" else CLOZE_TEMPLATE
    args = {
        "general_mcq": {
            "local_path": str(data),
            "scoring": scoring,
            "chat_template": False,
            "prompt_template": template,
            "few_shot_num": shots,
        }
    }
    return [sys.executable, "-m", "harness", "eval", "--datasets", "general_mcq", "--dataset-args", json.dumps(args), "--run-dir", str(out)]


def lm_eval_cmd(tasks_dir: Path, task: str, out: Path, model_dir: Path) -> list[str]:
    return [
        LM_EVAL_PY, "-m", "lm_eval", "--model", "hf", "--model_args", f"pretrained={model_dir},dtype=float32",
        "--tasks", task, "--include_path", str(tasks_dir), "--batch_size", "16", "--device", "cpu",
        "--output_path", str(out), "--log_samples",
    ]  # fmt: skip


def plain_forward_seconds(model, tokenizer, contexts: list[str], batch: int = 8) -> float:
    import torch

    enc = [tokenizer.encode(c + " A", add_special_tokens=False) for c in contexts]
    t0 = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(enc), batch):
            chunk = enc[i : i + batch]
            width = max(len(e) for e in chunk)
            ids = torch.zeros((len(chunk), width), dtype=torch.long)
            mask = torch.zeros_like(ids)
            for r, e in enumerate(chunk):
                ids[r, : len(e)] = torch.tensor(e)
                mask[r, : len(e)] = 1
            model(input_ids=ids, attention_mask=mask).logits.float().log_softmax(-1)
    return time.perf_counter() - t0


def scoring_phase(data: Path) -> dict[str, float]:
    from harness.backends import collect
    from harness.backends.hf.backend import HFBackend
    from harness.engine.config import EvalConfig
    from harness.engine.plan import prepare_tasks
    from harness.engine.scorers import scorer_for

    backend = HFBackend("smollm2-135m-instruct")
    args = {"local_path": str(data), "chat_template": False, "prompt_template": LETTER_TEMPLATE}
    samples = prepare_tasks(EvalConfig(datasets=("general_mcq",), dataset_args={"general_mcq": args}), "letter")[0].loaded.samples
    requests = [scorer_for("letter").request(s) for s in samples]
    contexts = [s.messages[-1]["content"] for s in samples]
    tokens = sum(len(backend.tokenizer.encode(c, add_special_tokens=False)) + 1 for c in contexts)
    baseline = plain_forward_seconds(backend.model, backend.tokenizer, contexts)
    in_model = [0.0]
    starts: list[float] = []
    backend.model.register_forward_pre_hook(lambda *_: starts.append(time.perf_counter()))
    backend.model.register_forward_hook(lambda *_: in_model.__setitem__(0, in_model[0] + time.perf_counter() - starts.pop()))
    t0 = time.perf_counter()
    collect(backend.score_choices(requests))
    ours = time.perf_counter() - t0
    return {"tokens": tokens, "baseline": baseline, "ours": ours, "in_model": in_model[0]}


def accuracy_line(ours_dir: Path) -> str:
    results = json.loads((ours_dir / "results.json").read_text())
    rows = [r for r in results["scores"] if r["subset"] != "OVERALL" and r["category"] == "-"]
    return ", ".join(f"{r['metric']} {r['score']:.3f}" for r in rows)


def agreement(ours_dir: Path, lm_dir: Path, task: str) -> tuple[float, float, int]:
    ours = [json.loads(line) for line in (ours_dir / "samples.jsonl").read_text().split("\n") if line]
    (path,) = list(lm_dir.rglob(f"samples_{task}_*.jsonl"))
    theirs = sorted((json.loads(line) for line in path.read_text().splitlines()), key=lambda d: d["doc_id"])
    same, worst = 0, 0.0
    for a, b in zip(ours, theirs, strict=True):
        lp = [float(r[0][0]) for r in b["resps"]]
        same += max(range(4), key=lp.__getitem__) == max(range(4), key=a["option_logprobs"].__getitem__)
        worst = max(worst, *(abs(x - y) for x, y in zip(lp, a["option_logprobs"], strict=True)))
    return same / len(ours), worst, len(ours)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--skip-lm-eval", action="store_true")
    ns = parser.parse_args()
    from harness.backends.default_model import resolve_alias

    model_dir = resolve_alias("smollm2-135m-instruct")
    assert model_dir is not None
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error", "TOKENIZERS_PARALLELISM": "false"}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = root / "data"
        write_data(data, ns.n)
        phase = scoring_phase(data)
        print(f"scoring phase, {ns.n} questions, {phase['tokens']:.0f} tokens (0-shot letter, fp32, CPU)")
        print(f"  plain batched forward, full logits, batch 8: {phase['baseline']:.2f} s")
        print(f"  harness letter scoring:                      {phase['ours']:.2f} s  ratio {phase['ours'] / phase['baseline']:.2f}x")
        outside = 100 * (1 - phase["in_model"] / phase["ours"])
        print(f"  tokens/s {phase['tokens'] / phase['ours']:.0f}; time outside the model forward {outside:.1f}%")
        have_lm_eval = not ns.skip_lm_eval and Path(LM_EVAL_PY).exists()
        if have_lm_eval:
            for name, letter, shots in (("arc_letter0", True, 0), ("arc_cloze0", False, 0), ("arc_letter5", True, 5)):
                lm_eval_task_yaml(root, name, letter, shots)
        print("end to end (process start to table):")
        for label, scoring, shots, task in (
            ("0-shot letter", "letter", 0, "arc_letter0"),
            ("0-shot cloze", "cloze", 0, "arc_cloze0"),
            ("5-shot letter", "letter", 5, "arc_letter5"),
        ):
            ours_dir = root / f"ours_{task}"
            wall, rss, _ = timed(harness_cmd(data, ours_dir, scoring, shots), env)
            line = f"  {label}: harness {wall:.1f} s, peak RSS {rss:.0f} MB ({accuracy_line(ours_dir)})"
            if have_lm_eval:
                lm_dir = root / f"lm_{task}"
                lm_wall, lm_rss, _ = timed(lm_eval_cmd(root, task, lm_dir, model_dir), env)
                line += f"; lm-eval {lm_wall:.1f} s, peak RSS {lm_rss:.0f} MB; time ratio {wall / lm_wall:.2f}x"
                if shots == 0:
                    same, worst, n = agreement(ours_dir, lm_dir, task)
                    line += f"\n    agreement with lm-eval on {n}: same choice {100 * same:.1f}%, max |dlogL| {worst:.2e}"
            else:
                line += "; lm-eval not installed (set LM_EVAL_PYTHON)"
            print(line, flush=True)


if __name__ == "__main__":
    main()
