"""Where `harness data pull` reads from: the hub, or a local copy (a snapshot, a hub cache folder, loose files).

`resolve_source` picks one revision of a hub cache folder; `_files` finds a config's split among the local
files (refusing two copies of a shard); `_rows` reads them with Hugging Face `datasets`, after checking that
text files decode (`--encoding`) and that the columns the entry reads are there; `_revision` is the hub sha or
a sha256 of exactly the files read (streamed: an unrelated large file is never opened).
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core import provenance
from harness.core.errors import UserError
from harness.core.names import printable
from harness.tasks.catalog import Benchmark

__all__ = ["SUFFIXES", "Source", "needed_columns", "resolve_source"]

SUFFIXES = {".parquet": "parquet", ".arrow": "arrow", ".csv": "csv", ".jsonl": "json", ".json": "json"}
_SUFFIXES = SUFFIXES


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


needed_columns = _needed_columns
