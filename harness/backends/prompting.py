r"""Render chat messages into the exact text a local model sees, and join scored continuations.

Chat mode: the tokenizer's chat template with the generation prompt, then `answer_prefix`.
Plain mode (lm-eval's default, `chat_template: false`): turns joined by blank lines; an
assistant reply follows its user turn after a newline when the prompt has an answer prefix
("...\nANSWER: B"), else after the target delimiter ("Question: ...\nAnswer: Paris").

A continuation carries the delimiter at its start (lm-eval style): " A" after "ANSWER:",
"A" after "答案：", and no delimiter right after a chat template's assistant header.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

from harness.backends.base import ChoiceRequest
from harness.core.errors import UserError
from harness.tasks.sample import Message

# Ids only: building attention masks per text doubled the tokenizer call's time.
_ENCODE = {"add_special_tokens": False, "return_attention_mask": False}

__all__ = ["PairEncoder", "chat_mode", "encode_many", "join_continuation", "render_context", "render_plain"]


def render_plain(messages: Sequence[Message], answer_prefix: str, delimiter: str) -> str:
    """Plain-text rendering of a chat prompt, ending where the answer should start."""
    join = "\n" if answer_prefix else delimiter
    blocks: list[str] = []
    for m in messages:
        if m["role"] == "assistant" and blocks:
            blocks[-1] += join + m["content"]
        else:
            blocks.append(m["content"])
    text = "\n\n".join(blocks)
    return text + ("\n" + answer_prefix if answer_prefix else "")


def render_context(tokenizer: Any, messages: Sequence[Message], *, chat: bool, answer_prefix: str = "", delimiter: str = " ") -> str:
    """The prompt text up to where the model's answer starts."""
    if chat:
        text = tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        return str(text) + answer_prefix
    return render_plain(messages, answer_prefix, delimiter)


def join_continuation(continuation: str, *, chat: bool, answer_prefix: str, delimiter: str) -> str:
    """The continuation text as scored: with the delimiter unless it directly follows a chat header."""
    if chat and not answer_prefix:
        return continuation
    return delimiter + continuation


def chat_mode(tokenizer: Any, flag: bool | None) -> bool:
    """Whether to apply the chat template: the dataset's choice, else whenever the tokenizer has one."""
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if flag and not has_template:
        raise UserError("chat_template: true, but this tokenizer has no chat template")
    return has_template if flag is None else flag


def encode_many(
    tokenizer: Any, requests: Sequence[ChoiceRequest], contexts: Sequence[str | None] | None = None
) -> list[tuple[str, list[int], list[list[int]]]]:
    """(context text, context ids, ids of each continuation) per request: the exact token sequences every backend scores.

    Split the way lm-eval's `_encode_pair` does: spaces ending the context move to the start of the
    continuation, and a continuation's ids are those of context + continuation after the context's.
    Each distinct text is tokenized once, in batched calls (`PairEncoder`), never a whole context
    again per option. `contexts` may carry contexts already rendered (`render_context`), so a
    template runs once per request.
    """
    renders = []
    for n, req in enumerate(requests):
        chat = chat_mode(tokenizer, req.chat_template)
        context = (contexts[n] if contexts else None) or render_context(
            tokenizer, req.messages, chat=chat, answer_prefix=req.answer_prefix, delimiter=req.target_delimiter
        )
        stripped = context.rstrip(" ")
        spaces = context[len(stripped) :]
        joined = [
            spaces + join_continuation(c, chat=chat, answer_prefix=req.answer_prefix, delimiter=req.target_delimiter)
            for c in req.continuations
        ]
        renders.append((context, stripped, joined))
    encoder = PairEncoder(tokenizer)
    stripped_texts = [stripped for _, stripped, _ in renders]
    context_ids = encoder.contexts(stripped_texts)
    conts = encoder.continuations(stripped_texts, context_ids, [(i, j) for i, (_, _, joined) in enumerate(renders) for j in joined])
    out, k = [], 0
    for i, (context, _, joined) in enumerate(renders):
        mine = conts[k : k + len(joined)]
        k += len(joined)
        if any(not c for c in mine):
            raise UserError("a scored continuation merges into the context's tokens; set dataset arg target_delimiter")
        out.append((context, context_ids[i], [c for c in mine if c]))
    return out


# A space after a non-space and before a letter: where byte-level BPE pre-tokenizers (GPT-2, Llama 3,
# Qwen, SmolLM2) and SentencePiece's word pieces start a new piece.
_WORD_START = re.compile(r"(?<=\S) (?=[^\W\d_])")


