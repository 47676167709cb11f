"""Stage 6a (pure): findings. Input: a model's raw reply. Output: Findings parsed
tolerantly (fences, prose, truncation, synonyms for keys and severities; the JSON scanning
is in jsonscan.py), bounded in number and size, plus the severity order and the fingerprint
that ties a finding to its line's text across runs. anchor.py then places each finding on
a diff line. Nothing a model found is dropped: an overflow is collapsed into one finding
that says how many more there were."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from .finding_fields import (
    _cap,
    _first,
    _first_sentence,
    _first_str,
    _parse_line,
    _severity,
    _side,
    _side_hint,
    _suggestion,
)
from .jsonscan import MAX_DEPTH, OBJECT_OPENER, OPENERS, Scanner
from .vocab import severity_at_least

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")
Placement = Literal["inline", "general"]


@dataclass(frozen=True)
class Finding:
    path: str | None  # None: a PR-level finding
    line: int | None
    side: Literal["RIGHT", "LEFT"]
    severity: Severity
    category: str  # security, bug, performance, maintainability, style, test, docs, ...
    title: str
    body: str
    start_line: int | None = None
    suggestion: str | None = None  # replacement text for exactly start_line..line (RIGHT)
    model: str = ""
    chunk_id: str = ""
    placement: Placement = "general"
    anchor_note: str | None = None  # e.g. "re-anchored from line 57 to 55", "line 900 is outside the diff"
    fingerprint: str = ""


@dataclass(frozen=True)
class ParsedReply:
    findings: tuple[Finding, ...]
    summary: str | None
    error: str | None  # set when the reply was not fully parsed; salvaged findings are still above
    second_look: str | None = None  # the reply asked for a frontier review (needs_frontier), why


# Bounds on the work one reply can cause: a runaway local model can emit megabytes.
MAX_REPLY_CHARS = 1_000_000
MAX_FINDINGS = 500
MAX_CANDIDATES = 20
_MAX_TITLE, _MAX_TEXT, _MAX_PATH = 200, 8_000, 1_000


# --- parse_reply ---------------------------------------------------------------------------

_THINK = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.S | re.I)
_THINK_OPEN = re.compile(r"<(?:think|thinking|reasoning)>", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufeff]")
_FINDINGS_KEYS = ("findings", "issues", "comments", "results", "problems")
_FINDING_KEYS = frozenset({"title", "body", "severity", "line", "description", "message"})


def parse_reply(text: str, *, model: str = "", chunk_id: str = "", finish_reason: str | None = None) -> ParsedReply:
    """Parse a model's reply into findings. Never raises on any str; what could not be
    parsed is described in `error` and every complete finding before a cut is kept."""
    errors: list[str] = []
    if len(text) > MAX_REPLY_CHARS:
        errors.append(f"reply of {len(text):,} characters cut to {MAX_REPLY_CHARS:,}")
        text = text[:MAX_REPLY_CHARS]
    text = _clean(text)
    found = _extract(text)
    if found is None:
        return ParsedReply((), None, "; ".join([*errors, "no JSON object found"]))
    value, scanner = found
    if scanner.stop == "truncated":
        errors.append(f"truncated JSON (finish_reason={finish_reason})" if finish_reason else "truncated JSON")
    elif scanner.stop:
        errors.append(scanner.stop)
    if scanner.too_deep:
        errors.append(f"{scanner.too_deep} value(s) nested deeper than {MAX_DEPTH} levels skipped")
    raw_items, summary = _shape(value, errors)
    findings = _normalise_all(raw_items, model, chunk_id, errors)
    return ParsedReply(tuple(findings), summary, "; ".join(errors) or None, _second_look(value))


def _second_look(value: object) -> str | None:
    """`needs_frontier`: a reason (or true). Anything else, or an empty reason, is no request."""
    asked = value.get("needs_frontier") if isinstance(value, dict) else None
    if asked is True:
        return "the model asked for a frontier review"
    if isinstance(asked, str) and (reason := " ".join(asked.split())) and reason.lower() not in _NO_WORDS:
        return reason[:_MAX_TITLE]
    return None


_NO_WORDS = frozenset({"false", "no", "none", "n/a", "null", "-"})


def _clean(text: str) -> str:
    # Lone surrogates come from bytes decoded with surrogateescape; they cannot be encoded.
    text = text.encode("utf-8", "replace").decode("utf-8")
    # Reasoning models (DeepSeek-R1, Qwen3 on llama.cpp...) think aloud first, drafts of the
    # JSON included: the answer is what follows. A thought never closed holds no answer.
    text = _THINK.sub("", text)
    opened = _THINK_OPEN.search(text)
    if opened is not None:
        text = text[: opened.start()]
    return _CONTROL.sub("", text)


def _extract(text: str) -> tuple[object, Scanner] | None:
    """Find the first JSON value that looks like a reply, skipping prose and fences.
    Work is bounded: at most MAX_CANDIDATES starts and about two passes over the text."""
    pos, tries, budget = 0, 0, 2 * len(text) + 10_000
    opener = OPENERS
    fallback: tuple[object, Scanner] | None = None
    best: tuple[object, Scanner] | None = None  # a reply with no findings: a later one may have some
    while tries < MAX_CANDIDATES and budget > 0:
        m = opener.search(text, pos)
        if m is None:
            break
        tries += 1
        scanner = Scanner(text)
        value, complete, end = scanner.value(m.start())
        value = _unwrap(value)
        if _looks_like_reply(value, complete):
            # A model may state the empty shape first ("the format is {"findings": []}",
            # a first draft) and answer after it: an empty reply stands only if no later
            # reply carries findings.
            if _finding_items(value) or not complete:
                return value, scanner
            best = best or (value, scanner)
        if fallback is None and isinstance(value, dict) and value:
            fallback = (value, scanner)
        budget -= max(end - m.start(), 1)
        if scanner.stop == "truncated":
            opener = OBJECT_OPENER  # inside a cut value only an object can still be a reply
        pos = end if complete and end > m.start() else m.start() + 1
    return best or fallback


def _finding_items(value: object) -> int:
    """How many candidate findings a reply-shaped value holds."""
    if isinstance(value, list):
        return len(value)
    if isinstance(value, dict):
        items = next((value[k] for k in _FINDINGS_KEYS if k in value), None)
        if isinstance(items, list):
            return len(items)
        return 1 if set(value) & _FINDING_KEYS else 0
    return 0


def _unwrap(value: object) -> object:
    """{"review": {"findings": [...]}} -> the inner object (a few levels at most)."""
    for _ in range(3):
        if not (isinstance(value, dict) and len(value) == 1):
            break
        inner = next(iter(value.values()))
        if not isinstance(inner, dict):
            break
        value = inner
    return value


def _looks_like_reply(value: object, complete: bool) -> bool:
    if isinstance(value, dict):
        keys = set(value)
        return bool(keys & {*_FINDINGS_KEYS, "summary", "overview"} or keys & _FINDING_KEYS)
    if isinstance(value, list):
        if any(isinstance(v, dict) for v in value):
            return True
        return complete and not value  # "[]": an explicit "no findings"
    return False


def _shape(value: object, errors: list[str]) -> tuple[list[object], str | None]:
    if isinstance(value, list):
        return value, None
    if not isinstance(value, dict):
        errors.append("wrong shape: expected an object with 'findings'")
        return [], None
    summary = next((v for k in ("summary", "overview") if isinstance(v := value.get(k), str)), None)
    key = next((k for k in _FINDINGS_KEYS if k in value), None)
    if key is None:
        if set(value) & _FINDING_KEYS:  # a single finding without the wrapper
            return [value], summary
        # {"summary": …} alone is not "no findings": a reply must say so with "findings": [].
        errors.append("wrong shape: no 'findings' key")
        return [], summary
    items = value[key]
    if isinstance(items, list):
        return items, summary
    errors.append(f"wrong shape: {key!r} is not a list")
    return ([items] if isinstance(items, dict) else []), summary


def _normalise_all(raw_items: list[object], model: str, chunk_id: str, errors: list[str]) -> list[Finding]:
    findings: list[Finding] = []
    not_objects = empty = junk = 0
    for item in raw_items:
        if not isinstance(item, dict):
            not_objects += 1
            continue
        f = _to_finding(item, model, chunk_id)
        if f is None:
            empty += 1
        elif _not_a_finding(f):
            junk += 1
        else:
            findings.append(f)
    if not_objects:
        errors.append(f"wrong shape: {not_objects} finding(s) not an object, skipped")
    if empty:
        errors.append(f"{empty} finding(s) with neither title nor body skipped")
    if junk and not findings:
        # Only an error when nothing real is left: one stray fragment beside real findings
        # should not throw the real ones to a repair retry.
        errors.append(f"{junk} finding(s) too short to mean anything, or a copy of the prompt's example")
    if len(findings) > MAX_FINDINGS:
        findings = _collapse_overflow(findings, model, chunk_id)
    return findings


def _collapse_overflow(findings: list[Finding], model: str, chunk_id: str) -> list[Finding]:
    """Keep the MAX_FINDINGS most severe (in reply order) and count the rest in one finding."""
    order = sorted(range(len(findings)), key=lambda i: SEVERITIES.index(findings[i].severity))
    keep = set(order[:MAX_FINDINGS])
    kept = [f for i, f in enumerate(findings) if i in keep]
    rest = [f for i, f in enumerate(findings) if i not in keep]
    counts = ", ".join(f"{n:,} {s}" for s in SEVERITIES if (n := sum(1 for f in rest if f.severity == s)))
    summary = Finding(
        path=None,
        line=None,
        side="RIGHT",
        category="general",
        severity=min((f.severity for f in rest), key=SEVERITIES.index),
        title=f"{len(rest):,} more findings truncated",
        body=f"The reply had {len(findings):,} findings; at most {MAX_FINDINGS} are kept per reply. Left out: {counts}.",
        model=model,
        chunk_id=chunk_id,
    )
    return [*kept, summary]


# The prompt's own example reply (prompts/system.j2): a weak model copies it back.
# The prompt's example texts as their words only (articles and "and" dropped): a copy with
# other punctuation ("Short sentence!", "A short sentence") is still the example.
_EXAMPLE_TEXTS = frozenset({"short sentence", "why when how to fix", "what chunk changes 1 2 sentences", "fixed code"})
_EXAMPLE_NOISE = frozenset({"a", "an", "the", "and"})
_EXAMPLE_PATHS = frozenset({"path/to/file.py"})


_FILLER = frozenset(
    [
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "if",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "so",
        "that",
        "the",
        "then",
        "there",
        "these",
        "this",
        "those",
        "to",
        "was",
        "we",
        "were",
        "will",
        "with",
        "you",
    ]
)


def _not_a_finding(f: Finding) -> bool:
    """Nothing to act on (a cut-off fragment such as "The" or "It is the": filler words
    only, or no word at all), or the prompt's example copied back."""
    words = re.findall(r"[^\W_]+", f"{f.title} {f.body}")
    if all(w.lower() in _FILLER for w in words):
        return True
    norm = {
        " ".join(w for w in re.findall(r"[^\W_]+", t.lower()) if w not in _EXAMPLE_NOISE)
        for t in (f.title, f.body)
        if t.strip()
    }
    return bool(norm & _EXAMPLE_TEXTS) or (f.path or "") in _EXAMPLE_PATHS


