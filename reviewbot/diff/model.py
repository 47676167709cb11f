"""Diff model (pure): the records every stage reads. A Diff of FileDiffs whose hunks carry,
for every line, its old number, new number and kind, plus the exact sets of commentable lines
per side. Built by unified.py (git diff text) and github.py (GitHub per-file patches)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

LineKind = Literal["+", "-", " "]
FileStatus = Literal["added", "modified", "deleted", "renamed", "copied", "mode_changed"]
Side = Literal["RIGHT", "LEFT"]


class DiffLine(NamedTuple):
    """One line of a hunk. Immutable like the frozen dataclasses around it, but a NamedTuple:
    a diff has one per line (135,000 in a 3,000-file PR), and a tuple is built in half the
    time of a frozen dataclass (whose __init__ sets each field through object.__setattr__)
    and takes less memory."""

    kind: LineKind
    old_no: int | None  # None for added lines
    new_no: int | None  # None for removed lines
    text: str  # without the prefix column and without the line ending


@dataclass(frozen=True)
class Hunk:
    old_start: int
    old_len: int
    new_start: int
    new_len: int
    section: str  # text after the closing @@ (often the enclosing function), may be ""
    lines: tuple[DiffLine, ...]


@dataclass(frozen=True)
class FileDiff:
    path: str  # new path; for a deleted file, the old path
    old_path: str | None  # set for renamed/copied files, else None
    status: FileStatus
    hunks: tuple[Hunk, ...] = ()
    binary: bool = False
    submodule: bool = False
    old_mode: str | None = None
    new_mode: str | None = None
    # GitHub's files API leaves `patch` out for binary and very large files.
    patch_missing: bool = False
    # Commentable line numbers, as GitHub accepts them: any line inside a hunk on that side.
    right_lines: frozenset[int] = field(default_factory=frozenset)  # new-file numbers
    left_lines: frozenset[int] = field(default_factory=frozenset)  # old-file numbers

    @property
    def additions(self) -> int:
        return sum(1 for h in self.hunks for ln in h.lines if ln.kind == "+")

    @property
    def deletions(self) -> int:
        return sum(1 for h in self.hunks for ln in h.lines if ln.kind == "-")


@dataclass(frozen=True)
class Diff:
    files: tuple[FileDiff, ...]

    def file(self, path: str) -> FileDiff | None:
        for f in self.files:
            if f.path == path or f.old_path == path:
                return f
        return None