class PairEncoder:
    """Token ids of contexts and of continuations after them, as whole-text tokenization gives them, each text tokenized once.

    Three splits, with whole-text tokenization wherever their check fails:

    - At a special token (`<|im_start|>`, ...). A tokenizer cuts its input at added special tokens
      before anything else and tokenizes each piece on its own, so tokens(A + B) = tokens(A) + the
      ids after the special token in tokens(special + B), exactly, when A ends with that token. The
      chat header and few-shot turns every context of a call shares are tokenized once; letter
      scoring's assistant header + "ANSWER:" + " A" once per letter for the whole run.
    - At a word start in the context's last `MAX_TAIL` characters, for plain prompts without special
      tokens: byte-level BPE tokens never cross a pre-token boundary, and appending text changes
      only the last pre-tokens, so the continuation's ids follow the tail's in tokens(tail + continuation).
      Used only where tokens(tail) equal the context's last ids and tokens(tail + continuation) starts
      with them; a continuation that merges into the context falls back to lm-eval's whole tokenization.
    - The text every context of a call shares (an instruction, plain few-shot examples) up to its
      last word start, tokenized once, by the same property; used for a call when the first
      `CALIBRATE` contexts tokenized whole give the same ids, else the special-token split.
    """

    MAX_TAIL = 256
    CALIBRATE = 8  # contexts tokenized whole to check a shared head split at a word start

    def __init__(self, tokenizer: Any) -> None:
        """Finds the special tokens that split text exactly: not stripping neighbours, not normalized."""
        self.tokenizer = tokenizer
        self.hard: dict[str, int] = {}
        for token_id, added in (getattr(tokenizer, "added_tokens_decoder", None) or {}).items():
            if getattr(added, "special", False) and not (added.lstrip or added.rstrip or added.normalized or added.single_word):
                self.hard[str(added.content)] = int(token_id)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Whole-text ids, one batched call."""
        return [list(ids) for ids in self.tokenizer(list(texts), **_ENCODE)["input_ids"]] if texts else []

    def _last_hard(self, text: str, start: int = 0) -> tuple[int, str] | None:
        """(index where the last special token in text[start:] begins, the token)."""
        found = max(((text.rfind(tok, start), tok) for tok in self.hard), default=(-1, ""))
        return found if found[0] >= 0 else None

    def contexts(self, texts: Sequence[str]) -> list[list[int]]:
        """Context ids; the part every context shares, up to its last word start or special token, tokenized once."""
        shared = os.path.commonprefix(list(texts)) if len(texts) > 1 else ""
        starts = [m.start() for m in _WORD_START.finditer(shared)]
        if starts and starts[-1] > 0:
            # Split at the shared text's last word start; used when the first texts tokenize whole to the same ids.
            (head,) = self.encode([shared[: starts[-1]]])
            split = [head + rest for rest in self.encode([t[starts[-1] :] for t in texts])]
            probe = min(len(texts), self.CALIBRATE)
            if self.encode(texts[:probe]) == split[:probe]:
                return split
        cut = self._last_hard(shared)
        if cut is None or cut[0] == 0:
            return self.encode(texts)
        at, token = cut
        (head,) = self.encode([shared[:at] + token])
        rests = self.encode([t[at:] for t in texts])
        out: list[list[int]] = []
        for rest in rests:
            ok = head[-1:] == [self.hard[token]] and rest[:1] == [self.hard[token]]
            out.append(head + rest[1:] if ok else [])
        redo = [i for i, ids in enumerate(out) if not ids]
        for i, ids in zip(redo, self.encode([texts[i] for i in redo]), strict=True):
            out[i] = ids
        return out

    def _tail(self, text: str) -> str | None:
        """The context's last piece after which appended text cannot change earlier tokens, or None."""
        start = max(0, len(text) - self.MAX_TAIL)
        cut = self._last_hard(text, start)
        if cut is not None:
            return text[cut[0] :] if cut[0] > 0 else None
        starts = [m.start() for m in _WORD_START.finditer(text, start)]
        return text[starts[-1] :] if starts and starts[-1] > 0 else None

    def continuations(
        self, contexts: Sequence[str], context_ids: Sequence[list[int]], pairs: Sequence[tuple[int, str]]
    ) -> list[list[int] | None]:
        """Ids of each (context index, continuation text) after the context's; None where it merges into the context."""
        tails = [self._tail(t) for t in contexts]
        distinct = sorted({t for t in tails if t is not None})
        tail_ids = dict(zip(distinct, self.encode(distinct), strict=True))
        usable = [t if t is not None and context_ids[i][-len(tail_ids[t]) :] == tail_ids[t] else None for i, t in enumerate(tails)]
        keys = sorted({(tail, text) for i, text in pairs if (tail := usable[i]) is not None})
        joined = dict(zip(keys, self.encode([tail + text for tail, text in keys]), strict=True))
        out: list[list[int] | None] = []
        redo = []
        for p, (i, text) in enumerate(pairs):
            tail = usable[i]
            ids = joined[(tail, text)] if tail is not None else None
            if ids is not None and tail is not None and ids[: len(tail_ids[tail])] == tail_ids[tail]:
                out.append(ids[len(tail_ids[tail]) :])
            else:
                out.append(None)
                redo.append(p)
        for p, ids in zip(redo, self.encode([contexts[pairs[p][0]] + pairs[p][1] for p in redo]), strict=True):
            ctx = context_ids[pairs[p][0]]
            out[p] = ids[len(ctx) :] if ids[: len(ctx)] == ctx else None
        return out
