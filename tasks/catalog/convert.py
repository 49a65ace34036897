"""`harness data pull`: a catalogue benchmark, read with Hugging Face `datasets`, written as our format.

The data comes from the hub (the only command that may touch the network, and only when the user
runs it) or from a local copy (`--from PATH`): a snapshot of the dataset repository in the hub's
layout (`ARC-Easy/test-00000-of-00001.parquet`, `abstract_algebra/dev-*.parquet`, `test/agronomy.csv`)
or loose parquet / arrow / CSV / JSON Lines files. Each entry's `mcq` or `qa` mapping says how a row
becomes ours:

- `question`: a column; `choices`: a list column, a field of a struct column (`choices.text`) or
  option columns (`[A, B, C, D]`); `answer` with `answer_as`: `index` (0-based, int or digit string),
  `letter`, `text` (the correct option's text), or `label_of` (the answer's position in a label list
  such as ARC's `choices.label`, where labels may be `A`-`E` or `1`-`5`); `preprocess: hellaswag` builds question and endings as
  lm-eval's HellaSwag task does.
- QA: `query` and `response` columns; `history_shots` first few-shot rows go in each line's history.

A row that general_mcq cannot hold (fewer than 2 options, a gap, more than 10, an answer that is
not an option) is left out, counted in the NOTICE and in the line printed; nothing is left out silently.
The few-shot split keeps its first `DEV_ROWS` rows (lm-eval's `first_n` sampler reads only those).
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core import provenance
from harness.core.errors import UserError
from harness.tasks.catalog import Benchmark
from harness.tasks.sample import LETTERS

__all__ = ["DEV_ROWS", "PullReport", "hellaswag_preprocess", "pull"]

DEV_ROWS = 25
_SUFFIXES = {".parquet": "parquet", ".arrow": "arrow", ".csv": "csv", ".jsonl": "json", ".json": "json"}


@dataclass
class PullReport:
    """What a pull wrote: the folder, rows per file, rows left out and why, and the source's revision."""

    folder: Path
    missing: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    revision: str = ""

    def line(self) -> str:
        """The one line printed when done."""
        total = sum(n for f, n in self.rows.items() if not f.endswith("_dev.csv"))
        left = f"; {sum(self.skipped.values())} row(s) left out ({', '.join(f'{k}: {v}' for k, v in sorted(self.skipped.items()))})"
        absent = f"; {len(self.missing)} config(s) not in the local copy, not written ({', '.join(self.missing[:5])}" + (
            ", ..." if len(self.missing) > 5 else "") + ")"  # fmt: skip
        return f"wrote {total} evaluated rows in {len(self.rows)} file(s) to {self.folder}" + (left if self.skipped else "") + (
            absent if self.missing else "")  # fmt: skip


def hellaswag_preprocess(text: str) -> str:
    """lm-eval's HellaSwag `preprocess`: strip, WikiHow's " [title]" to ". ", other [brackets] removed, double spaces."""
    text = text.strip().replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    return text.replace("  ", " ")


def _field(row: dict[str, Any], path: str) -> Any:
    value: Any = row
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


class _Skip(Exception):
    """A row general_mcq cannot hold; its message is the reason, counted."""


