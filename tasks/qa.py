"""general_qa: `{subset}.jsonl`, one item per line, in any of the shapes EvalScope users write.

- `{"system"?, "query" | "question", "response" | "answer", "history"?: [[q, a], ...]}`
- `{"messages": [{"role": ..., "content": ...}, ...]}`: the last assistant message is the
  reference, everything before it the prompt.
- share-gpt: `{"system"?, "conversation": [{"human": ..., "assistant": ...}, ...]}`: the last
  assistant turn is the reference.

Dataset arg `system_prompt` (with `{subject}`, the subset's name) is the system message of every line
that has none of its own; a line's own `system` (or system turn) wins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.tasks.args import DatasetArgs
from harness.tasks.discovery import find_subsets, resolve_folder
from harness.tasks.errors import DataError, RowError, skip_or_raise
from harness.tasks.files import read_jsonl
from harness.tasks.mcq import LoadedTask
from harness.tasks.prompts import detect_language, fill, subject_name
from harness.tasks.sample import Message, Sample

__all__ = ["EVALSCOPE_QUERY_PREFIX", "load_qa", "parse_qa_line", "qa_files"]

EVALSCOPE_QUERY_PREFIX = "请回答问题\n"


def qa_files(task: str, args: DatasetArgs) -> list[Path]:
    """The files `load_qa` reads, found without parsing them."""
    return list(find_subsets(task, resolve_folder(task, args.local_path), (".jsonl",), args.subset_list, "{subset}.jsonl").values())


def load_qa(task: str, args: DatasetArgs) -> LoadedTask:
    """Load every selected `{subset}.jsonl`, one `Sample` per line."""
    folder = resolve_folder(task, args.local_path)
    files = find_subsets(task, folder, (".jsonl",), args.subset_list, "{subset}.jsonl")
    samples: list[Sample] = []
    skipped = 0
    for subset, path in files.items():
        count = 0
        system = args.system_prompt.replace("{subject}", subject_name(args, subset)) if args.system_prompt else None
        for rec in read_jsonl(path, args.encoding):
            try:
                if isinstance(rec, RowError):
                    raise rec
                messages, reference = parse_qa_line(path, rec.line, rec.value, args, system=system)
            except RowError as err:
                skip_or_raise(err, args.on_bad_row)
                skipped += 1
                continue
            meta = {k: str(v) for k, v in rec.value.items() if isinstance(v, str | int | float) and k not in _KNOWN}
            row_id = str(rec.value.get("id", count))
            samples.append(
                Sample(
                    task,
                    subset,
                    count,
                    row_id,
                    messages,
                    reference,
                    line=rec.line,
                    chat_template=args.chat_template,
                    category=meta.get("category"),
                    metadata=meta,
                )
            )
            count += 1
        if count == 0 and skipped == 0:
            raise DataError(path, "empty file", fix='one JSON object per line, e.g. {"query": "...", "response": "..."}')
    language = detect_language([s.reference for s in samples])
    return LoadedTask(samples, list(files.values()), skipped, language)


_KNOWN = {"system", "query", "question", "response", "answer", "history", "messages", "conversation", "id"}


def _text(path: Path, line: int, value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise RowError(path, f"{what} must be a string, got {type(value).__name__}", line=line)
    return value


def parse_qa_line(
    path: Path, line: int, obj: dict[str, Any], args: DatasetArgs, *, system: str | None = None
) -> tuple[tuple[Message, ...], str]:
    """Return (prompt messages, reference) for one JSONL object, or raise `RowError`; `system` is used when the line has none."""
    if "messages" in obj:
        prompt, reference = _from_messages(path, line, obj["messages"])
        if system and prompt[0]["role"] != "system":
            prompt = ({"role": "system", "content": system}, *prompt)
        return prompt, reference
    messages: list[Message] = []
    if obj.get("system"):
        messages.append({"role": "system", "content": _text(path, line, obj["system"], "system")})
    elif system:
        messages.append({"role": "system", "content": system})
    if "conversation" in obj:
        turns = obj["conversation"]
        if not isinstance(turns, list) or not turns or not all(isinstance(t, dict) for t in turns):
            raise RowError(path, "conversation must be a non-empty list of {human, assistant} objects", line=line)
        for turn in turns[:-1]:
            messages.append({"role": "user", "content": _text(path, line, turn.get("human"), "human")})
            messages.append({"role": "assistant", "content": _text(path, line, turn.get("assistant"), "assistant")})
        last = turns[-1]
        if "assistant" not in last:
            raise RowError(
                path, "the last conversation turn has no assistant reply", line=line, fix="add the reference as its assistant field"
            )
        messages.append({"role": "user", "content": args.query_prefix + _text(path, line, last.get("human"), "human")})
        return tuple(messages), _text(path, line, last["assistant"], "assistant")
    query = obj.get("query", obj.get("question"))
    if query is None:
        raise RowError(path, 'no "query" (or "question" or "messages")', line=line, fix='add "query": "..."')
    expected = obj.get("response", obj.get("answer"))
    if expected is None:
        raise RowError(path, 'no reference ("response" or "answer")', line=line, fix='add "response": "..."')
    history = obj.get("history") or []
    if not isinstance(history, list) or not all(isinstance(h, list) and len(h) == 2 for h in history):
        raise RowError(path, "history must be a list of [query, response] pairs", line=line)
    for q, a in history:
        messages.append({"role": "user", "content": _templated(args, _text(path, line, q, "history query"))})
        messages.append({"role": "assistant", "content": _text(path, line, a, "history response")})
    messages.append({"role": "user", "content": _templated(args, args.query_prefix + _text(path, line, query, "query"))})
    return tuple(messages), _text(path, line, expected, "response")


def _templated(args: DatasetArgs, query: str) -> str:
    """A user turn through `prompt_template`, where `{question}` is the query (lm-eval's GSM8K turns: Question/Answer)."""
    if not args.prompt_template:
        return query
    return fill(args.prompt_template, {"question": query})


def _from_messages(path: Path, line: int, raw: Any) -> tuple[tuple[Message, ...], str]:
    if not isinstance(raw, list) or not all(isinstance(m, dict) and "role" in m and "content" in m for m in raw):
        raise RowError(path, "messages must be a list of {role, content} objects", line=line)
    last_assistant = max((i for i, m in enumerate(raw) if m["role"] == "assistant"), default=None)
    if last_assistant is None:
        raise RowError(
            path,
            "messages has no assistant turn to use as the reference",
            line=line,
            fix="end the list with the reference assistant message",
        )
    prompt: list[Message] = []
    for m in raw[:last_assistant]:
        if m["role"] not in ("system", "user", "assistant"):
            raise RowError(path, f"unknown role {m['role']!r} in messages", line=line, fix="use system, user or assistant")
        prompt.append({"role": m["role"], "content": _text(path, line, m["content"], "content")})
    if not prompt:
        raise RowError(path, "messages has nothing before the assistant turn", line=line, fix="add the user question before it")
    return tuple(prompt), _text(path, line, raw[last_assistant]["content"], "content")
