"""A small tolerant JSON scanner for model replies. json.loads gives all or nothing and
recurses without bound; replies are often cut by max_tokens (finish_reason "length"), so the
scanner keeps every complete element before the cut, skips values nested deeper than
MAX_DEPTH, and says where and why it stopped. Pure; used by findings.parse_reply."""

from __future__ import annotations

import json
import re

MAX_DEPTH = 32
OPENERS = re.compile(r"[\[{]")
OBJECT_OPENER = re.compile(r"{")

_WS = re.compile(r"\s*")
_STR = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)"', re.S)
_NUM = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_LITERALS: dict[str, object] = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}
_CONTAINER_CHARS = re.compile(r'[\[\]{}"]')


def _ws(s: str, i: int) -> int:
    m = _WS.match(s, i)
    return m.end() if m else i


class Scanner:
    def __init__(self, text: str) -> None:
        self.s = text
        self.stop: str | None = None  # "truncated" or "invalid JSON at offset N"
        self.too_deep = 0

    def _halt(self, i: int) -> None:
        if self.stop is None:
            self.stop = "truncated" if i >= len(self.s) else f"invalid JSON at offset {i}"

    def value(self, i: int, depth: int = 0) -> tuple[object, bool, int]:
        """Parse one value at i: (value, complete, next index). Partial containers keep
        their complete elements; an incomplete array element is left out."""
        s = self.s
        i = _ws(s, i)
        if i >= len(s):
            self._halt(i)
            return None, False, i
        c = s[i]
        if c in "[{" and depth >= MAX_DEPTH:
            self.too_deep += 1
            return self._skip(i)
        if c == "{":
            return self._object(i, depth)
        if c == "[":
            return self._array(i, depth)
        if c == '"':
            m = _STR.match(s, i)
            if m is None:
                self._halt(len(s))  # an unterminated string runs to the end
                return None, False, len(s)
            return _decode_string(m.group(1)), True, m.end()
        m = _NUM.match(s, i)
        if m is not None:
            return _number(m.group(0)), True, m.end()
        for word, lit in _LITERALS.items():
            if s.startswith(word, i):
                return lit, True, i + len(word)
        self._halt(i)
        return None, False, i

    def _object(self, i: int, depth: int) -> tuple[object, bool, int]:
        s, out = self.s, dict[str, object]()
        i += 1
        while True:
            i = _ws(s, i)
            if i >= len(s) or s[i] not in '},"':
                self._halt(i)
                return out, False, i
            if s[i] == "}":
                return out, True, i + 1
            if s[i] == ",":  # tolerate trailing and doubled commas
                i += 1
                continue
            m = _STR.match(s, i)
            j = _ws(s, m.end()) if m else len(s)
            if m is None or j >= len(s) or s[j] != ":":
                self._halt(len(s) if m is None else j)
                return out, False, j
            v, ok, i = self.value(j + 1, depth + 1)
            if ok or isinstance(v, (dict, list)):
                key = _decode_string(m.group(1))
                seen = out.get(key)
                # A repeated list must not erase what came before it ("findings": [high],
                # "findings": []): repeated lists are joined; any other value is the last one,
                # as JSON parsers read it.
                out[key] = [*seen, *v] if isinstance(seen, list) and isinstance(v, list) else v
            if not ok:
                return out, False, i

    def _array(self, i: int, depth: int) -> tuple[object, bool, int]:
        s, out = self.s, list[object]()
        i += 1
        while True:
            i = _ws(s, i)
            if i >= len(s):
                self._halt(i)
                return out, False, i
            if s[i] == "]":
                return out, True, i + 1
            if s[i] == ",":
                i += 1
                continue
            v, ok, i = self.value(i, depth + 1)
            if not ok:  # a finding cut mid-object is not a finding
                return out, False, i
            out.append(v)

    def _skip(self, i: int) -> tuple[object, bool, int]:
        """Step over a too-deep container without recursion."""
        depth = 0
        for m in _CONTAINER_CHARS.finditer(self.s, i):
            c = m.group(0)
            if c == '"':
                if m.start() < i:
                    continue
                sm = _STR.match(self.s, m.start())
                if sm is None:
                    break
                i = sm.end()
                continue
            if m.start() < i:
                continue
            depth += 1 if c in "[{" else -1
            i = m.end()
            if depth == 0:
                return None, True, i
        self._halt(len(self.s))
        return None, False, len(self.s)


def _decode_string(raw: str) -> str:
    try:
        return str(json.loads(f'"{raw}"', strict=False))
    except ValueError:  # bad escapes such as "\x41": keep the text as written
        return raw.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")


def _number(raw: str) -> object:
    try:
        return int(raw) if re.fullmatch(r"-?\d+", raw) else float(raw)
    except ValueError:  # more digits than int() accepts
        return None


__all__ = ["MAX_DEPTH", "OBJECT_OPENER", "OPENERS", "Scanner"]
