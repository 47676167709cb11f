"""Stage 6b (pure): anchoring. Input: parsed Findings, the diff and the files of the chunk
they came from. Output: each Finding placed on a commentable line of its side (inline),
re-anchored to the nearest changed line within REANCHOR_WINDOW lines with a note, or kept at
file or PR level (general) with a note saying why; every output fingerprinted. GitHub
rejects a whole review if one comment is outside the diff, so nothing unanchored is inline,
and nothing is dropped."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from .diff import Diff, FileDiff, Hunk
from .findings import Finding

REANCHOR_WINDOW = 5  # lines: further than this, a re-anchored comment would mislead


@dataclass
class _SideIndex:
    """Commentable lines of one side of one file: GitHub accepts any line inside a hunk."""

    hunk_of: dict[int, int] = field(default_factory=dict)  # line number -> hunk index
    changed: dict[int, int] = field(default_factory=dict)  # added (RIGHT) / removed (LEFT) lines
    text: dict[int, str] = field(default_factory=dict)
    ranges: list[tuple[int, int, int]] = field(default_factory=list)  # (first, last, hunk)


def _index(fd: FileDiff, side: str) -> _SideIndex:
    idx = _SideIndex()
    for h_i, hunk in enumerate(fd.hunks):
        nums = list(_side_lines(hunk, side))
        for no, kind, text in nums:
            idx.hunk_of[no] = h_i
            idx.text[no] = text
            if kind != " ":
                idx.changed[no] = h_i
        if nums:
            idx.ranges.append((nums[0][0], nums[-1][0], h_i))
    return idx


def _side_lines(hunk: Hunk, side: str) -> Iterator[tuple[int, str, str]]:
    for ln in hunk.lines:
        no = ln.new_no if side == "RIGHT" else ln.old_no
        if no is not None and ln.kind in (" +" if side == "RIGHT" else " -"):
            yield no, ln.kind, ln.text


def _normalise_path(path: str) -> str:
    p = path.strip().strip("`'\"").replace("\\", "/")
    while True:
        stripped = re.sub(r"^(?:\./|/|[ab]/)", "", p)
        if stripped == p:
            return p
        p = stripped


def _resolve(path: str, diff: Diff, chunk_files: Sequence[str]) -> tuple[FileDiff | None, str | None]:
    """The FileDiff a cited path means: exact, else a unique suffix match (chunk files first)."""
    exact = diff.file(path.strip()) or diff.file(_normalise_path(path))
    if exact is not None:
        return exact, None
    p = _normalise_path(path)
    if not p:
        return None, None

    def suffix_match(f: FileDiff) -> bool:
        return any(c.endswith("/" + p) or p.endswith("/" + c) for c in (f.path, f.old_path) if c)

    in_chunk = [f for f in diff.files if f.path in chunk_files and suffix_match(f)]
    matches = in_chunk if len(in_chunk) == 1 else [f for f in diff.files if suffix_match(f)]
    if len(matches) == 1:
        return matches[0], None
    return None, f"path {path!r} matches {len(matches)} files in this diff" if matches else None


def anchor_findings(findings: Sequence[Finding], diff: Diff, chunk_files: Sequence[str]) -> list[Finding]:
    """Place every finding on a commentable line (inline) or at file/PR level (general),
    with a note whenever the model's citation was changed. Every output is fingerprinted."""
    cache: dict[tuple[str, str], _SideIndex] = {}

    def index(fd: FileDiff, side: str) -> _SideIndex:
        if (fd.path, side) not in cache:
            cache[(fd.path, side)] = _index(fd, side)
        return cache[(fd.path, side)]

    return [_anchor_one(f, diff, chunk_files, index) for f in findings]


