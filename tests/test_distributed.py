"""Data-parallel runs under `torchrun --nproc_per_node 2` (gloo on CPU): same results as one process."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TEST_DATA

from harness.core.distributed import balanced_shards

pytest.importorskip("torch")

ARC = json.dumps({"general_mcq": {"local_path": str(TEST_DATA / "arc_easy_100")}})


def harness_cmd(nproc: int, *args: str) -> list[str]:
    if nproc == 1:
        return [sys.executable, "-m", "harness", *args]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc), "-m", "harness"]
    return [*launcher, *args]


def run(nproc: int, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HARNESS_DIST_TIMEOUT": "60"}
    return subprocess.run(harness_cmd(nproc, *args), capture_output=True, text=True, timeout=timeout, env=env)


def only_run_dir(output: Path) -> Path:
    (run_dir,) = output.iterdir()
    return run_dir


def scores(run_dir: Path) -> list[dict]:
    return json.loads((run_dir / "results.json").read_text())["scores"]


def test_balanced_shards_cover_every_index_once_and_balance_the_load():
    rng = random.Random(0)
    for _ in range(50):
        costs = [rng.randint(1, 500) for _ in range(rng.randint(0, 300))]
        world = rng.randint(1, 8)
        shards = balanced_shards(costs, world)
        assert sorted(i for s in shards for i in s) == list(range(len(costs)))
        loads = [sum(costs[i] for i in s) for s in shards]
        # Greedy longest-first: no shard exceeds the mean by more than the largest single item.
        assert max(loads) <= sum(costs) / world + max(costs, default=0)


def test_torchrun_fake_equals_one_process_and_only_rank0_writes(tmp_path):
    calls = str(tmp_path / "calls-{rank}.txt")
    common = ["eval", "--backend", "fake", "--datasets", "general_mcq", "--dataset-args", ARC]
    two = run(2, *common, "--model-args", json.dumps({"calls_file": calls}), "--output", str(tmp_path / "two"))
    one = run(1, *common, "--output", str(tmp_path / "one"))
    assert two.returncode == 0, two.stderr[-2000:]
    assert one.returncode == 0, one.stderr[-2000:]
    a, b = only_run_dir(tmp_path / "one"), only_run_dir(tmp_path / "two")
    assert a.name == b.name  # same fingerprint: a single-process run and a torchrun run resume each other
    assert (a / "samples.jsonl").read_bytes() == (b / "samples.jsonl").read_bytes()
    assert scores(a) == scores(b)
    # Each rank did about half, every sample exactly once; one table, printed by rank 0.
    per_rank = [(tmp_path / f"calls-{r}.txt").read_text().splitlines() for r in (0, 1)]
    assert all(35 <= len(keys) <= 65 for keys in per_rank)
    assert sorted(per_rank[0] + per_rank[1]) == sorted({*per_rank[0], *per_rank[1]}) and len(per_rank[0] + per_rank[1]) == 100
    table_rows = [line for line in two.stdout.splitlines() if "│ acc " in line]  # not "acc" alone: a run hash may hold it
    assert two.stdout.count("run folder:") == 1 and len(table_rows) == 1


def test_torchrun_resumes_a_partial_run(tmp_path):
    common = ["eval", "--backend", "fake", "--datasets", "general_mcq", "--dataset-args", ARC, "--output", str(tmp_path)]
    assert run(1, *common).returncode == 0
    run_dir = only_run_dir(tmp_path)
    full = (run_dir / "samples.jsonl").read_bytes()
    assert not (run_dir / "samples.partial.jsonl").exists()  # a finished run keeps its records once
    lines = full.split(b"\n")
    (run_dir / "samples.partial.jsonl").write_bytes(b"\n".join(lines[:40]) + b"\n")
    (run_dir / "samples.jsonl").unlink()
    (run_dir / "results.json").unlink()
    calls = str(tmp_path.parent / f"{tmp_path.name}-calls-{{rank}}.txt")
    resumed = run(2, *common, "--model-args", json.dumps({"calls_file": calls}))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert (run_dir / "samples.jsonl").read_bytes() == full
    done = [Path(calls.replace("{rank}", str(r))).read_text().splitlines() for r in (0, 1)]
    assert len(done[0]) + len(done[1]) == 60 and all(done)


def _worker_pids(parent: int) -> dict[str, int]:
    """RANK -> pid of torchrun's worker processes."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            status = (proc / "status").read_text()
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("PPid:"))
        rank = next((e[5:].decode() for e in environ if e.startswith(b"RANK=")), None)
        if ppid == parent and rank is not None:
            found[rank] = int(proc.name)
    return found


