"""Support (pure): small plain-text helpers every stage uses — one line of text, plurals.
Markdown is not made here: untrusted text becomes markdown only in `render.safe`."""

from __future__ import annotations

import email.utils
import math
import re
from datetime import timezone


def squash(text: str, limit: int | None = None) -> str:
    """Whitespace runs (newlines too) as one space; cut with "…" past `limit` characters."""
    flat = " ".join(str(text).split())
    if limit is not None and len(flat) > limit:
        return flat[: max(limit - 1, 0)] + "…"
    return flat


def plural(n: int, word: str) -> str:
    """ "1 finding", "2 findings", "1,200 files"."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def printable(text: str) -> str:
    """Text with lone surrogates (from JSON escapes such as \\udcff in a model's reply)
    replaced: they cannot be encoded as UTF-8, so printing or posting them would fail."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def retry_after_seconds(value: str, now: float) -> float | None:
    """Seconds to wait from an HTTP `retry-after` value: delay-seconds or an HTTP-date (RFC
    9110 §10.2.3 allows both), None when unreadable. A date in the past means now; dates have
    whole seconds, so the wait rounds up (a retry must not land just before the time given).
    `now` is the current Unix time (injected, so callers and tests own the clock)."""
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": an HTTP-date is always GMT
        when = when.replace(tzinfo=timezone.utc)
    return float(max(0, math.ceil(when.timestamp() - now)))


# The blocks of reviewbot's prompts. Untrusted text (the diff, the code context, the PR's
# title and description, a thread) must neither close the block it sits in nor open one that
# poses as another, e.g. the maintainers' rules.
_PROMPT_TAG = re.compile(
    r"<(\s*/?\s*)(pr_title|pr_description|diff|context|maintainer_rules\w*|finding|diff_hunk|thread|question)(?!\w)",
    re.I,
)


def defuse_prompt_tags(text: str) -> str:
    """`</diff>` → `<\\/diff>`, `<maintainer_rules>` → `<\\maintainer_rules>`: the start of
    any tag of ours is broken, whatever follows it (attributes, line breaks, no `>` at all),
    so it still reads as text and is no longer a tag of the prompt."""
    return _PROMPT_TAG.sub(lambda m: "<\\" + m.group(1).replace(" ", "").replace("\t", "").strip() + m.group(2), text)
