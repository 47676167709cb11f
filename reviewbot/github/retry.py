"""When to retry a GitHub request and how long to wait (pure; the sleeping is the client's):
the `RetryPolicy`, the wait a rate limit asks for, and the `retry-after` header in both of its
forms. The clock and the sleep are the policy's, so tests pass a recording sleep and tiny waits."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from github import GithubException
from github.Requester import Requester

from ..textutil import retry_after_seconds
from .errors import message_of


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often to retry. Tests pass a recording `sleep` and tiny waits."""

    attempts: int = 4  # tries per request, the first included
    max_total_wait: float = 60.0  # seconds slept by one client across all retries
    backoff: float = 1.0  # 5xx and connection errors: backoff * 2**(attempt - 1)
    secondary_wait: float = 60.0  # rate limited with neither retry-after nor a reset time
    write_interval: float = 1.0  # GitHub asks for a second between content-creating requests
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time


def rate_limit_wait(exc: GithubException, policy: RetryPolicy) -> float | None:
    """Seconds GitHub asks us to wait, or None when this is not a rate limit. GitHub's
    order: retry-after first, then x-ratelimit-reset when remaining is 0, else a minute."""
    if exc.status not in (403, 429):
        return None
    headers = {k.lower(): str(v) for k, v in (exc.headers or {}).items()}
    retry_after = parse_retry_after(headers.get("retry-after", ""), policy.clock)
    if retry_after is not None:
        return retry_after
    reset = headers.get("x-ratelimit-reset", "")
    if headers.get("x-ratelimit-remaining") == "0" and reset.isdigit():
        # +1: GitHub does not say when within that second the window resets.
        return max(0.0, int(reset) - policy.clock()) + 1.0
    if exc.status == 429 or Requester.isRateLimitError(message_of(exc)):
        return policy.secondary_wait
    return None


def parse_retry_after(value: str, clock: Callable[[], float]) -> float | None:
    """Seconds to wait from a `retry-after` header: delay-seconds or an HTTP-date (RFC 9110
    §10.2.3 allows both), None when absent or unreadable. A date in the past means now. Either
    form is then bounded the same way, by the client's wait budget (client.py `_wait`)."""
    return retry_after_seconds(value, clock()) if value.strip() else None


__all__ = ["RetryPolicy", "parse_retry_after", "rate_limit_wait"]
