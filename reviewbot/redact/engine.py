"""Redaction engine (pure): finds the secrets the rules describe and replaces them. Each
finder turns one kind of rule into hits; the more specific rule wins an overlap; a Redactor
numbers placeholders across a run so the same value gets the same placeholder. Newlines are
kept, so line numbers stay valid."""

from __future__ import annotations

import bisect
import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from .rules import (
    _AFTER_NAME,
    _AWS_SECRET,
    _CANDIDATE,
    _CLI_RULES,
    _KEYWORDS,
    _LITERAL,
    _MAX_NAME,
    _NAME_CHARS,
    _NAME_OK,
    _NAME_WORDS,
    _NOT_A_VALUE,
    _PK_BEGIN,
    _PK_BODY_LINE,
    _PK_END,
    _PK_MAX_CHARS,
    _PLACEHOLDER_WORDS,
    _QUOTED_REST,
    _STEMS,
    _SUFFIXES,
    _TOKEN_GATES,
    _TOKEN_RULES,
    _URL_PASSWORD,
    _WORDLIKE,
    MIN_ENTROPY,
    MIN_LITERAL_ENTROPY,
    MIN_SECRET_LEN,
)


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    kind: str
    priority: int  # lower wins an overlap


def shannon_entropy(value: str) -> float:
    """Bits per character of `value` over its own character frequencies."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def _token_hits(text: str) -> list[_Hit]:
    hits: list[_Hit] = []
    for priority, (kind, pattern) in enumerate(_TOKEN_RULES, start=1):
        if _TOKEN_GATES[kind].search(text) is None:
            continue
        for m in pattern.finditer(text):
            if kind == "openai-key" and not _mixed(m.group()[3:]):
                continue  # "sk-some-css-class-name" is not a key
            hits.append(_Hit(m.start(), m.end(), kind, priority))
    return hits


def _mixed(body: str) -> bool:
    return any(c.isdigit() for c in body) and any(c.isupper() for c in body) and any(c.islower() for c in body)


def _private_key_hits(text: str) -> list[_Hit]:
    hits: list[_Hit] = []
    if "PRIVATE KEY" not in text:  # in every BEGIN marker
        return hits
    pos = 0
    while (begin := _PK_BEGIN.search(text, pos)) is not None:
        end = _PK_END.search(text, begin.end(), begin.end() + _PK_MAX_CHARS)
        stop = end.end() if end is not None else _key_body_end(text, begin.end())
        hits.append(_Hit(begin.start(), stop, "private-key", 0))
        pos = stop
    return hits


def _key_body_end(text: str, pos: int) -> int:
    """End of the key material after a BEGIN marker that has no END marker in reach."""
    line_end = text.find("\n", pos)
    if line_end < 0:
        return len(text)  # the whole rest of the line, e.g. a JSON string cut short
    stop = line_end
    while stop < len(text) and stop - pos < _PK_MAX_CHARS:
        nxt = text.find("\n", stop + 1)
        nxt = len(text) if nxt < 0 else nxt
        if nxt - stop > 4096 or _PK_BODY_LINE.fullmatch(text, stop + 1, nxt) is None:
            break
        stop = nxt
    return stop


def _url_password_hits(text: str) -> list[_Hit]:
    if "://" not in text:
        return []
    return [
        _Hit(m.start(1), m.end(1), "url-password", len(_TOKEN_RULES) + 1)
        for m in _URL_PASSWORD.finditer(text)
        if m.group(1)[0] not in "${%<*" and not _is_placeholder(m.group(1))
    ]


# A YAML block scalar under a secret-named key: `password: |` (or `>-`, `|2`...) and its
# more-indented lines hold the value, which no one-line rule sees.
_BLOCK_KEY = re.compile(r"^([ \t]*)([A-Za-z_][\w.\-]{0,79})[ \t]*:[ \t]*[|>][+\-]?[0-9]?[ \t]*(?:#[^\n]*)?$", re.M)
_MAX_BLOCK_LINES = 64


def _block_scalar_hits(text: str) -> list[_Hit]:
    if ":" not in text or ("|" not in text and ">" not in text):
        return []
    hits = []
    for m in _BLOCK_KEY.finditer(text):
        kind = _name_kind(m.group(2))
        if kind is None:
            continue
        indent = len(m.group(1).expandtabs())
        pos = m.end() + 1
        for _ in range(_MAX_BLOCK_LINES):
            end = text.find("\n", pos)
            line = text[pos : len(text) if end < 0 else end]
            body = line.lstrip(" \t")
            if pos > len(text) or not body or len(line.expandtabs()) - len(body) <= indent:
                break
            if not _is_placeholder(body.strip()):
                hits.append(_Hit(pos + len(line) - len(body), pos + len(line.rstrip()), kind, len(_TOKEN_RULES) + 3))
            if end < 0:
                break
            pos = end + 1
    return hits


# Values that the one-line assignment rule cannot see as one value: an XML element
# (<password>…</password>), a PHP define('AUTH_KEY', '…'), a JSON string with escapes, a
# quoted app password in four groups ("abcd efgh ijkl mnop").
_XML_VALUE = re.compile(r"<([A-Za-z_][\w.\-]{0,79})>([^<>\s][^<>\n]{3,1023})</\1>")
_PHP_DEFINE = re.compile(r"""define\(\s*(['"])([A-Za-z_]\w{0,79})\1\s*,\s*(['"])((?:[^'"\\\n]|\\.){8,1024})\3\s*\)""")
_JSON_ESCAPED = re.compile(r'"([A-Za-z_][\w.\-]{0,79})"\s*:\s*"((?:[^"\\\n]|\\.){8,2047})"')
_APP_PASSWORD = re.compile(
    r"""([A-Za-z_][\w.\-]{0,79})["'`]?\]?[ \t]*(?::=|=>|=|:)[ \t]*(["'])([a-z]{4}(?: [a-z]{4}){3})\2"""
)


