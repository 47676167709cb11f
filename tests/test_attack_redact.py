"""Regression tests from an attack run against reviewbot on 2026-12-04; each once failed.
What the attacker saw then:

B. Redaction before a diff goes to a model: common secret forms inside the categories the
README and SECURITY.md say are covered ("passwords in URLs", "random-looking values assigned
to names such as *key, secret, token, password") pass through unredacted."""

from __future__ import annotations

import pytest

from reviewbot.redact import redact

SECRET = "Zx9kq2LmVb7Tp4WdQ8"  # 18 random-looking characters: the rules' own idea of a secret

CASES = {
    # passwords in URLs: Redis/Valkey URLs have no user name ("redis://:password@host")
    "redis-url-without-user": f"REDIS_URL=redis://:{SECRET}@redis.internal:6379/0",
    "rediss-url-in-code": f'cache = Redis.from_url("rediss://:{SECRET}@cache.example.com:6380")',
    # a ':' is legal in the password part of userinfo (RFC 3986)
    "url-password-with-colon": f"DATABASE_URL=postgres://app:{SECRET[:6]}:{SECRET[6:]}@db.internal/app",
    # values assigned to a password name, in the assignment forms of common config files
    "maven-settings-xml": f"<server>\n  <id>deploy</id>\n  <password>{SECRET}</password>\n</server>",
    "wordpress-wp-config": "define( 'AUTH_KEY', 'Qf]&Y{1:T+n-yE;|N8Xe#5J@E/wA|_p%Kz)3bF<v!m~9s^8rW,qHcL2jD6gT4uV' );",
    "json-escaped-quote": '{"db_password": "Zx9k\\"q2LmVb7Tp4WdQ8"}',
    "json-escaped-backslash": '{"db_password": "Zx9k\\\\q2LmVb7Tp4WdQ8"}',
    # Gmail/Google app passwords are four groups of four letters separated by spaces
    "quoted-app-password-with-spaces": 'EMAIL_HOST_PASSWORD = "qwzx rtpl mnbv hgfd"',
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_secret_is_redacted(name: str) -> None:
    text = CASES[name]
    out, counts = redact(text)
    assert counts, f"{name}: nothing redacted, sent to the model as is: {out!r}"
