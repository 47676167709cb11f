"""Support (pure): small plain-text helpers every stage uses — one line of text, plurals.
Markdown is not made here: untrusted text becomes markdown only in `render.safe`."""

from __future__ import annotations


def squash(text: str, limit: int | None = None) -> str:
    """Whitespace runs (newlines too) as one space; cut with "…" past `limit` characters."""
    flat = " ".join(str(text).split())
    if limit is not None and len(flat) > limit:
        return flat[: max(limit - 1, 0)] + "…"
    return flat


def plural(n: int, word: str) -> str:
    """"1 finding", "2 findings", "1,200 files"."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def printable(text: str) -> str:
    """Text with lone surrogates (from JSON escapes such as \\udcff in a model's reply)
    replaced: they cannot be encoded as UTF-8, so printing or posting them would fail."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text
