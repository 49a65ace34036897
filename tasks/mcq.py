"""general_mcq: `{subset}_val.csv` (evaluated) and optional `{subset}_dev.csv` (few-shot pool).

Columns: optional `id`, `question`, option columns `A`..`J` in order, `answer`; any other column is
kept as metadata and `category` drives the per-category breakdown. The same records may come as
`{subset}_val.jsonl` / `{subset}_dev.jsonl`.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from harness.core.errors import HarnessWarning
from harness.tasks.args import DatasetArgs
from harness.tasks.discovery import find_subsets, resolve_folder
from harness.tasks.errors import DataError, RowError, skip_or_raise
from harness.tasks.files import CsvRecord, read_csv, read_jsonl
from harness.tasks.modes import ScoringMode
from harness.tasks.prompts import MCQItem, detect_language, mcq_messages, mcq_style, subject_name
from harness.tasks.sample import LETTERS, Sample

__all__ = ["LoadedTask", "load_mcq", "mcq_files"]


@dataclass
class LoadedTask:
    """What a loader hands the runner: samples, files read, and rows skipped."""

    samples: list[Sample]
    files: list[Path]
    skipped: int = 0
    language: str = "en"
    languages: dict[str, str] = field(default_factory=dict)  # per subset, where they differ
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Row:
    line: int
    id: str
    item: MCQItem
    category: str | None
    metadata: dict[str, str]


def mcq_files(task: str, args: DatasetArgs) -> list[Path]:
    """The files `load_mcq` reads (evaluated files, then few-shot pools), found without parsing them."""
    folder = resolve_folder(task, args.local_path)
    val_files = find_subsets(task, folder, ("_val.csv", "_val.jsonl"), args.subset_list, "{subset}_val.csv")
    dev_files = [d for d in (_dev_file(p) for p in val_files.values()) if d is not None] if args.few_shot_num else []
    return [*val_files.values(), *dev_files]


def load_mcq(task: str, args: DatasetArgs, scoring: ScoringMode) -> LoadedTask:
    """Load every selected subset, validate each row and build its prompt."""
    folder = resolve_folder(task, args.local_path)
    val_files = find_subsets(task, folder, ("_val.csv", "_val.jsonl"), args.subset_list, "{subset}_val.csv")
    skipped = 0
    rows: dict[str, list[_Row]] = {}
    shots: dict[str, list[MCQItem]] = {}
    files: list[Path] = []
    for subset, path in val_files.items():
        rows[subset], bad = _read_rows(path, args)
        skipped += bad
        if not rows[subset]:
            raise DataError(path, "no data rows (header only)", fix="add question rows under the header")
        files.append(path)
        shots[subset] = []
        if args.few_shot_num:
            dev = _dev_file(path)
            if dev is None:
                raise DataError(
                    path,
                    f"few_shot_num is {args.few_shot_num} but there is no {subset}_dev.csv",
                    fix="add the dev file or set few_shot_num to 0",
                )
            dev_rows, bad = _read_rows(dev, args)
            skipped += bad
            files.append(dev)
            shots[subset] = [r.item for r in dev_rows[: args.few_shot_num]]
    # Language (and so the template, answer cue and delimiter) is decided per subset: one folder may
    # hold an English and a Chinese subset, as the built-in data does.
    languages = {
        subset: args.language if args.language != "auto" else detect_language([r.item.question for r in subset_rows])
        for subset, subset_rows in rows.items()
    }
    styles = {subset: mcq_style(args, language, scoring, subject=subject_name(args, subset)) for subset, language in languages.items()}
    samples = [
        Sample(
            task=task,
            subset=subset,
            index=i,
            id=row.id,
            messages=mcq_messages(row.item, styles[subset], shots[subset]),
            reference=",".join(row.item.answer),
            line=row.line,
            choices=row.item.choices,
            answer=row.item.answer,
            answer_prefix=styles[subset].answer_prefix,
            target_delimiter=styles[subset].target_delimiter,
            # Cloze compares option texts as plain continuations, lm-eval style, unless asked otherwise.
            chat_template=False if scoring is ScoringMode.CLOZE and args.chat_template is None else args.chat_template,
            category=row.category,
            question=row.item.question,
            metadata=row.metadata,
        )
        for subset, subset_rows in rows.items()
        for i, row in enumerate(subset_rows)
    ]
    distinct = set(languages.values())
    return LoadedTask(samples, files, skipped, distinct.pop() if len(distinct) == 1 else "mixed", languages)


def _dev_file(val: Path) -> Path | None:
    for suffix in (".csv", ".jsonl"):
        candidate = val.with_name(val.name.rsplit("_val.", 1)[0] + "_dev" + suffix)
        if candidate.is_file():
            return candidate
    return None


def _records(path: Path, args: DatasetArgs) -> Iterator[CsvRecord | RowError]:
    if path.suffix == ".csv":
        header, records = read_csv(path, args.encoding)
        _check_header(path, header)
        yield from records
        return
    for rec in read_jsonl(path, args.encoding):
        if isinstance(rec, RowError):
            yield rec
            continue
        cells = {str(k): _cell(v) for k, v in rec.value.items()}
        yield CsvRecord(rec.line, cells)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _check_header(path: Path, header: list[str]) -> None:
    for column in ("question", "answer"):
        if column not in header:
            raise DataError(
                path, f'missing column "{column}" (header: {",".join(header)})', line=1, fix="name the columns id,question,A,B,...,answer"
            )
    options = [h for h in header if len(h) == 1 and h in LETTERS]
    expected = LETTERS[: len(options)]
    if "".join(sorted(options)) != expected:
        raise DataError(
            path, f"option columns {','.join(sorted(options))} have a gap", line=1, fix=f"name them {','.join(expected)} in order"
        )
    if len(options) < 2:
        raise DataError(path, "fewer than 2 option columns", line=1, fix="add option columns A,B,...")


def _read_rows(path: Path, args: DatasetArgs) -> tuple[list[_Row], int]:
    rows: list[_Row] = []
    skipped = 0
    seen: dict[str, int] = {}
    for rec in _records(path, args):
        try:
            if isinstance(rec, RowError):
                raise rec
            row = _parse_row(path, rec, args.multiple_correct, len(rows), strip=args.strip_question)
        except RowError as err:
            skip_or_raise(err, args.on_bad_row)
            skipped += 1
            continue
        if row.id in seen:
            warnings.warn(f"{path} line {row.line}: duplicate id {row.id!r} (first on line {seen[row.id]})", HarnessWarning, stacklevel=2)
        seen.setdefault(row.id, row.line)
        rows.append(row)
    return rows, skipped


def _parse_row(path: Path, rec: CsvRecord, multiple: bool, index: int, *, strip: bool = False) -> _Row:
    cells = rec.cells
    if "question" not in cells or "answer" not in cells:
        missing = "question" if "question" not in cells else "answer"
        raise RowError(path, f'no "{missing}" field', line=rec.line, fix='every line needs "question" and "answer"')
    question = cells["question"].strip() if strip else cells["question"]
    if not question.strip():
        raise RowError(path, "empty question", line=rec.line, fix="fill in the question or delete the row")
    present = [c for c in LETTERS if c in cells]
    values = [cells[c] for c in present]
    while values and not values[-1].strip():
        values.pop()
    for letter, value in zip(present, values, strict=False):
        if not value.strip():
            later = present[len(values) - 1]
            raise RowError(
                path, f"option {letter} is empty but {later} is not", line=rec.line, fix="options must be filled from A without gaps"
            )
    if len(values) < 2:
        raise RowError(path, f"{len(values)} option(s); at least 2 are needed", line=rec.line, fix="fill in options A and B")
    letters = LETTERS[: len(values)]
    answer = _parse_answer(path, rec.line, cells["answer"], letters, multiple)
    known = set(present) | {"id", "question", "answer"}
    metadata = {k: v for k, v in cells.items() if k not in known}
    category = metadata.get("category") or None
    row_id = cells.get("id", "").strip() or str(index)
    return _Row(rec.line, row_id, MCQItem(question, tuple(values), answer), category, metadata)


_SEPARATORS = re.compile(r"[\s,，;；]+")


def _parse_answer(path: Path, line: int, raw: str, letters: str, multiple: bool) -> tuple[str, ...]:
    text = raw.strip().upper()
    if multiple:
        if text.startswith("["):
            try:
                parts = [str(x).strip().upper() for x in json.loads(text)]
            except (json.JSONDecodeError, TypeError):
                raise RowError(path, f"answer {raw!r} is not a JSON list", line=line, fix='write e.g. ["A","C"]') from None
        elif _SEPARATORS.search(text):
            parts = [p for p in _SEPARATORS.split(text) if p]
        else:
            parts = list(text)
    else:
        parts = [text]
    if not parts or any(p not in letters for p in parts):
        hint = (
            "several letters need dataset arg multiple_correct: true"
            if not multiple and len(text) > 1 and set(text) <= set(letters + ", ")
            else f"use one of {','.join(letters)}"
        )
        raise RowError(path, f"answer {raw!r} is not among the options {','.join(letters)}", line=line, fix=hint)
    return tuple(sorted(set(parts)))
