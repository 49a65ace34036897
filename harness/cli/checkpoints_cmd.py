"""`harness eval-checkpoints`: evaluate every checkpoint of a fine-tune and chart the trend."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.backends.generation import GenerationConfig
from harness.cli.args import Help, dataset_flags, dtype, generation_flags, json_arg
from harness.engine.config import EvalConfig

NAME = "eval-checkpoints"


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """This command's flags."""
    ck = sub.add_parser("eval-checkpoints", help="evaluate every checkpoint of a fine-tune and chart the trend", formatter_class=Help)
    ck.add_argument("output_dir", type=Path, metavar="TRAIN_DIR", help="Trainer or ms-swift output folder holding checkpoint-N folders")
    ck.add_argument("--model", default=None, help="base model for LoRA/PEFT adapters (default: from adapter_config.json)")
    dataset_flags(ck, ["general_mcq"])
    generation_flags(ck)
    ck.add_argument("--dtype", default="auto", type=dtype, metavar="{auto,float32,bfloat16,float16}", help="weights dtype (bf16 etc. too)")
    ck.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    ck.add_argument("--output", "-o", "--results", dest="results", type=Path, default=None, metavar="DIR",
                    help="runs and trend (default: each run in its checkpoint, the trend in TRAIN_DIR/harness_eval)")  # fmt: skip
    ck.add_argument("--force", action="store_true",
                    help="write into an --output folder holding other files (they are kept; the harness's own are replaced)")  # fmt: skip


def run(ns: argparse.Namespace) -> int:
    """Run the command; its exit code."""
    from harness.workflows.checkpoints import chance_levels, evaluate_checkpoints, trend_folder, trend_table, write_trend

    config = EvalConfig(
        backend="hf",
        datasets=tuple(ns.datasets),
        dataset_args=json_arg(ns.dataset_args, "--dataset-args"),
        limit=ns.limit,
        generation=GenerationConfig(max_new_tokens=ns.max_new_tokens),
        trust_code=ns.trust_code,
        batch_size=ns.batch_size,
        model_args={"dtype": ns.dtype, "device": ns.device},
    )
    folder = trend_folder(ns.output_dir, ns.results, force=ns.force)
    folder.check()  # before any model loads
    with folder as results:
        runs = evaluate_checkpoints(ns.output_dir, config, base_model=ns.model, results=results, separate=ns.results is not None,
                                    say=lambda line: print(line, file=sys.stderr, flush=True))  # fmt: skip
        chance = chance_levels(config)
        files = write_trend(runs, results, chance)
    table = trend_table(runs, primary_only=True, chance=chance)
    table.notes.append("one metric per task here; every metric is in trend.md and trend.csv")
    table.shows_all = "trend.md shows all"
    sys.stdout.write(table.terminal())
    sys.stdout.write("trend: " + ", ".join(str(p) for p in files.values()) + "\n")
    return 0
