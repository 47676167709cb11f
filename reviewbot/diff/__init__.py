"""Stage 1 (pure): the diff model. Input: unified diff text (bytes or str) or GitHub
per-file patches. Output: a Diff of FileDiffs whose hunks carry, for every line, its old
number, new number and kind, plus the exact sets of commentable lines per side.

One line scanner handles both inputs: unidiff 1.0.1 took ~0.4 s on a 3,000-file diff before
any model was built, and it hides modes, quoted paths, hunk-less entries and `diff --cc`.

model.py    the records: Diff, FileDiff, Hunk, DiffLine
hunks.py    what both inputs share: lines, hunks, commentable lines; first_mismatch
unified.py  `git diff` text -> Diff (parse_diff)
github.py   GitHub's per-file patches -> Diff (diff_from_patches)"""

from ..errors import DiffError
from .github import diff_from_patches
from .hunks import MAX_LINE_CHARS, first_mismatch
from .model import Diff, DiffLine, FileDiff, FileStatus, Hunk, LineKind, Side
from .unified import SUBMODULE_MODE, parse_diff

__all__ = [
    "MAX_LINE_CHARS",
    "SUBMODULE_MODE",
    "Diff",
    "DiffError",
    "DiffLine",
    "FileDiff",
    "FileStatus",
    "Hunk",
    "LineKind",
    "Side",
    "diff_from_patches",
    "first_mismatch",
    "parse_diff",
]
