"""Regression tests from an attack run against reviewbot on 2026-12-04; each once failed.
What the attacker saw then:

B. The run's own keys: SECURITY.md says every key variable's value "as itself, URL-encoded
or base64-encoded at any alignment" is replaced wherever text leaves the process, also when
an endpoint echoes it back. Keys with '/', '+' or '=' (AWS secret keys, Azure keys, any
*_PASSWORD) survive the most common URL encodings, and a long key survives base64 as the
`base64` tool and MIME write it (wrapped at 76 columns)."""

from __future__ import annotations

import base64
import urllib.parse
from pathlib import Path

import pytest

from reviewbot.ownkeys import PLACEHOLDER, Scrubber

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzzzzKEZ"  # AWS_SECRET_ACCESS_KEY: matches *_KEY
OPENAI = "sk-proj-" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789" * 4  # a long project key

ECHOES = {
    # urllib.parse.quote's default keeps '/' (safe="/"): the form most code produces
    "url-encoded-python-default": urllib.parse.quote(AWS_SECRET),
    # RFC 3986 says hex digits in percent-escapes are case-insensitive; .NET and others write lowercase
    "url-encoded-lowercase-hex": "wJalrXUtnFEMI%2fK7MDENG%2bbPxRfiCYzzzzKEZ",
    # JSON encoders that escape '/' (PHP json_encode, many gateways' error bodies)
    "json-escaped-slash": '{"error": "invalid key wJalrXUtnFEMI\\/K7MDENG+bPxRfiCYzzzzKEZ"}',
    # `base64` (coreutils) and MIME wrap at 76 columns
    "base64-wrapped-76": base64.encodebytes(OPENAI.encode()).decode(),
}


@pytest.mark.parametrize("name", sorted(ECHOES))
def test_an_echoed_own_key_is_scrubbed(name: str) -> None:
    scrub = Scrubber([AWS_SECRET, OPENAI])
    text = f"The endpoint said: {ECHOES[name]}"
    out = scrub(text)
    assert PLACEHOLDER in out, f"{name}: own key left as {out!r}"


def test_the_audit_log_scrubs_an_own_password_with_a_quote_or_backslash(tmp_path: Path) -> None:
    """The audit log keeps the request as built (before ScrubbingClient), and scrubs the line
    only after json.dumps: a `*_PASSWORD` value holding `"` or `\\` is written escaped
    (`\\"`, `\\\\`) and the scrubber, looking for the raw value, no longer matches it."""
    from reviewbot.audit import AuditLog
    from reviewbot.outcome import CallRecord
    from reviewbot.ownkeys import SCRUB

    password = 'Zx9k"q2Lm\\Vb7Tp4WdQ8'  # DB_PASSWORD in the job's environment
    SCRUB.add([password])
    try:
        # The diff of a PR carries the value (a fixture a maintainer pasted it into).
        messages = ({"role": "user", "content": f"12+    connect(password='{password}')"},)
        record = CallRecord(
            call_id="c1",
            chunk_id="k1",
            model="openai/x",
            tier="cheap",
            files=("a.py",),
            reasons=(),
            input_tokens=1,
            output_tokens=1,
            cached_tokens=None,
            usd=0.0,
            latency_ms=1,
            outcome="ok",
            messages=messages,
            reply=f"echo {password}",
        )
        path = tmp_path / "audit.jsonl"
        log = AuditLog(path, "run1")
        log.write(record)
        log.close()
        written = path.read_text(encoding="utf-8")
    finally:
        SCRUB.forget()
    import json as _json

    assert password not in _json.loads(written)["messages"][0]["content"], (
        f"own password in the audit log: {written.strip()[:300]}"
    )
