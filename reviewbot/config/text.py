"""Config support (pure): the small text helpers every config message shares. Key paths as
the user writes them (`endpoints['openai/gpt-5.4-mini'].api_base`), values shown on one
line, "did you mean" suggestions. No pydantic, no I/O."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")


def _format_path(keys: list[Any]) -> str:
    """review.concurrency, compliance[0].paths, endpoints['openai/gpt-5.4-mini'].api_base"""
    out = ""
    for key in keys:
        if isinstance(key, int) and not isinstance(key, bool):
            out += f"[{key}]"
        elif isinstance(key, str) and _PLAIN_KEY.match(key):
            out += f".{key}" if out else key
        else:
            out += f"[{_show(key)}]"
    return out


def _closest(word: str, choices: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = _closest(word, choices)
    return f" (did you mean {close!r}?)" if close else ""


def _show(value: object, limit: int = 60) -> str:
    """repr() keeps the message on one line: it escapes newlines and other non-printables."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _kind(value: object) -> str:
    if value is None:
        return "null"
    names = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }
    return names.get(type(value), f"a {type(value).__name__}")


def _one_line(text: str) -> str:
    return " ".join(text.split())