def _structured_hits(text: str) -> list[_Hit]:
    hits = []
    priority = len(_TOKEN_RULES) + 2
    if "</" in text:
        hits += [
            _Hit(m.start(2), m.end(2), kind, priority)
            for m in _XML_VALUE.finditer(text)
            if (kind := _name_kind(m.group(1))) and not _is_placeholder(m.group(2))
        ]
    if "define" in text:
        hits += [
            _Hit(m.start(4), m.end(4), kind, priority)
            for m in _PHP_DEFINE.finditer(text)
            if (kind := _name_kind(m.group(2))) and not _is_placeholder(m.group(4))
        ]
    if "\\" in text:
        hits += [
            _Hit(m.start(2), m.end(2), kind, priority)
            for m in _JSON_ESCAPED.finditer(text)
            if "\\" in m.group(2) and (kind := _name_kind(m.group(1))) and not _is_placeholder(m.group(2))
        ]
    if " " in text:
        hits += [
            _Hit(m.start(3), m.end(3), "password", priority)
            for m in _APP_PASSWORD.finditer(text)
            if _name_kind(m.group(1)) == "password"
        ]
    return hits


def _name_kind(name: str) -> str | None:
    words = [w.lower() for w in _NAME_WORDS.findall(name)]
    if not words or words[-1] in _NOT_A_VALUE:
        return None
    kind = None
    for word in words:  # the last secret word names the kind: auth_token -> token
        found = _STEMS.get(word)
        if found is None:
            found = next((k for suffix, k in _SUFFIXES if word.endswith(suffix)), None)
        kind = found or kind
    return kind


def _looks_random(value: str) -> bool:
    return (
        len(value) >= MIN_SECRET_LEN
        and any(c.isalpha() for c in value)
        and "://" not in value
        and not value.startswith(("/", "./", "~"))
        and _WORDLIKE.fullmatch(value) is None
        and shannon_entropy(value) >= MIN_ENTROPY
        and not _is_placeholder(value)
    )


def _is_placeholder(value: str) -> bool:
    low = value.lower()
    return any(word in low for word in _PLACEHOLDER_WORDS)


def _name_start(text: str, key_start: int, floor: int) -> int | None:
    """Where the name holding the keyword at key_start begins; None when it is longer than
    _MAX_NAME. Scanning stops at `floor` (the previous match end): each character once."""
    start = key_start
    while start > floor and key_start - start < _MAX_NAME and text[start - 1] in _NAME_CHARS:
        start -= 1
    if start > 0 and text[start - 1] in _NAME_CHARS:
        return None
    return start


