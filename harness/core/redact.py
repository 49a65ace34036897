"""One redaction step for everything that leaves the process: secrets never reach a file or a terminal.

Secrets are registered when they enter (an API key read from the environment, the password of a
URL like `http://user:KEY@host/v1`, a key in a URL's query string) and replaced by `***` wherever
they show up later, in every spelling a server or a file may use: as given, JSON-escaped,
URL-quoted, and a user:password pair also as its base64 `Basic` header. Server text is also
scrubbed of the shapes credentials take even when nobody registered them: `Authorization:` and
`Bearer ...` values, the user-info part of URLs, and query parameters named like keys.

The run store, the request cache and the CLI's stdout/stderr all pass through here; that is the
whole list of places a run writes to.
"""

from __future__ import annotations

import base64
import json
import os
import re
from typing import IO, Any
from urllib.parse import quote, urlsplit, urlunsplit

from harness.core.errors import UserError

__all__ = [
    "MASK",
    "RedactingStream",
    "add_secret",
    "read_api_key",
    "redact",
    "redact_secrets",
    "register_url_secrets",
    "split_url_credentials",
]

MASK = "***"
_SECRETS: set[str] = set()
_URL_USERINFO = re.compile(r"(?<=://)[^/\s@\"'<>]+@")
_HEADER = re.compile(r"(?i)\b((?:proxy-)?authorization|x-api-key|api[-_]key)(\"?\s*[:=]\s*\"?)(?:(bearer|basic)\s+)?[^\s\"',;}&]+")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{6,}")
_QUERY_SECRET = re.compile(
    r"(?i)([?&;][a-z0-9_.-]*(?:key|token|secret|passw(?:or)?d|pwd|sig|signature|auth|credential)[a-z0-9_.-]*=)([^&#\s\"'<>]+)"
)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def add_secret(value: str | None) -> None:
    """Register a secret; also its JSON-escaped and URL-quoted spellings, as it may be written either way."""
    if not value or len(value) < 4:  # a 1-3 character "key" would mask ordinary text; such keys are not secrets
        return
    _SECRETS.update({value, json.dumps(value)[1:-1], quote(value, safe="")})


def redact_secrets(text: str) -> str:
    """Replace every registered secret; cheap enough for every record a run writes."""
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact(text: str) -> str:
    """Registered secrets, then credential shapes: for server text, URLs and messages.

    >>> redact("HTTP 401: bad Authorization: Bearer sk-abcdef123 for http://me:pw@host/v1")
    'HTTP 401: bad Authorization: Bearer *** for http://***@host/v1'
    >>> redact("GET https://host/v1/models?api-key=sk-123456&x=1")
    'GET https://host/v1/models?api-key=***&x=1'
    """
    text = redact_secrets(text)
    text = _URL_USERINFO.sub(MASK + "@", text)
    text = _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, text)
    text = _HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3) + ' ' if m.group(3) else ''}{MASK}", text)
    return _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)


def split_url_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """(`url` without user-info, (user, password) or None); the password is registered as a secret."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    user, password = parts.username or "", parts.password or ""
    add_secret(password)
    add_secret(user if not password else None)  # a bare token in the user slot is the credential
    add_secret(base64.b64encode(f"{user}:{password}".encode()).decode())  # as a server echoes the Basic header
    return urlunsplit(parts._replace(netloc=netloc)), (user, password)


def register_url_secrets(url: str) -> None:
    """Register the credentials a URL carries: its password or token, and query parameters named like keys."""
    for match in _QUERY_SECRET.finditer(url):
        add_secret(match.group(2))
    split_url_credentials(url)


def read_api_key(env_name: str | None, flag: str = "--api-key-env") -> str | None:
    """The API key held by environment variable `env_name` (registered as a secret), or None when none is named.

    A value that is not a variable's name is most likely the key itself, pasted by mistake: it is
    registered as a secret and refused without being printed.
    """
    if not env_name:
        return None
    if not _ENV_NAME.fullmatch(env_name):
        add_secret(env_name)
        raise UserError(f"{flag} takes the NAME of an environment variable, and the value given is not one; it looks like a "
                        f"key, so it is not shown: export it (export MY_KEY=...) and pass {flag} MY_KEY")  # fmt: skip
    key = os.environ.get(env_name)
    if not key:
        raise UserError(f"{flag} {env_name}: that environment variable is not set")
    add_secret(key)
    return key


class RedactingStream:
    """A text stream wrapper (stdout, stderr) that redacts everything written through it."""

    def __init__(self, inner: IO[str]) -> None:
        """Wrap `inner`; every other attribute (isatty, encoding, fileno) is the inner stream's."""
        self._inner = inner

    def write(self, text: str) -> int:
        """Write the redacted text."""
        self._inner.write(redact(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