def test_a_killed_rank_is_detected_and_finished_samples_are_kept(tmp_path):
    args = ["eval", "--backend", "fake", "--datasets", "general_mcq", "--dataset-args", ARC, "--output", str(tmp_path / "out")]
    # Rank 1 holds after 40 requests until it is killed, so the kill lands mid-shard however slowly it is scheduled.
    slow = json.dumps({"delay": 0.05, "calls_file": str(tmp_path / "calls-{rank}.txt"), "hold_at": 40, "hold_rank": 1})
    # The collective timeout is far longer than the hang guard below: the run can only end in time because the
    # loss of rank 1 was detected, never because a timeout expired (no wall-clock figure is asserted).
    env = {**os.environ, "HARNESS_DIST_TIMEOUT": "3600"}
    proc = subprocess.Popen(harness_cmd(2, *args, "--model-args", slow), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "calls-1.txt").exists() or len((tmp_path / "calls-1.txt").read_text().splitlines()) < 40:
            assert time.monotonic() < deadline and proc.poll() is None, "rank 1 never got going"
            time.sleep(0.1)
        os.kill(_worker_pids(proc.pid)["1"], signal.SIGKILL)
        _, err = proc.communicate(timeout=600)  # a hang guard only: detection takes seconds
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert "rank: 1" in err or "lost contact with the other ranks" in err
    # What rank 0 stored is kept, and a plain resume finishes the run.
    run_dir = only_run_dir(tmp_path / "out")
    assert (run_dir / "samples.partial.jsonl").read_text().count("\n") >= 32
    assert not (run_dir / "results.json").exists()
    assert run(1, *args).returncode == 0
    assert (run_dir / "samples.jsonl").read_text().count("\n") == 100


@pytest.mark.slow
def test_torchrun_smollm2_equals_one_process(tmp_path):
    if shutil.which("nproc") and int(subprocess.run(["nproc"], capture_output=True, text=True).stdout) < 2:
        pytest.skip("needs 2 cores")
    common = ["eval", "--datasets", "general_mcq", "--dataset-args", ARC, "--limit", "60"]
    two = run(2, *common, "--output", str(tmp_path / "two"), timeout=900)
    one = run(1, *common, "--output", str(tmp_path / "one"), timeout=900)
    assert two.returncode == 0, two.stderr[-3000:]
    assert one.returncode == 0, one.stderr[-3000:]
    a, b = only_run_dir(tmp_path / "one"), only_run_dir(tmp_path / "two")
    ra = [json.loads(line) for line in (a / "samples.jsonl").read_text().splitlines()]
    rb = [json.loads(line) for line in (b / "samples.jsonl").read_text().splitlines()]
    assert [r["key"] for r in ra] == [r["key"] for r in rb] and len(ra) == 60
    assert [r["chosen"] for r in ra] == [r["chosen"] for r in rb]
    worst = max(abs(x - y) for p, q in zip(ra, rb, strict=True) for x, y in zip(p["option_logprobs"], q["option_logprobs"], strict=True))
    print(f"SmolLM2, 60 questions: same choices, max |dlogp| one vs two processes {worst:.2e}")
    assert worst < 1e-4
    table = [[(s["metric"], s["subset"], s["n"], s["score"]) for s in scores(d)] for d in (a, b)]
    assert table[0] == table[1]
    assert json.loads((b / "results.json").read_text())["world_size"] == 2


def test_accelerate_launch_shares_the_request_cache(tmp_path):
    """`accelerate launch` sets the same variables as torchrun; with --use-cache a second run asks the backend nothing."""
    pytest.importorskip("accelerate")
    with socket.socket() as s:  # accelerate's default port (29500) may be taken
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--main_process_port", port]
    launcher += ["-m", "harness"]
    env = {**os.environ, "HARNESS_CACHE": str(tmp_path / "cache"), "HARNESS_DIST_TIMEOUT": "60"}
    calls = tmp_path / "calls-{rank}.txt"
    for attempt, output in enumerate(("first", "second")):
        args = [
            "eval",
            "--backend",
            "fake",
            "--datasets",
            "general_mcq",
            "--dataset-args",
            ARC,
            "--use-cache",
            "--output",
            str(tmp_path / output),
        ]
        args += ["--model-args", json.dumps({"calls_file": str(calls)})]
        done = subprocess.run([*launcher, *args], capture_output=True, text=True, timeout=300, env=env)
        assert done.returncode == 0, done.stderr[-2000:]
        counts = [len(Path(str(calls).replace("{rank}", str(r))).read_text().splitlines()) for r in (0, 1)]
        assert sum(counts) == 100 and all(counts)  # the second run added no calls
        assert done.stdout.count("run folder:") == 1, attempt
    assert (only_run_dir(tmp_path / "first") / "samples.jsonl").read_bytes() == (
        only_run_dir(tmp_path / "second") / "samples.jsonl"
    ).read_bytes()
