"""Support (pure): the one reader of `Retry-After` (RFC 9110 §10.2.3: delay-seconds or an
HTTP-date) and of the `retry-after-ms` some model APIs send. Used by the model transport
(llm.py) and the GitHub client (ghapi.py); callers bound the wait themselves."""

from __future__ import annotations

import email.utils
import math
from collections.abc import Callable, Mapping
from datetime import timezone


def parse_retry_after(value: str, clock: Callable[[], float]) -> float | None:
    """Seconds to wait from a `retry-after` value, None when absent or unreadable. A date in
    the past means now; a date is rounded up (dates have whole seconds)."""
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = None
    if seconds is not None:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": an HTTP-date is always GMT
        when = when.replace(tzinfo=timezone.utc)
    return float(max(0, math.ceil(when.timestamp() - clock())))


def retry_after_from_headers(headers: Mapping[str, str], clock: Callable[[], float]) -> float | None:
    """`retry-after-ms` first (OpenAI, Azure), then `retry-after`; names are case-insensitive."""
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    millis = parse_retry_after(lower.get("retry-after-ms", ""), clock)
    if millis is not None and "retry-after-ms" in lower and _is_number(lower["retry-after-ms"]):
        return millis / 1000
    return parse_retry_after(lower.get("retry-after", ""), clock)


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True
