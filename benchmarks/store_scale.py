"""The run store at scale: 200,000 generated MCQ rows through the fake backend.

Prints peak RSS of the run (records must not pile up in memory), the bytes on disk after it
finishes (one copy of the records), and the time to re-run the finished command (recognised at
once, nothing re-read or re-written). Targets (issue 16): RSS <= 600 MB, one copy, re-run < 5 s.

    python benchmarks/store_scale.py [ROWS]
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = ["alpha", "beta", "gamma", "delta", "photosynthesis", "energy", "water", "cells", "planet", "orbit", "mass", "light"]


def write_data(folder: Path, rows: int) -> Path:
    rng = random.Random(0)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "big_val.csv").open("w", encoding="utf-8") as f:
        f.write("id,question,A,B,C,D,answer\n")
        for i in range(rows):
            question = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30)))
            options = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 5))) for _ in range(4)]
            f.write(f"{i},{question}?,{','.join(options)},{'ABCD'[i % 4]}\n")
    return folder


def timed_run(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one `harness` process."""
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run([sys.executable, "-m", "harness", *args], check=True, capture_output=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    with tempfile.TemporaryDirectory() as tmp:
        data = write_data(Path(tmp) / "data", rows)
        run_dir = Path(tmp) / "run"
        args = ["eval", "--backend", "fake", "--datasets", "general_mcq", "--run-dir", str(run_dir),
                "--dataset-args", json.dumps({"general_mcq": {"local_path": str(data)}})]  # fmt: skip
        first, rss = timed_run(args)
        files = {p.name: p.stat().st_size for p in run_dir.iterdir() if p.is_file()}
        again, _ = timed_run(args)
        samples = files.get("samples.jsonl", 0)
        print(f"store at scale, {rows} MCQ rows, fake backend")
        print(f"  first run: {first:.1f} s, peak RSS {rss:.0f} MB (target <= 600 MB)")
        print(f"  on disk after finishing: {sum(files.values()) / 1e6:.0f} MB in all, samples.jsonl {samples / 1e6:.0f} MB, "
              f"partial file {'present' if 'samples.partial.jsonl' in files else 'removed'}")  # fmt: skip
        print(f"  re-running the finished command: {again:.2f} s (target < 5 s)")


if __name__ == "__main__":
    main()