def _to_finding(raw: Mapping[str, object], model: str, chunk_id: str) -> Finding | None:
    notes: list[str] = []
    body = _first_str(raw, ("body", "description", "message", "comment", "details", "explanation", "rationale"))
    title = _first_str(raw, ("title", "name", "issue", "summary", "headline"))
    if not title and not body:
        return None
    title = _cap(title or _first_sentence(body), _MAX_TITLE).replace("\n", " ")
    raw_line = _first(raw, ("line", "line_number", "lineno", "end_line", "lines"))
    start, line = _parse_line(raw_line)
    explicit_start = _parse_line(_first(raw, ("start_line", "start", "line_start")))[1]
    start = explicit_start if explicit_start is not None else start
    if line is None:
        line, start = start, None
    if start is not None and start == line:
        start = None
    severity = _severity(raw.get("severity", raw.get("level", raw.get("priority"))), notes)
    category = re.sub(r"\s+", " ", str(raw.get("category") or raw.get("type") or "").strip().lower())
    path = _first_str(raw, ("path", "file", "filename", "file_path", "filepath"))
    return Finding(
        path=_cap(path, _MAX_PATH) or None,
        line=line,
        start_line=start,
        side=_side(raw.get("side")) if raw.get("side") else _side_hint(raw_line) or "RIGHT",
        severity=severity,
        category=_cap(category, 40) or "general",
        title=title,
        body=_cap(body, _MAX_TEXT),
        suggestion=_suggestion(raw),
        model=model,
        chunk_id=chunk_id,
        anchor_note="; ".join(notes) or None,
    )


# --- severity ----------------------------------------------------------------------------


def filter_min_severity(findings: Sequence[Finding], min_severity: str) -> tuple[tuple[Finding, ...], int]:
    """(findings at or above min_severity, how many were below): reports show the count."""
    kept = tuple(f for f in findings if severity_at_least(f.severity, min_severity))
    return kept, len(findings) - len(kept)


__all__ = [
    "SEVERITIES",
    "Finding",
    "ParsedReply",
    "Placement",
    "Severity",
    "filter_min_severity",
    "parse_reply",
]
