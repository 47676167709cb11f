"""Diff from GitHub (pure): the items of `GET /pulls/{n}/files` (filename, status,
previous_filename, patch) to the same Diff model as unified.py builds from `git diff`."""

from __future__ import annotations

import re

from ..errors import DiffError
from .hunks import _collector_paused, _commentable, _read_hunks, _split_lines
from .model import Diff, FileDiff, FileStatus, Hunk

_GITHUB_STATUS: dict[str, FileStatus] = {
    "added": "added",
    "removed": "deleted",
    "modified": "modified",
    "renamed": "renamed",
    "copied": "copied",
    "changed": "mode_changed",  # GitHub's word for a mode/type change
    "unchanged": "modified",
}
_SUBPROJECT_RE = re.compile(r"Subproject commit [0-9a-f]{40}(-dirty)?")


def _count(item: dict[str, object], key: str) -> int | None:
    value = item.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _nothing_to_show(item: dict[str, object], status: FileStatus) -> bool:
    """A missing patch is expected, not lost, for an empty new file, a pure rename/copy and
    a mode-only change: GitHub reports 0 changes for them. (A binary file also reports 0
    additions; for `added` the two cannot be told apart, and neither has lines to review.)"""
    if status == "added":
        return _count(item, "additions") == 0
    return status in ("renamed", "copied", "mode_changed", "deleted") and _count(item, "changes") == 0


def _file_from_item(item: object, index: int) -> FileDiff:
    if not isinstance(item, dict) or not isinstance(item.get("filename"), str) or not item["filename"]:
        raise DiffError(
            f"GitHub file item {index} has no filename",
            hint="pass the JSON items of GET /pulls/{n}/files",
        )
    path: str = item["filename"]
    # Unknown future statuses are reviewed as ordinary modifications rather than refused.
    status = _GITHUB_STATUS.get(str(item.get("status")), "modified")
    patch = item.get("patch")
    hunks: list[Hunk] = []
    if isinstance(patch, str) and patch:
        hunks, _ = _read_hunks(_split_lines(patch), 0, f"GitHub patch of {path},")
        if not hunks:
            raise DiffError(f"GitHub patch of {path} has no hunk", hint="the files API item looks damaged")
    if hunks and status == "mode_changed":
        status = "modified"
    changed = [ln.text for h in hunks for ln in h.lines if ln.kind != " "]
    right, left = _commentable(hunks)
    previous = item.get("previous_filename")
    return FileDiff(
        path=path,
        old_path=previous if isinstance(previous, str) and status in ("renamed", "copied") else None,
        status=status,
        hunks=tuple(hunks),
        # The files API has no mode field: a gitlink shows only as "Subproject commit" lines.
        submodule=bool(changed) and all(_SUBPROJECT_RE.fullmatch(t) for t in changed),
        # GitHub counts no lines for a binary file; a text file with changes and no patch was
        # withheld (too large to show): its changes are lost to the review.
        binary=not hunks and not _nothing_to_show(item, status) and _count(item, "changes") == 0,
        patch_missing=not hunks and not _nothing_to_show(item, status) and _count(item, "changes") != 0,
        right_lines=right,
        left_lines=left,
    )


def diff_from_patches(files: list[dict[str, object]]) -> Diff:
    """Build the same model from GitHub's `GET /pulls/{n}/files` items (filename, status,
    previous_filename, patch; patch absent for binary or very large files)."""
    with _collector_paused():
        return Diff(files=tuple(_file_from_item(item, i) for i, item in enumerate(files)))
