"""LLM-as-judge for general_qa: `"metrics": ["judge"]` with `"judge_args": {"url": ...}` in the dataset args.

A judge model behind an OpenAI-compatible server reads each question, its reference and the
model's answer through a rubric template and replies with a rationale and a score on a scale.
Requests go through the api backend (concurrency, retries, redaction, and the request cache with
`--use-cache`). The score, mapped to 0..1 ((score - low) / (high - low)), is the sample's `judge`
metric, with a bootstrap interval like every other per-sample score, and `compare` tests it
paired. Each record keeps the raw score and the judge's short rationale.

The answer is untrusted (harness.engine.verdicts): the question, reference and answer reach the judge
as data blocks between markers the answer cannot forge, with an instruction that their content is
not instructions; the verdict is read only from the judge's own structured reply, and a reply with
no verdict, several different verdicts or one out of range is a failed judgement. Answers that
address the judge (score directives, rubric words) are flagged per record and counted.

A failed judgement leaves the sample without a `judge` score (out of n and the mean at every level,
never a 0); the count is reported and the run exits 1 (`--allow-failures` for 0). A judge request
that fails over HTTP is counted the same way and retried by the next run of the same command.

Templates ship with the harness and are versioned (`default-v2`; `default-v1`, the earlier rubric
with a "Score: N" line and no data blocks, stays for comparison); the template's text, the judge
model and settings are part of the run's identity and are recorded in results.json. A template
names {question}, {reference} and {answer} (each becomes a delimited block), may use {marker},
{low} and {high}, and writes literal braces as {{ and }}.

`judge_args`: `url` (required), `model` (default: the server's first), `api_key_env`, `template`
(a shipped name or a file), `scale` ([low, high], default [1, 10]), `concurrency` (8),
`max_tokens` (256), `timeout` (120), `max_retries` (6).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from harness.backends.base import Backend, GenerateRequest
from harness.backends.generation import GenerationConfig
from harness.core.errors import UserError
from harness.core.names import has_control, printable
from harness.core.numbers import Range, checked
from harness.engine.verdicts import block, judge_flags, marker, parse_reply
from harness.metrics.registry import JUDGE_METRIC
from harness.runs.record import JudgeVerdict, SampleRecord

__all__ = ["DEFAULT_TEMPLATE", "JUDGE_METRIC", "Judge", "JudgeSettings", "judgement_owed", "parse_judge_args", "parse_reply"]

_KNOWN = ("url", "model", "api_key_env", "template", "scale", "concurrency", "max_tokens", "timeout", "max_retries")
DEFAULT_TEMPLATE = "default-v2"
_FIELDS = ("question", "reference", "answer", "marker", "low", "high")


def judgement_owed(record: SampleRecord) -> bool:
    """Whether a stored record still needs the judge: stored before its judgement, or its judge request failed.

    >>> judgement_owed({"key": "k", "task": "t", "subset": "s", "scores": {}, "judge_pending": True})
    True
    """
    return bool(record.get("judge_pending")) or bool(record.get("judge", {}).get("retry"))


@dataclass(frozen=True)
class JudgeSettings:
    """Resolved `judge_args`, with the template's text and its hash (part of the run's identity)."""

    url: str
    model: str
    api_key_env: str | None
    template_name: str
    template: str
    template_sha256: str
    low: float
    high: float
    concurrency: int
    max_tokens: int
    timeout: float
    max_retries: int

    def record(self) -> dict[str, Any]:
        """What results.json says about the judge."""
        return {"url": self.url, "model": self.model, "template": self.template_name, "template_sha256": self.template_sha256,
                "scale": [self.low, self.high], "max_tokens": self.max_tokens}  # fmt: skip


def _template(name: str, task: str) -> tuple[str, str]:
    shipped = resources.files("harness") / "assets" / "judge" / f"{name}.txt"
    if shipped.is_file():
        return name, shipped.read_text(encoding="utf-8")
    path = Path(name).expanduser()
    if path.is_file():
        return str(path), path.read_text(encoding="utf-8")
    raise UserError(f"{task}: judge template {name!r} is neither a shipped one (default-v1) nor a file")


def _url(task: str, value: Any) -> str:
    """The judge server's URL: http(s), a host, no spaces or control characters; checked before any model loads."""
    from urllib.parse import urlsplit

    if not isinstance(value, str) or not value:
        raise UserError(f'{task}: judge_args needs "url", the judge\'s OpenAI-compatible server (e.g. http://127.0.0.1:8000/v1)')
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        parts, port_ok = None, False
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or not port_ok or any(c.isspace() for c in value) \
            or has_control(value):  # fmt: skip
        raise UserError(f"{task}: judge_args url {printable(repr(value), 80)} is not an http(s) URL with a host, e.g. "
                        "http://127.0.0.1:8000/v1")  # fmt: skip
    return value


_RANGES = {
    "concurrency": Range(1, 1024, whole=True),
    "max_tokens": Range(1, 1_000_000, whole=True),
    "max_retries": Range(0, 100, whole=True),
    "timeout": Range(0, 86_400, low_open=True),
}
_DEFAULTS = {"concurrency": 8, "max_tokens": 256, "max_retries": 6, "timeout": 120.0}