def _assignment_hit(text: str, start: int, end: int) -> tuple[_Hit | None, int]:
    """The secret assigned to the name text[start:end], and where to resume scanning."""
    tail = _AFTER_NAME.match(text, end)
    if tail is None or not _NAME_OK.fullmatch(text, start, end):
        return None, end  # most candidates stop here: no value of 16+ characters follows
    name = text[start:end]
    kind = _name_kind(name)
    if kind is None:
        return None, tail.end()
    quote, value = tail.group(1), tail.group(2)
    value_end = tail.end()
    after = text[value_end : value_end + 1]
    if quote and after != quote:
        rest = _QUOTED_REST.match(text, value_end)
        value_end = rest.end() if rest is not None else value_end
        if text[value_end : value_end + 1] != quote or value_end - tail.start(2) > 2048:
            return None, tail.end()
        value = text[tail.start(2) : value_end]
    elif not quote and after in ("(", "[", "{"):
        return None, tail.end()
    words = {w.lower() for w in _NAME_WORDS.findall(name)}
    if "secret" in words and ({"aws", "access"} & words) and _AWS_SECRET.fullmatch(value):
        kind = "aws-secret-key"
    elif not _looks_random(value):
        return None, value_end
    return _Hit(tail.start(2), value_end, kind, len(_TOKEN_RULES) + 2), value_end


def _keyword_starts(lowered: str) -> list[int]:
    """Where a _CANDIDATE keyword starts, ascending. str.find is a fast substring search;
    `re` tries the keyword alternation at every character (~30 ns each), which made this
    scan the slowest part of redaction."""
    starts: list[int] = []
    for word in _KEYWORDS:
        i = lowered.find(word)
        while i >= 0:
            starts.append(i)
            i = lowered.find(word, i + 1)
    starts.sort()  # no two keywords start alike, so no position repeats
    return starts


def _candidates(lowered: str) -> Iterator[re.Match[str]]:
    """The matches `_CANDIDATE.finditer(lowered)` yields, found from keyword positions."""
    scanned = 0
    for pos in _keyword_starts(lowered):
        if pos < scanned:
            continue
        m = _CANDIDATE.match(lowered, pos)
        if m is not None:
            scanned = m.end()
            yield m


def _assignment_hits(text: str) -> list[_Hit]:
    if "=" not in text and ":" not in text:  # every assignment operator has one
        return []
    lowered = text.lower()
    if len(lowered) != len(text):  # a few non-ASCII letters change length when lower-cased
        lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    hits: list[_Hit] = []
    resume = 0
    for m in _candidates(lowered):
        if m.start() < resume:
            continue
        start, end = _name_start(text, m.start(), resume), m.end(1)
        resume = m.end()
        if start is None or end - start > _MAX_NAME:
            continue
        hit, resume = _assignment_hit(text, start, end)
        if hit is not None:
            hits.append(hit)
    return hits


def _cli_password_hits(text: str) -> list[_Hit]:
    if "-p" not in text and "-u" not in text and "--user" not in text:
        return []
    hits = []
    for rule, commands in _CLI_RULES:
        for m in rule.finditer(text):
            if commands:
                line_start = text.rfind("\n", max(0, m.start() - 300), m.start()) + 1
                before = text[max(line_start, m.start() - 300) : m.start()]
                if not any(c in before for c in commands):
                    continue
            if not _is_placeholder(m.group(1)):
                hits.append(_Hit(m.start(1), m.end(1), "password", len(_TOKEN_RULES) + 1))
    return hits


def _literal_hits(text: str) -> list[_Hit]:
    if '"' not in text and "'" not in text and "`" not in text:
        return []
    hits = []
    for m in _LITERAL.finditer(text):
        value = m.group(2)
        if (
            any(c.isupper() for c in value)
            and any(c.islower() for c in value)
            and any(c.isdigit() for c in value)
            and _WORDLIKE.fullmatch(value) is None
            and not _is_placeholder(value)
            and not value.lower().startswith(("sha1", "sha256", "sha384", "sha512", "md5"))
            and shannon_entropy(value) >= MIN_LITERAL_ENTROPY
        ):
            hits.append(_Hit(m.start(2), m.end(2), "secret", len(_TOKEN_RULES) + 3))
    return hits


