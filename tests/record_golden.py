"""What a run's records say, collected the same way before and after a change to how records are built.

`collect` runs a fixed set of evaluations on the fake backend (deterministic: answers and log-probabilities are
hashes of the prompt) and keeps, per sample, every field a score is made of: the scores, the prediction, what was
chosen, every option log-probability and the judge's verdict. tests/data/golden_records.json holds what the
engine produced at 23c8e18 (before the sample record was typed); `python tests/record_golden.py` rewrites it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

FIELDS = ("scores", "prediction", "chosen", "chosen_norm", "option_logprobs", "option_logprobs_norm",
          "answer", "no_answer", "extraction", "failed", "scoring")  # fmt: skip
GOLDEN = Path(__file__).parent / "data" / "golden_records.json"
MC2_CSV = 'id,question,A,B,C,answer\n1,Which are even?,2,3,4,"A,C"\n2,Which is odd?,2,3,4,B\n3,Pick two,x,y,z,"A,B"\n'


def _runs(data: Path, judge_url: str) -> dict[str, dict[str, Any]]:
    example = str(Path(__file__).resolve().parent.parent / "tasks" / "data" / "example")
    mc2 = data / "mc2"
    mc2.mkdir(parents=True, exist_ok=True)
    (mc2 / "tf_val.csv").write_text(MC2_CSV, encoding="utf-8")
    qa = data / "qa"
    qa.mkdir(parents=True, exist_ok=True)
    queries = ["short", "a somewhat longer question", "UNPARSEABLE please", "what is water?"]
    (qa / "j.jsonl").write_text("".join(json.dumps({"query": q, "response": f"the answer: {q}"}) + "\n" for q in queries), encoding="utf-8")
    judge = {"url": judge_url, "api_key_env": "JUDGE_KEY", "scale": [1, 10], "max_retries": 0}
    return {
        "default": {},
        "cloze": {"general_mcq": {"local_path": example, "scoring": "cloze"}},
        "generate": {"general_mcq": {"local_path": example, "scoring": "generate"}},
        "mc2_letter": {"general_mcq": {"local_path": str(mc2), "multiple_correct": True, "scoring": "letter"}},
        "mc2_cloze": {"general_mcq": {"local_path": str(mc2), "multiple_correct": True, "scoring": "cloze"}},
        "qa_judge": {"general_qa": {"local_path": str(qa), "metrics": ["judge", "bleu", "rouge", "exact_match"], "judge_args": judge}},
    }


def collect(workdir: Path, judge_url: str) -> dict[str, dict[str, dict[str, Any]]]:
    """{run name: {sample key: the fields scores are made of}} for the fixed runs."""
    from harness.cli.main import main

    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name, args in _runs(workdir / "data", judge_url).items():
        datasets = list(args) or ["general_mcq", "general_qa"]
        argv = ["eval", "--backend", "fake", "--datasets", *datasets, "--output", str(workdir / name), "--allow-failures"]
        if args:
            argv += ["--dataset-args", json.dumps(args)]
        code = main(argv)
        assert code == 0, (name, code)
        (run_dir,) = (p for p in (workdir / name).iterdir() if p.is_dir())
        records: dict[str, dict[str, Any]] = {}
        for line in (run_dir / "samples.jsonl").read_text(encoding="utf-8").split("\n"):
            if line:
                rec = json.loads(line)
                kept = {k: rec[k] for k in FIELDS if k in rec}
                if "judge" in rec:
                    kept["judge"] = {k: rec["judge"].get(k) for k in ("score", "rationale")}
                records[rec["key"]] = kept
        out[name] = records
    return out


if __name__ == "__main__":  # rewrite the fixture (only when a change to the records is intended)
    import os
    import tempfile

    sys.path.insert(0, str(Path(__file__).parent))
    from fault_server import FaultServer

    os.environ["JUDGE_KEY"] = "sk-golden-0a1b2c3d"
    server = FaultServer(api_key=os.environ["JUDGE_KEY"]).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            golden = collect(Path(tmp), server.url)
    finally:
        server.stop()
    GOLDEN.write_text(json.dumps(golden, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN}: {sum(len(v) for v in golden.values())} records in {len(golden)} runs")
