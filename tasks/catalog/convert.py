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

A row that general_mcq cannot hold (fewer than 2 options, a gap, more options than it has letters, an answer that is
not an option, an empty cell, a control character such as NUL in a cell) is left out, counted in the
manifest, the NOTICE and the line printed; nothing is left out silently. A column the mapping needs that
the files lack, or a file that is not in the encoding given (`--encoding`, UTF-8 by default), is one line
naming the file. The few-shot split keeps its first `DEV_ROWS` rows (lm-eval's `first_n` sampler reads only those).

The folder is written whole and swapped into place with its manifest (harness.core.folders,
harness.tasks.catalog.manifest): a pull that fails or is killed leaves the previous complete benchmark,
or nothing that evaluates; a re-pull replaces every file, so no stale subject survives. A hub cache
folder holding several revisions is read at `--revision`, or at the revision `refs/main` names (said in
one line), never both.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core import provenance
from harness.core.errors import UserError
from harness.core.folders import StagedFolder
from harness.core.names import has_control, printable
from harness.tasks.catalog import Benchmark
from harness.tasks.catalog.manifest import KIND, render_notice
from harness.tasks.catalog.sources import Source, _files, _revision, _rows, resolve_source
from harness.tasks.sample import LETTERS

__all__ = ["DEV_ROWS", "PullReport", "Source", "hellaswag_preprocess", "pull", "resolve_source"]  # Source, resolve_source: sources

DEV_ROWS = 25


@dataclass
class PullReport:
    """What a pull wrote: the folder, rows per file, rows left out and why, and the source's revision."""

    folder: Path
    missing: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    revision: str = ""
    note: str = ""  # which revision of a hub cache folder was read, when it held several

    def line(self) -> str:
        """The one line printed when done."""
        total = sum(n for f, n in self.rows.items() if not f.endswith("_dev.csv"))
        left = f"; {sum(self.skipped.values())} row(s) left out ({', '.join(f'{k}: {v}' for k, v in sorted(self.skipped.items()))})"
        absent = f"; {len(self.missing)} config(s) not in the local copy, not written ({', '.join(self.missing[:5])}" + (
            ", ..." if len(self.missing) > 5 else "") + ")"  # fmt: skip
        return printable(f"wrote {total} evaluated rows in {len(self.rows)} file(s) to {self.folder}" + (left if self.skipped else "")
                         + (absent if self.missing else ""), 1000)  # fmt: skip


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
    """A cell as text: strings as they are, numbers written out (pandas reads "36.5" from a CSV as a float).

    A control character other than tab and line breaks (NUL, escape...) makes the row unusable: it is left out
    here, with its reason, rather than passed on to fail the whole file at evaluation.
    """
    if isinstance(value, str):
        if has_control(value.replace("\t", " ").replace("\n", " ").replace("\r", " ")):
            raise _Skip("control character in a cell")
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _required(value: Any, what: str) -> str:
    """A cell that must hold text: a null or empty cell leaves the row out (never the text "None")."""
    text = _text(value)
    if text is None or not text.strip():
        raise _Skip(f"empty {what}")
    return text


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
        question = _required(row.get(spec["question"]), "question")
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
    elif how == "labels_true":  # a 0/1 label per option (TruthfulQA): every option labelled 1 is an answer
        if not isinstance(answer, list | tuple) or len(answer) != len(_field(row, spec["choices"]) or []):
            raise _Skip("labels do not match the options")
        true = [i for i, label in enumerate(answer) if label == 1 and i < len(options)]
        if not true:
            raise _Skip("no option labelled true")
        return question, options, "".join(LETTERS[i] for i in true)
    else:
        raise UserError(f"catalogue: unknown answer_as {how!r}")
    if not 0 <= index < len(options):
        raise _Skip("answer is not an option")
    return question, options, LETTERS[index]


def _mcq_text(rows: Sequence[tuple[str, str, list[str], str]]) -> str:
    width = max((len(options) for _, _, options, _ in rows), default=2)
    buf = io.StringIO(newline="")
    out = csv.writer(buf)
    out.writerow(["id", "question", *LETTERS[:width], "answer"])
    for row_id, question, options, answer in rows:
        out.writerow([row_id, question, *options, *[""] * (width - len(options)), answer])
    return buf.getvalue()


def _row_id(row: dict[str, Any], i: int) -> str:
    value = row.get("id", i)
    text = _text(value) if value is not None else None
    return text if text is not None and text.strip() else str(i)


def pull(bench: Benchmark, to: Path, source: Source | Path | None = None, *, force: bool = False) -> PullReport:
    """Convert every config of `bench` into `to`, written whole and swapped into place (see the module docstring)."""
    src = source if isinstance(source, Source) else Source(source)
    report = PullReport(to, note=src.note)
    configs = list(bench.configs)
    if src.path is not None:  # a partial snapshot (some subjects) converts what it holds, and says what it lacks
        report.missing = [str(c) for c in configs if not _files(src.path, c, bench.eval_split)]
        configs = [c for c in configs if str(c) not in report.missing]
        if not configs:
            example = (
                f"{bench.configs[0]}/{bench.eval_split}-00000-of-00001.parquet"
                if bench.configs[0]
                else f"data/{bench.eval_split}-*.parquet"
            )
            raise UserError(
                f"{bench.name}: no {bench.eval_split} file for any config under {printable(str(src.path))} "
                f"(expected the hub's layout, e.g. {example})"
            )
    report.revision = _revision(bench, src, configs)
    with StagedFolder(to, KIND, force=force) as folder:
        for config in configs:
            subset = bench.subset(config)
            if bench.mcq is not None:
                roles = (("val", bench.eval_split), ("dev", bench.few_shot_split))
                for role, split in ((r, sp) for r, sp in roles if sp is not None):
                    kept: list[tuple[str, str, list[str], str]] = []
                    for i, row in enumerate(_rows(bench, config, split, src)):
                        if role == "dev" and len(kept) >= DEV_ROWS:
                            break
                        try:
                            question, options, answer = _mcq_row(bench.mcq, row)
                            kept.append((_row_id(row, i), question, options, answer))
                        except _Skip as why:
                            report.skipped[str(why)] = report.skipped.get(str(why), 0) + 1
                    if not kept and report.skipped:
                        reasons = ", ".join(report.skipped)
                        raise UserError(f"{bench.name}: no row of {config or 'default'}/{split} could be converted ({reasons}); "
                                        f"is the source {bench.hf_id}?")  # fmt: skip
                    name = f"{subset}_{role}.csv"
                    folder.write_text(name, _mcq_text(kept), rows=len(kept))
                    report.rows[name] = len(kept)
            else:
                name = f"{subset}.jsonl"
                lines = _qa_lines(bench, config, src, report)
                folder.write_text(name, "".join(line + "\n" for line in lines), rows=len(lines))
                report.rows[name] = len(lines)
        meta = _meta(bench, report)
        folder.write_text("NOTICE", render_notice(meta, folder.files))
        folder.commit(meta)
    return report


def _qa_lines(bench: Benchmark, config: str | None, src: Source, report: PullReport) -> list[str]:
    """general_qa lines of one config: query and response, with the first few-shot rows as each line's history."""
    spec = bench.qa or {}

    def pair(row: dict[str, Any]) -> tuple[str, str]:
        return _required(row.get(spec["query"]), "query"), _required(row.get(spec["response"]), "response")

    shots: list[list[str]] = []
    for row in _rows(bench, config, bench.few_shot_split, src) if bench.few_shot_split is not None else ():
        if len(shots) >= spec.get("history_shots", 0):
            break
        try:
            shots.append(list(pair(row)))
        except _Skip:
            continue  # a few-shot example must be whole: the next row takes its place
    lines = []
    for i, row in enumerate(_rows(bench, config, bench.eval_split, src)):
        try:
            query, response = pair(row)
        except _Skip as why:
            report.skipped[str(why)] = report.skipped.get(str(why), 0) + 1
            continue
        lines.append(json.dumps({"id": _row_id(row, i), "query": query, "response": response, **({"history": shots} if shots else {})},
                                ensure_ascii=False))  # fmt: skip
    if not lines:
        raise UserError(f"{bench.name}: no row of {config or 'default'}/{bench.eval_split} could be converted "
                        f"({', '.join(report.skipped) or 'no rows'}); is the source {bench.hf_id}?")  # fmt: skip
    return lines


def _meta(bench: Benchmark, report: PullReport) -> dict[str, Any]:
    """What the manifest says besides its files (and NOTICE renders)."""
    return {
        "benchmark": bench.name, "title": bench.title, "format": bench.format, "hf_id": bench.hf_id, "source": report.revision,
        "eval_split": bench.eval_split, "few_shot_split": bench.few_shot_split, "dev_rows": DEV_ROWS, "licence": bench.licence,
        "citation": bench.citation, "left_out": dict(sorted(report.skipped.items())), "missing_configs": report.missing,
        "made_by": f"harness {provenance.harness_version()}", "date": datetime.date.today().isoformat(),
    }  # fmt: skip