_FINDERS: tuple[Callable[[str], list[_Hit]], ...] = (
    _private_key_hits,
    _token_hits,
    _url_password_hits,
    _cli_password_hits,
    _assignment_hits,
    _structured_hits,
    _block_scalar_hits,
    _literal_hits,
)


def find_secrets(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of every secret, sorted and non-overlapping (the more specific
    rule wins an overlap)."""
    candidates = [h for find in _FINDERS for h in find(text)]
    if not candidates:  # most texts
        return []
    candidates.sort(key=lambda h: (h.priority, h.start))
    chosen: list[_Hit] = []  # by start, pairwise disjoint
    # One rule (priority) at a time: its hits are checked against the stronger rules' hits
    # and against its own, then merged in. Inserting each hit into one sorted list was
    # quadratic: 34,000 tokens on a one-megabyte line took seconds.
    for _, level in itertools.groupby(candidates, key=lambda h: h.priority):
        starts = [h.start for h in chosen]
        taken: list[_Hit] = []
        for hit in level:
            i = bisect.bisect_left(starts, hit.start)
            if (i > 0 and chosen[i - 1].end > hit.start) or (i < len(chosen) and chosen[i].start < hit.end):
                continue
            if taken and taken[-1].end > hit.start:  # taken is by start too: its last ends last
                continue
            taken.append(hit)
        chosen = sorted(chosen + taken, key=lambda h: h.start) if chosen else taken
    return [(h.start, h.end, h.kind) for h in chosen]


class Redactor:
    """Redacts many texts of one run with one numbering: the same secret value gets the same
    placeholder in every chunk, so the model (and the reader) can tell repeats apart."""

    def __init__(self) -> None:
        self._placeholders: dict[str, str] = {}
        self._numbers: Counter[str] = Counter()
        self.totals: Counter[str] = Counter()  # occurrences replaced per kind, all calls

    def _placeholder(self, kind: str, value: str) -> str:
        found = self._placeholders.get(value)
        if found is None:
            self._numbers[kind] += 1
            found = self._placeholders[value] = f"[REDACTED:{kind}#{self._numbers[kind]}]"
        return found

    def redact(self, text: str) -> tuple[str, dict[str, int]]:
        """The text with secrets replaced, and how many of each kind were replaced."""
        return self._apply(text, find_secrets(text))

    def _apply(self, text: str, hits: list[tuple[int, int, str]]) -> tuple[str, dict[str, int]]:
        out: list[str] = []
        counts: Counter[str] = Counter()
        pos = 0
        for start, end, kind in hits:
            value = text[start:end]
            # Multi-line secrets (key blocks) keep their line breaks: lines stay numbered.
            out += [text[pos:start], self._placeholder(kind, value), "\n" * value.count("\n")]
            counts[kind] += 1
            pos = end
        out.append(text[pos:])
        self.totals.update(counts)
        return "".join(out), dict(counts)

    def redact_lines(self, lines: Sequence[str]) -> tuple[tuple[str, ...], tuple[int, ...]]:
        """Redact consecutive lines as one text (a key block spans lines); returns as many
        lines as given and how many secrets were replaced on each (counted where it starts)."""
        if not lines:
            return (), ()
        text = "\n".join(lines)
        if text.count("\n") != len(lines) - 1:  # not line texts: keep the count by line
            pairs = [self.redact(line) for line in lines]
            return tuple(p[0] for p in pairs), tuple(sum(p[1].values()) for p in pairs)
        hits = find_secrets(text)
        if not hits:  # the common case: no offsets to compute, nothing to replace
            return tuple(lines), (0,) * len(lines)
        offsets = [0, *itertools.accumulate(len(line) + 1 for line in lines[:-1])]
        per_line = [0] * len(lines)
        for start, _end, _kind in hits:
            per_line[bisect.bisect_right(offsets, start) - 1] += 1
        redacted, _ = self._apply(text, hits)
        return tuple(redacted.split("\n")), tuple(per_line)


def redact(text: str) -> tuple[str, dict[str, int]]:
    """Redact one text with a fresh numbering. See Redactor for a run-wide numbering."""
    return Redactor().redact(text)
