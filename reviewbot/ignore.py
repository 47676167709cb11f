"""Stage 2 (pure): which files are reviewed. Input: a Diff and the config's extra ignore
globs. Output: the reviewable FileDiffs and a SkippedFile (with its reason in words) for every
other file: lock files, vendored and minified files, generated-file markers, binaries,
deletions, pure renames, mode-only changes, submodules, patches GitHub did not send."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .diff import Diff, FileDiff


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str  # e.g. "lock file (**/*.lock)", "binary file", "ignored by config: dist/**"


def select_files(diff: Diff, extra_ignores: Sequence[str] = ()) -> tuple[list[FileDiff], list[SkippedFile]]:
    raise NotImplementedError


def glob_match(path: str, pattern: str) -> bool:
    """Git-style glob: `**` spans directories, `*` does not; a pattern without `/` matches
    the basename anywhere. Shared by ignore, risk and compliance rules."""
    raise NotImplementedError