def _anchor_one(
    f: Finding, diff: Diff, chunk_files: Sequence[str], index: Callable[[FileDiff, str], _SideIndex]
) -> Finding:
    notes = [f.anchor_note] if f.anchor_note else []
    fd: FileDiff | None = None
    if f.path:
        fd, why = _resolve(f.path, diff, chunk_files)
        if fd is None:
            notes.append(why or f"path not in this diff: {_clip(f.path, 200)}")
    elif len(chunk_files) == 1 and diff.file(chunk_files[0]) is not None:
        fd = diff.file(chunk_files[0])
        notes.append(f"no path given; assumed {chunk_files[0]}")
    if fd is None:
        return _general(f, None, notes)
    if fd.path not in chunk_files:
        # Only the chunk's own files were shown to the model; a path it saw only inside some
        # text (a .patch file, the PR description) must not get an inline comment.
        notes.append(f"{_clip(fd.path, 200)} was not in the part of the diff this model reviewed")
        return _general(f, None, notes)
    side = f.side
    if not index(fd, side).hunk_of and index(fd, _other(side)).hunk_of:
        # A deleted file has only LEFT lines and an added file only RIGHT ones.
        notes.append(f"side {side} does not exist in this {fd.status} file; using {_other(side)}")
        side = _other(side)
    idx = index(fd, side)
    if f.line is None:
        return _general(replace(f, side=side), fd.path, notes)
    line = _reanchor(f.line, idx, notes)
    if line is None:
        return _general(replace(f, side=side), fd.path, notes)
    start = _check_start(f.start_line, line, idx, notes)
    unchanged = line == f.line and start == f.start_line and side == f.side
    f = replace(f, path=fd.path, side=side, line=line, start_line=start, placement="inline")
    if f.suggestion is not None and not (side == "RIGHT" and unchanged):
        why = "LEFT lines cannot take a suggestion" if side == "LEFT" else "the cited lines changed"
        notes.append(f"suggestion moved to the body: {why}")
        f = _suggestion_to_body(f)
    return replace(
        f, anchor_note="; ".join(notes) or None, fingerprint=fingerprint(fd.path, f.title, idx.text.get(line, ""))
    )


def _check_start(start: int | None, line: int, idx: _SideIndex, notes: list[str]) -> int | None:
    if start is None:
        return None
    if start >= line:
        notes.append(f"start_line {start} is not before line {line}; dropped")
    elif idx.hunk_of.get(start) != idx.hunk_of[line]:
        notes.append(f"start_line {start} is not in the same hunk as line {line}; dropped")
    else:
        return start
    return None


def _reanchor(line: int, idx: _SideIndex, notes: list[str]) -> int | None:
    """The line itself when commentable; else the unique nearest changed line of the
    nearest hunk within REANCHOR_WINDOW; else None (the finding becomes file-level)."""
    if line in idx.hunk_of:
        return line
    dist = {h: min(abs(line - a), abs(line - b)) for a, b, h in idx.ranges}
    best = min(dist.values(), default=None)
    near_hunks = [h for h, d in dist.items() if d == best]
    candidates: list[int] = []
    if len(near_hunks) == 1:
        window = range(line - REANCHOR_WINDOW, line + REANCHOR_WINDOW + 1)
        in_hunk = [n for n in window if idx.changed.get(n) == near_hunks[0]]
        closest = min((abs(n - line) for n in in_hunk), default=None)
        candidates = [n for n in in_hunk if abs(n - line) == closest]
    if len(candidates) == 1:
        notes.append(f"re-anchored from line {line} to {candidates[0]}")
        return candidates[0]
    extra = " (equally near two hunks)" if len(near_hunks) > 1 else ""
    notes.append(f"line {line} is outside the diff{extra}")
    return None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _other(side: Literal["RIGHT", "LEFT"]) -> Literal["RIGHT", "LEFT"]:
    return "LEFT" if side == "RIGHT" else "RIGHT"


def _general(f: Finding, path: str | None, notes: list[str]) -> Finding:
    f = replace(f, path=path, line=None, start_line=None, placement="general")
    if f.suggestion is not None:
        f = _suggestion_to_body(f)
    return replace(f, anchor_note="; ".join(notes) or None, fingerprint=fingerprint(path, f.title, ""))


def _suggestion_to_body(f: Finding) -> Finding:
    text = f.suggestion or ""
    fence = "`" * max(3, 1 + max((len(r) for r in re.findall(r"`+", text)), default=0))
    body = f"{f.body}\n\nSuggested change:\n{fence}\n{text}\n{fence}".strip()
    return replace(f, body=body, suggestion=None)


__all__ = ["REANCHOR_WINDOW", "anchor_findings"]


def _normalise_title(title: str) -> str:
    text = unicodedata.normalize("NFKC", title).lower()
    text = "".join(" " if unicodedata.category(c)[0] in "PSN" else c for c in text)
    return " ".join(text.split())


def fingerprint(path: str | None, title: str, anchored_line_text: str) -> str:
    """16 hex chars from path, the normalised title and the anchored line's text (not its
    number), so the same finding on a line that moved keeps its fingerprint across runs."""
    key = "\x1f".join((path or "", _normalise_title(title), anchored_line_text.strip()))
    return hashlib.sha1(key.encode("utf-8", "replace")).hexdigest()[:16]