def parse_judge_args(task: str, raw: Any) -> JudgeSettings:
    """Check `judge_args` (every number through harness.core.numbers); every mistake is one line naming the key."""
    if not isinstance(raw, dict):
        raise UserError(f'{task}: judge_args must be an object, e.g. {{"url": "http://127.0.0.1:8000/v1"}}')
    unknown = sorted(set(raw) - set(_KNOWN))
    if unknown:
        raise UserError(f"{task}: unknown judge_args key {printable(repr(unknown[0]), 60)} (known: {', '.join(_KNOWN)})")
    url = _url(task, raw.get("url"))
    scale = raw.get("scale", [1, 10])
    if not (isinstance(scale, list) and len(scale) == 2):
        raise UserError(f"{task}: judge_args scale must be [low, high] with low < high, got {printable(repr(scale), 60)}")
    low, high = (checked(v, f"{task}: judge_args scale", Range(-1e6, 1e6)) for v in scale)
    if not low < high:
        raise UserError(f"{task}: judge_args scale must be [low, high] with low < high, got {printable(repr(scale), 60)}")
    name, text = _template(str(raw.get("template", DEFAULT_TEMPLATE)), task)
    _check_template(task, name, text)
    for key in ("model", "api_key_env"):
        if raw.get(key) is not None and (not isinstance(raw[key], str) or has_control(raw[key])):
            raise UserError(f"{task}: judge_args {key} must be text on one line, got {printable(repr(raw[key]), 60)}")
    if raw.get("api_key_env"):
        from harness.core.redact import read_api_key

        # Unset, or a key pasted in place of a name: one line now, not at the first judgement.
        read_api_key(raw["api_key_env"], f"{task}: judge_args api_key_env")
    values = {key: checked(raw.get(key, default), f"{task}: judge_args {key}", _RANGES[key]) for key, default in _DEFAULTS.items()}
    return JudgeSettings(
        url=url, model=str(raw.get("model") or ""), api_key_env=raw.get("api_key_env"), template_name=name, template=text,
        template_sha256=hashlib.sha256(text.encode()).hexdigest(), low=float(low), high=float(high),
        concurrency=values["concurrency"], max_tokens=values["max_tokens"], timeout=float(values["timeout"]),
        max_retries=values["max_retries"],
    )  # fmt: skip


def _check_template(task: str, name: str, text: str) -> None:
    """A template must name the three texts and format cleanly: a stray brace is one line here, not a traceback later."""
    missing = [f"{{{f}}}" for f in ("question", "reference", "answer") if f"{{{f}}}" not in text]
    if missing:
        raise UserError(f"{task}: judge template {name} lacks {', '.join(missing)}")
    try:
        text.format_map({f: "" for f in _FIELDS})
    except KeyError as exc:
        raise UserError(f"{task}: judge template {name} has an unknown field {{{exc.args[0]}}} (fields: {', '.join(_FIELDS)}; "
                        "write literal braces as {{ and }})") from None  # fmt: skip
    except (ValueError, IndexError) as exc:
        raise UserError(f"{task}: judge template {name} does not format ({exc}; write literal braces as {{{{ and }}}})") from None


class Judge:
    """Scores answers with a judge model; see the module docstring."""

    def __init__(self, settings: JudgeSettings, *, use_cache: bool = False) -> None:
        """Connect to the judge's server (`/v1/models` names the model when `model` is not given)."""
        from harness.backends import create_backend

        self.settings = settings
        options: dict[str, Any] = {"api_url": settings.url, "concurrency": settings.concurrency, "timeout": settings.timeout,
                                   "max_retries": settings.max_retries, "scoring_method": "generate"}  # fmt: skip
        if settings.api_key_env:
            options["api_key_env"] = settings.api_key_env
        backend: Backend = create_backend("api", settings.model, **options)
        if use_cache:
            from harness.backends.cached import CachedBackend
            from harness.engine.config import cache_root

            backend = CachedBackend(backend, cache_root() / "requests.sqlite")
        self.backend = backend
        self.model = str(backend.fingerprint()["model"])

    def describe(self) -> dict[str, Any]:
        """The judge as results.json records it (the model as the server names it)."""
        return {**self.settings.record(), "model": self.model}

    def _request(self, record: SampleRecord) -> GenerateRequest:
        question = next((m["content"] for m in reversed(record.get("messages") or []) if m["role"] == "user"), "")
        reference, answer = str(record.get("reference") or ""), record.get("prediction") or ""
        code = marker(question, reference, answer)
        prompt = self.settings.template.format_map(
            {"question": block("QUESTION", question, code), "reference": block("REFERENCE", reference, code),
             "answer": block("ANSWER", answer, code), "marker": code, "low": _num(self.settings.low), "high": _num(self.settings.high)}
        )  # fmt: skip
        return GenerateRequest(record["key"], ({"role": "user", "content": prompt},))

    def judge(self, records: Sequence[SampleRecord]) -> Iterator[SampleRecord]:
        """Each record with its judgement, as the judge's replies arrive."""
        config = GenerationConfig(max_new_tokens=self.settings.max_tokens, temperature=0.0)
        low, high = self.settings.low, self.settings.high
        for i, reply in self.backend.generate([self._request(r) for r in records], config):
            record = records[i].copy()
            record.pop("judge_pending", None)
            if reply.text is None:
                verdict: JudgeVerdict = {"score": None, "rationale": "", "error": reply.error, "retry": True}
            else:
                read = parse_reply(reply.text, low, high)
                verdict = {"score": read.score, "rationale": read.reason, "error": read.error, "retry": False}
            flags = judge_flags(record.get("prediction") or "")
            if flags:
                verdict["flags"] = flags  # the answer addresses the judge: counted in the table
            record["judge"] = verdict
            scores = dict(record["scores"])
            scores[JUDGE_METRIC] = None if verdict["score"] is None else (verdict["score"] - low) / (high - low)
            record["scores"] = scores
            yield record


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
