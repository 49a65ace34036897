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

import codecs
import csv
import datetime
import hashlib
import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core import provenance
from harness.core.errors import UserError
from harness.core.folders import StagedFolder
from harness.core.names import has_control, printable
from harness.tasks.catalog import Benchmark
from harness.tasks.catalog.manifest import KIND, render_notice
from harness.tasks.sample import LETTERS

__all__ = ["DEV_ROWS", "PullReport", "Source", "hellaswag_preprocess", "pull", "resolve_source"]

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


@dataclass(frozen=True)
class Source:
    """Where a pull reads from: the hub (`path` None), or a local copy, with the options that say how to read it."""

    path: Path | None = None
    encoding: str | None = None
    note: str = ""  # which revision of a hub cache folder is read, when it held several


def resolve_source(bench: Benchmark, path: Path | None, *, revision: str | None = None, encoding: str | None = None) -> Source:
    """The folder to read under `--from`: a hub cache folder (`datasets--org--name/snapshots/REV`) is resolved to one revision.

    Several revisions: `--revision` picks one; else the revision `refs/main` names, said in one line; else one line
    naming them. A snapshot's own folder, or loose files, are read as they are.
    """
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise UserError(f"--encoding {printable(encoding, 40)}: unknown encoding; use a Python codec name such as gbk") from None
    if path is None:
        return Source(None, encoding)
    repo = path
    cache_name = "datasets--" + bench.hf_id.replace("/", "--")
    if (path / cache_name).is_dir():  # the hub cache root (~/.cache/huggingface/hub)
        repo = path / cache_name
    snapshots = repo / "snapshots" if (repo / "snapshots").is_dir() else repo if repo.name == "snapshots" else None
    if snapshots is None:
        if revision is not None:
            raise UserError(f"--revision {printable(revision, 60)}: {printable(str(path))} is not a hub cache folder (no snapshots/); "
                            "drop --revision, or point --from at the cache folder")  # fmt: skip
        return Source(path, encoding)
    revisions = sorted(p.name for p in snapshots.iterdir() if p.is_dir())
    if revision is not None:
        if revision not in revisions:
            raise UserError(f"--revision {printable(revision, 60)}: not under {printable(str(snapshots))} (there: "
                            f"{', '.join(revisions) or 'none'})")  # fmt: skip
        return Source(snapshots / revision, encoding)
    if len(revisions) == 1:
        return Source(snapshots / revisions[0], encoding)
    main = snapshots.parent / "refs" / "main"
    named = main.read_text(encoding="utf-8").strip() if main.is_file() else ""
    if named in revisions:
        others = len(revisions) - 1
        return Source(snapshots / named, encoding, f"read revision {named} (refs/main) of {len(revisions)} in {snapshots}; "
                      f"{others} other(s) ignored (--revision REV picks one)")  # fmt: skip
    raise UserError(f"--from {printable(str(path))} holds {len(revisions) or 'no'} revisions ({', '.join(revisions[:4])}) and no "
                    "refs/main naming one; pass --revision REV")  # fmt: skip


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

    found = [p for p in candidates if matches(p)]
    by_name: dict[str, Path] = {}
    for p in found:  # one shard twice (two copies, two revisions side by side) would count every question twice
        if p.name in by_name:
            raise UserError(f"{printable(str(source))}: two copies of {printable(p.name, 80)} for {config or 'default'}/{split} "
                            f"({printable(str(by_name[p.name].parent), 80)} and {printable(str(p.parent), 80)}); point --from at "
                            "one snapshot")  # fmt: skip
        by_name[p.name] = p
    return found


def _check_encoding(path: Path, encoding: str | None) -> None:
    """A text file that does not decode is one line naming it and `--encoding` (read in blocks: any size, little memory)."""
    if _SUFFIXES.get(path.suffix) not in ("csv", "json"):
        return
    name = encoding or "utf-8"
    decoder = codecs.getincrementaldecoder(name)()
    offset = 0
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                raise UserError(f"{printable(str(path))}: not valid {name.upper() if name == 'utf-8' else name} (byte 0x"
                                f"{block[exc.start]:02x} at offset {offset + exc.start}); pass its encoding, e.g. --encoding gbk"
                                ) from None  # fmt: skip
            offset += len(block)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise UserError(
                f"{printable(str(path))}: not valid {name} (cut off at the end); pass its encoding, e.g. --encoding gbk"
            ) from None


