"""The benchmark catalogue: standard benchmarks as general_mcq / general_qa folders (`benchmarks.yaml`).

Each entry says where the data is on the Hugging Face hub, how its columns become one of our two
formats (`harness.tasks.catalog.convert`), the dataset args it is evaluated with, and the args that
render the prompts of the lm-eval task of the same name (`prompt_style: lm-eval`, these entries'
default, so a number can be set beside a published lm-eval one). `harness data pull NAME` writes the
folder once; `--datasets NAME` evaluates it from then on, offline.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from harness.core.errors import UserError
from harness.core.paths import cache_root

__all__ = ["LM_EVAL_GENERIC", "Benchmark", "benchmark_rows", "benchmarks", "get_benchmark", "pulled_folder"]

CATALOGUE = Path(__file__).parent / "benchmarks.yaml"
# prompt_style lm-eval on custom data: lm-eval's MMLU-style letter prompt, its ARC-style cloze prompt,
# and its GSM8K-style question/answer turns (no description; the data has no subject names).
LM_EVAL_GENERIC: dict[str, dict[str, Any]] = {
    "letter": {
        "prompt_template": "{question}\n{choices}\nAnswer:",
        "choice_format": "{letter}. {text}",
        "target_delimiter": " ",
        "chat_template": False,
    },  # fmt: skip
    "cloze": {"prompt_template": "Question: {question}\nAnswer:", "target_delimiter": " ", "chat_template": False},
    "generate": {"prompt_template": "Question: {question}\nAnswer:", "chat_template": False},
}


@dataclass(frozen=True)
class Benchmark:
    """One catalogue entry (see benchmarks.yaml for the fields)."""

    name: str
    title: str
    format: Literal["general_mcq", "general_qa"]
    hf_id: str
    configs: tuple[str | None, ...]
    eval_split: str
    few_shot_split: str | None  # None: no few-shot pool (TruthfulQA's prompt carries its own fixed examples)
    size: int
    licence: str
    citation: str
    mcq: dict[str, Any] | None = None
    qa: dict[str, Any] | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    lm_eval: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> Literal["mcq", "qa"]:
        """`mcq` or `qa`: the loader its folder is read with."""
        return "mcq" if self.format == "general_mcq" else "qa"

    def subset(self, config: str | None) -> str:
        """The subset a config becomes: the config's name, or the benchmark's when it has one config."""
        return config if len(self.configs) > 1 and config else self.name

    def dataset_args(self, style: str) -> dict[str, Any]:
        """The entry's dataset args under a prompt style (`lm-eval` adds the lm-eval task's prompt args)."""
        return {**self.defaults, **(self.lm_eval if style == "lm-eval" else {}), "prompt_style": style}

    @property
    def default_scoring(self) -> str:
        """How MCQ entries are scored by default (lm-eval's choice), or `generate`."""
        return str(self.lm_eval.get("scoring", "generate"))


def pulled_folder(name: str) -> Path:
    """Where `harness data pull NAME` writes by default: `<cache>/benchmarks/NAME`."""
    return cache_root() / "benchmarks" / name


@functools.cache
def benchmarks() -> dict[str, Benchmark]:
    """Every entry of benchmarks.yaml, by name."""
    raw = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))
    out = {}
    for name, entry in raw.items():
        entry = dict(entry)
        entry["configs"] = tuple(entry["configs"])
        out[name] = Benchmark(name=name, **entry)
    return out


def get_benchmark(name: str) -> Benchmark:
    """An entry by name; an unknown name lists the known ones."""
    try:
        return benchmarks()[name]
    except KeyError:
        raise UserError(f"unknown benchmark {name!r} (known: {', '.join(benchmarks())}; see harness list benchmarks)") from None


def benchmark_rows() -> list[list[str]]:
    """The catalogue as a table, header first: `harness list benchmarks` and the README's table."""
    rows = [["name", "format", "size", "licence", "scoring", "pulled"]]
    for b in benchmarks().values():
        shots = b.defaults.get("few_shot_num", b.qa.get("history_shots", 0) if b.qa else 0)
        rows.append([b.name, b.kind, str(b.size), b.licence, f"{b.default_scoring} {shots}-shot", pulled_state(b.name)])
    return rows


def pulled_state(name: str) -> str:
    """`yes` (pulled and intact), `no`, or `damaged` (the folder does not match its manifest: `--datasets` refuses it)."""
    folder = pulled_folder(name)
    if not folder.exists():
        return "no"
    from harness.tasks.catalog.manifest import verify_pulled

    try:
        verify_pulled(folder, name)
    except UserError:
        return "damaged"
    return "yes"
