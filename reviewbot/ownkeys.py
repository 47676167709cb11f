"""Edge (process-wide): the run's own secrets never leave it. The values of the key
variables reviewbot reads or could be handed — provider keys, every `api_key_env` of the
config, the GitHub token, and any variable named like a key (`*_API_KEY`, `*_TOKEN`,
`*_SECRET`, `*_PASSWORD`, `*_KEY`) — and their base64 and URL-encoded forms are replaced by
`[REDACTED:own-key]` wherever text leaves the process: model requests and replies (even an
endpoint that echoes a key back), GitHub request bodies, the audit log, the report and every
line on stdout and stderr. Values under 8 characters are ignored (they would scrub words)."""

from __future__ import annotations

import base64
import json
import re
import threading
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

PLACEHOLDER = "[REDACTED:own-key]"
MIN_LENGTH = 8
_NAME = re.compile(r"(?:^|_)(?:API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|KEY)$", re.I)
_ALWAYS = ("GITHUB_TOKEN", "GH_TOKEN", "INPUT_GITHUB-TOKEN", "ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN")


def _forms(value: str) -> set[str]:
    """The value, URL-encoded, and base64 (standard and URL-safe) at each of the three byte
    offsets it can sit at inside a longer encoded text (`Basic base64(user:token)`): the
    characters that depend only on the value's own bytes."""
    raw = value.encode("utf-8")
    quoted = {urllib.parse.quote(value, safe=""), urllib.parse.quote(value), urllib.parse.quote_plus(value)}
    # Percent-encodings in lower-case hex too (%2f), and the JSON-escaped forms (\" \\ \/).
    quoted |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), q) for q in quoted}
    escaped = json.dumps(value, ensure_ascii=False)[1:-1]
    forms = {value, *quoted, escaped, escaped.replace("/", "\\/"), json.dumps(value)[1:-1]}
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        for pad in range(3):
            text = encode(b"\0" * pad + raw).decode().rstrip("=")
            lead = (pad * 8 + 5) // 6 if pad else 0  # characters touched by the padding bytes
            tail = (len(raw) + pad) % 3  # a partial last group depends on what follows
            core = text[lead : len(text) - (1 if tail else 0)]
            forms.add(core)
    return {f for f in forms if len(f) >= MIN_LENGTH}


def _wrappable(form: str) -> str:
    """`form` as a pattern that also matches it broken over lines (base64 wrapped in MIME
    or PEM); plain and URL-encoded forms are matched as they are."""
    if not re.fullmatch(r"[A-Za-z0-9+/_\-]{16,}", form):
        return re.escape(form)
    return r"(?:\r?\n)?".join(re.escape(c) for c in form)


class Scrubber:
    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()
        self.add(values)

    def add(self, values: Iterable[str]) -> None:
        with self._lock:
            new = {v.strip() for v in values if v and len(v.strip()) >= MIN_LENGTH} - self._values
            if not new:
                return
            self._values |= new
            forms = sorted({f for v in self._values for f in _forms(v)}, key=len, reverse=True)
            # Base64 is often wrapped at 64 or 76 columns (PEM, MIME): a line break may
            # fall anywhere inside an encoded key.
            self._pattern = re.compile("|".join(_wrappable(f) for f in forms))

    def forget(self) -> None:
        with self._lock:
            self._values, self._pattern = set(), None

    def add_env(self, env: Mapping[str, str], names: Iterable[str] = ()) -> None:
        """Values of the named variables and of every variable named like a key."""
        wanted = set(names) | set(_ALWAYS)
        self.add(v for k, v in env.items() if k in wanted or _NAME.search(k))

    def __call__(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(PLACEHOLDER, text)

    def deep(self, value: Any) -> Any:
        """Every string inside a JSON-like value (a request body)."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {self(k) if isinstance(k, str) else k: self.deep(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.deep(v) for v in value)
        return value


SCRUB = Scrubber()  # the process's: filled by the entry points from the environment


class ScrubbedStream:
    """A text stream whose every write is scrubbed (stdout, stderr)."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        self._inner.write(SCRUB(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class ScrubbingClient:
    """An LLMClient in front of another: the run's own secrets are taken out of every request
    before it is sent and out of every reply and error that comes back."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def complete(self, request: Any) -> Any:
        from dataclasses import replace

        from .llm import LLMError

        clean = replace(request, messages=tuple({**m, "content": SCRUB(m["content"])} for m in request.messages))
        try:
            response = self.inner.complete(clean)
        except LLMError as exc:
            raise LLMError(exc.kind, SCRUB(exc.message), status=exc.status, retry_after=exc.retry_after) from None
        return replace(response, text=SCRUB(response.text))
