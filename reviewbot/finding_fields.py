"""Stage 6, one field at a time (pure): the readers that turn what a model wrote for one
finding into our values — the first of several synonymous keys, a line citation in any of
its shapes ("42", "L42", "42-45", [42, 45], "31-"), the side, a severity word, a suggestion
(with or without its own fences) — bounded in size. `findings.py` assembles a Finding."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Literal

from .vocab import Severity

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufeff]")
MAX_TEXT = 8_000

_SEVERITY_WORDS: dict[str, Severity] = {
    "critical": "critical",
    "blocker": "critical",
    "fatal": "critical",
    "catastrophic": "critical",
    "high": "high",
    "major": "high",
    "error": "high",
    "severe": "high",
    "important": "high",
    "medium": "medium",
    "moderate": "medium",
    "warning": "medium",
    "warn": "medium",
    "normal": "medium",
    "low": "low",
    "minor": "low",
    "trivial": "low",
    "nit": "low",
    "nitpick": "low",
    "info": "info",
    "informational": "info",
    "information": "info",
    "note": "info",
    "notice": "info",
}


def _first(raw: Mapping[str, object], keys: Sequence[str]) -> object:
    return next((raw[k] for k in keys if raw.get(k) not in (None, "")), None)


def _first_str(raw: Mapping[str, object], keys: Sequence[str]) -> str:
    v = _first(raw, keys)
    # Escapes such as \u0007 decode to control characters after the text was cleaned.
    return _CONTROL.sub("", v).strip() if isinstance(v, str) else ""


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _first_sentence(body: str) -> str:
    first = re.split(r"(?<=[.!?])\s|\n", body.strip(), maxsplit=1)[0]
    return first.rstrip(".") or body[:80]


# "L42"/"R42" name the side (an older chunk render format, still seen in replies).
_LINE_RE = re.compile(r"^\s*(?:lines?\s*)?([LR])?\s*(\d{1,9})(?:\s*(?:-|–|:|\.\.|to)\s*[LR]?\s*(\d{1,9}))?", re.I)


def _parse_line(v: object) -> tuple[int | None, int | None]:
    """(start, end) from 42, 42.0, "42", "L42", "R 42", "42-45", "L42-L45" or [42, 45]."""
    if isinstance(v, bool):
        return None, None
    if isinstance(v, int):
        return (None, v) if 0 < v < 10**9 else (None, None)
    if isinstance(v, float):
        return (None, int(v)) if v.is_integer() and 0 < v < 1e9 else (None, None)
    if isinstance(v, list) and v:
        a, b = _parse_line(v[0])[1], _parse_line(v[-1])[1]
        return (a, b) if a is not None and b is not None and a < b else (None, b or a)
    if isinstance(v, str):
        m = _LINE_RE.match(v)
        if m is None or int(m.group(2)) == 0:
            return None, None
        a, b = int(m.group(2)), int(m.group(3)) if m.group(3) else None
        return (a, b) if b is not None and a < b else (None, a)
    return None, None


# A citation copied from the chunk render format, sign included: "31-" is a removed line.
_SIGNED_LINE_RE = re.compile(r"^\s*\d{1,9}\s*([+-])\s*$")


def _side_hint(v: object) -> Literal["RIGHT", "LEFT"] | None:
    """The side a line citation such as "L 31" or "31-" names."""
    if not isinstance(v, str):
        return None
    signed = _SIGNED_LINE_RE.match(v)
    if signed is not None:
        return "LEFT" if signed.group(1) == "-" else "RIGHT"
    m = _LINE_RE.match(v)
    if m is None or m.group(1) is None:
        return None
    return "LEFT" if m.group(1).upper() == "L" else "RIGHT"


def _severity(v: object, notes: list[str]) -> Severity:
    word = str(v).strip().lower() if isinstance(v, (str, int, float)) else ""
    if word in _SEVERITY_WORDS:
        return _SEVERITY_WORDS[word]
    notes.append(
        f"severity {_cap(word, 30)!r} not recognised; treated as medium"
        if word
        else "no severity given; treated as medium"
    )
    return "medium"


def _side(v: object) -> Literal["RIGHT", "LEFT"]:
    word = str(v).strip().upper() if isinstance(v, str) else ""
    return "LEFT" if word in ("LEFT", "L", "OLD", "-", "REMOVED", "DELETED", "BASE") else "RIGHT"


def _suggestion(raw: Mapping[str, object]) -> str | None:
    v = _first(raw, ("suggestion", "suggested_code", "fix", "replacement"))
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        v = "\n".join(x for x in v if isinstance(x, str))
    if not isinstance(v, str) or not v.strip():
        return None
    # Models often wrap the replacement in ```suggestion fences themselves.
    m = re.fullmatch(r"\s*(`{3,})[\w-]*[ \t]*\n(.*?)\n?\1\s*", v, re.S)
    text = m.group(2) if m else v.strip("\n")
    return _cap(text, MAX_TEXT) or None