def _needed_columns(bench: Benchmark) -> list[str]:
    """The top-level columns the entry's mapping reads."""
    if bench.mcq is not None:
        spec = bench.mcq
        if spec.get("preprocess") == "hellaswag":
            cols = ["activity_label", "ctx_a", "ctx_b", "endings"]
        else:
            cols = [spec["question"], *(spec["choices"] if isinstance(spec["choices"], list) else [spec["choices"]])]
        cols += [spec["answer"], *([spec["labels"]] if "labels" in spec else [])]
    else:
        cols = [(bench.qa or {})["query"], (bench.qa or {})["response"]]
    return list(dict.fromkeys(c.split(".")[0] for c in cols))


def _rows(bench: Benchmark, config: str | None, split: str, source: Source) -> Iterator[dict[str, Any]]:
    try:
        import datasets
    except ImportError:
        raise UserError("harness data pull needs the `datasets` library: pip install 'harness[evaluate]'") from None
    datasets.disable_progress_bars()
    if source.path is None:
        try:
            data = datasets.load_dataset(bench.hf_id, config, split=split)
        except Exception as exc:  # offline, a missing config, the hub refusing: one line
            first = " ".join(str(exc).split())[:200]
            raise UserError(f"{bench.name}: cannot read {bench.hf_id} ({config or 'default'}, {split}) from the hub ({type(exc).__name__}: "
                            f"{printable(first)}); run it online once, or pass --from a local copy") from None  # fmt: skip
        where = bench.hf_id
    else:
        files = _files(source.path, config, split)
        if not files:
            example = f"{config}/{split}-00000-of-00001.parquet" if config else f"data/{split}-00000-of-00001.parquet"
            raise UserError(f"{bench.name}: no file for config {config or 'default'}, split {split} under {printable(str(source.path))} "
                            f"(expected the hub's layout, e.g. {example})")  # fmt: skip
        kinds = {_SUFFIXES[p.suffix] for p in files}
        if len(kinds) > 1:
            names = ", ".join(p.relative_to(source.path).as_posix() if source.path.is_dir() else p.name for p in files)
            raise UserError(f"{bench.name}: mixed file types for {config or 'default'}/{split} under {printable(str(source.path))}: "
                            f"{printable(names, 400)}; keep one kind")  # fmt: skip
        for path in files:
            _check_encoding(path, source.encoding)
        kind = kinds.pop()
        options = {"encoding": source.encoding} if source.encoding and kind in ("csv", "json") else {}
        try:
            data = datasets.load_dataset(kind, data_files=[str(p) for p in files], split="train", **options)
        except Exception as exc:
            first = " ".join(str(exc).split())[:200]
            raise UserError(
                f"{printable(str(files[0]))}: cannot be read as a data set ({type(exc).__name__}: {printable(first)})"
            ) from None
        where = printable(str(files[0])) + (f" (and {len(files) - 1} more)" if len(files) > 1 else "")
    lacking = [c for c in _needed_columns(bench) if c not in (data.column_names or [])]
    if lacking:
        raise UserError(f"{where}: no column {printable(lacking[0], 60)!r} ({bench.name} reads {', '.join(_needed_columns(bench))}; "
                        f"the file has {printable(', '.join(data.column_names or []), 120)}); is it a copy of {bench.hf_id}?")  # fmt: skip
    yield from data


def _revision(bench: Benchmark, source: Source, configs: Sequence[str | None]) -> str:
    """The hub revision, or for a local copy a sha256 of the files the pull reads (streamed; other files are never read)."""
    if source.path is not None:
        h = hashlib.sha256()
        seen: set[Path] = set()
        for config in configs:
            for split in dict.fromkeys(sp for sp in (bench.eval_split, bench.few_shot_split) if sp is not None):
                for p in _files(source.path, config, split):
                    if p in seen:
                        continue
                    seen.add(p)
                    rel = p.relative_to(source.path).as_posix() if source.path.is_dir() else p.name
                    h.update(rel.encode("utf-8", "surrogatepass") + b"\0" + provenance.file_sha256(p).encode() + b"\0")
        return f"local copy {source.path} (sha256 {h.hexdigest()[:16]} of the {len(seen)} file(s) read)"
    try:
        from huggingface_hub import HfApi

        return f"{bench.hf_id}@{HfApi().dataset_info(bench.hf_id).sha}"
    except Exception:
        return f"{bench.hf_id} (revision unknown)"


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