def _text(value: Any) -> str | None:
    """A cell as text: strings as they are, numbers written out (pandas reads "36.5" from a CSV as a float)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _texts(value: Any) -> list[str]:
    if not isinstance(value, list | tuple):
        raise _Skip("malformed row")
    texts = ["" if v is None else _text(v) for v in value]
    if any(t is None for t in texts):
        raise _Skip("malformed row")
    return [t for t in texts if t is not None]


def _mcq_row(spec: dict[str, Any], row: dict[str, Any]) -> tuple[str, list[str], str]:
    """(question, options, answer letter) of one row, or `_Skip` with the reason it is left out."""
    if spec.get("preprocess") == "hellaswag":
        parts = [_text(row.get(k)) for k in ("activity_label", "ctx_a", "ctx_b")]
        if any(p is None for p in parts):
            raise _Skip("malformed row")
        label, ctx_a, ctx_b = (p or "" for p in parts)
        question = hellaswag_preprocess(f"{label}: {ctx_a} {ctx_b.capitalize()}")
        options = [hellaswag_preprocess(e) for e in _texts(row.get("endings"))]
    else:
        question = _text(row.get(spec["question"])) or ""
        choices = spec["choices"]
        options = _texts([row.get(c) for c in choices] if isinstance(choices, list) else _field(row, choices))
    while options and not options[-1].strip():
        options.pop()
    if not question.strip():
        raise _Skip("empty question")
    if len(options) < 2 or any(not o.strip() for o in options):
        raise _Skip("missing options")
    if len(options) > len(LETTERS):
        raise _Skip(f"more than {len(LETTERS)} options")
    answer = _field(row, spec["answer"])
    how = spec["answer_as"]
    if how == "index":
        index = answer if isinstance(answer, int) and not isinstance(answer, bool) else (
            int(answer.strip()) if isinstance(answer, str) and answer.strip().isdigit() else -1)  # fmt: skip
    elif how == "letter":
        index = LETTERS.find(answer.strip().upper()) if isinstance(answer, str) and len(answer.strip()) == 1 else -1
    elif how == "label_of":
        labels = [str(x).strip() for x in _field(row, spec["labels"]) or []] if isinstance(_field(row, spec["labels"]), list) else []
        index = labels.index(answer.strip()) if isinstance(answer, str) and answer.strip() in labels else -1
    elif how == "text":
        index = options.index(answer) if isinstance(answer, str) and answer in options else -1
    else:
        raise UserError(f"catalogue: unknown answer_as {how!r}")
    if not 0 <= index < len(options):
        raise _Skip("answer is not an option")
    return question, options, LETTERS[index]


def _files(source: Path, config: str | None, split: str) -> list[Path]:
    """The files of one config and split in a local copy: `config/split-*.parquet`, `split/config.csv`, `config_split.csv`."""
    candidates = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.suffix in _SUFFIXES and p.is_file())

    def matches(p: Path) -> bool:
        dirs = p.relative_to(source).parts[:-1] if source.is_dir() else ()
        stem = p.name.split(".")[0]
        both = config is not None and stem == f"{config}_{split}"
        of_config = config is None or config in dirs or stem == config or both
        of_split = split in dirs or stem == split or stem.startswith(f"{split}-") or both or (config is None and stem.endswith(f"_{split}"))
        return of_config and of_split

    return [p for p in candidates if matches(p)]


def _rows(bench: Benchmark, config: str | None, split: str, source: Path | None) -> Iterator[dict[str, Any]]:
    try:
        import datasets
    except ImportError:
        raise UserError("harness data pull needs the `datasets` library: pip install 'harness[evaluate]'") from None
    datasets.disable_progress_bars()
    if source is None:
        try:
            data = datasets.load_dataset(bench.hf_id, config, split=split)
        except Exception as exc:  # offline, a missing config, the hub refusing: one line
            first = " ".join(str(exc).split())[:200]
            raise UserError(f"{bench.name}: cannot read {bench.hf_id} ({config or 'default'}, {split}) from the hub ({type(exc).__name__}: "
                            f"{first}); run it online once, or pass --from a local copy") from None  # fmt: skip
    else:
        files = _files(source, config, split)
        if not files:
            example = f"{config}/{split}-00000-of-00001.parquet" if config else f"data/{split}-00000-of-00001.parquet"
            raise UserError(f"{bench.name}: no file for config {config or 'default'}, split {split} under {source} "
                            f"(expected the hub's layout, e.g. {example})")  # fmt: skip
        kinds = {_SUFFIXES[p.suffix] for p in files}
        if len(kinds) > 1:
            raise UserError(f"{bench.name}: mixed file types for {config or 'default'}/{split}: {', '.join(map(str, files))}")
        try:
            data = datasets.load_dataset(kinds.pop(), data_files=[str(p) for p in files], split="train")
        except Exception as exc:
            first = " ".join(str(exc).split())[:200]
            raise UserError(f"{files[0]}: cannot be read as a data set ({type(exc).__name__}: {first})") from None
    yield from data


def _revision(bench: Benchmark, source: Path | None) -> str:
    if source is not None:
        h = hashlib.sha256()
        for p in [source] if source.is_file() else sorted(q for q in source.rglob("*") if q.is_file()):
            h.update(p.name.encode())
            h.update(p.read_bytes())
        return f"local copy {source} (sha256 {h.hexdigest()[:16]})"
    try:
        from huggingface_hub import HfApi

        return f"{bench.hf_id}@{HfApi().dataset_info(bench.hf_id).sha}"
    except Exception:
        return f"{bench.hf_id} (revision unknown)"


def _write_mcq(path: Path, rows: Sequence[tuple[str, str, list[str], str]]) -> None:
    width = max((len(options) for _, _, options, _ in rows), default=2)
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["id", "question", *LETTERS[:width], "answer"])
        for row_id, question, options, answer in rows:
            out.writerow([row_id, question, *options, *[""] * (width - len(options)), answer])


def pull(bench: Benchmark, to: Path, source: Path | None = None) -> PullReport:
    """Convert every config of `bench` into `to` (see the module docstring)."""
    to.mkdir(parents=True, exist_ok=True)
    report = PullReport(to, revision=_revision(bench, source))
    configs = list(bench.configs)
    if source is not None:  # a partial snapshot (some subjects) converts what it holds, and says what it lacks
        report.missing = [str(c) for c in configs if not _files(source, c, bench.eval_split)]
        configs = [c for c in configs if str(c) not in report.missing]
        if not configs:
            example = (
                f"{bench.configs[0]}/{bench.eval_split}-00000-of-00001.parquet"
                if bench.configs[0]
                else f"data/{bench.eval_split}-*.parquet"
            )
            raise UserError(
                f"{bench.name}: no {bench.eval_split} file for any config under {source} (expected the hub's layout, e.g. {example})"
            )
    for config in configs:
        subset = bench.subset(config)
        if bench.mcq is not None:
            for role, split in (("val", bench.eval_split), ("dev", bench.few_shot_split)):
                kept: list[tuple[str, str, list[str], str]] = []
                for i, row in enumerate(_rows(bench, config, split, source)):
                    if role == "dev" and len(kept) >= DEV_ROWS:
                        break
                    try:
                        question, options, answer = _mcq_row(bench.mcq, row)
                    except _Skip as why:
                        report.skipped[str(why)] = report.skipped.get(str(why), 0) + 1
                        continue
                    kept.append((str(row.get("id", i)), question, options, answer))
                if not kept and report.skipped:
                    reasons = ", ".join(report.skipped)
                    raise UserError(f"{bench.name}: no row of {config or 'default'}/{split} could be converted ({reasons}); "
                                    f"is the source {bench.hf_id}?")  # fmt: skip
                name = f"{subset}_{role}.csv"
                _write_mcq(to / name, kept)
                report.rows[name] = len(kept)
        else:
            spec = bench.qa or {}
            shots = [[str(r[spec["query"]]), str(r[spec["response"]])] for r, _ in zip(
                _rows(bench, config, bench.few_shot_split, source), range(spec.get("history_shots", 0)), strict=False)]  # fmt: skip
            lines = [json.dumps({"id": str(r.get("id", i)), "query": str(r[spec["query"]]), "response": str(r[spec["response"]]),
                                 **({"history": shots} if shots else {})}, ensure_ascii=False)
                     for i, r in enumerate(_rows(bench, config, bench.eval_split, source))]  # fmt: skip
            name = f"{subset}.jsonl"
            (to / name).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
            report.rows[name] = len(lines)
    _notice(bench, report)
    return report


def _notice(bench: Benchmark, report: PullReport) -> None:
    skipped = "".join(f"- {why}: {n}\n" for why, n in sorted(report.skipped.items())) or "- none\n"
    text = (
        f"{bench.title} ({bench.name}), converted to {bench.format} by harness {provenance.harness_version()} "
        f"on {datetime.date.today().isoformat()}.\n\n"
        f"Source: {report.revision}\nHugging Face dataset: https://huggingface.co/datasets/{bench.hf_id}\n"
        f"Evaluated split: {bench.eval_split}; few-shot pool: the first {DEV_ROWS} rows of {bench.few_shot_split}\n"
        f"Licence: {bench.licence}. The data keeps its licence; this folder is a conversion, not a relicensing.\n"
        f"Cite: {bench.citation}\n\nRows written:\n" + "".join(f"- {f}: {n}\n" for f, n in sorted(report.rows.items()))
        + f"\nRows left out ({bench.format} cannot hold them):\n{skipped}"
        + (f"\nConfigs not in the local copy, not written: {', '.join(report.missing)}\n" if report.missing else "")
    )  # fmt: skip
    (report.folder / "NOTICE").write_text(text, encoding="utf-8")
