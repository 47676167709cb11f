"""Diff parsing (pure): unified diff text (`git diff`, `diff -u`, svn, hand-made patches) to
a Diff. Each file header (git's extended lines: modes, quoted paths, renames, copies, binary
and hunk-less entries) then its hunks; a combined merge diff (`diff --cc`) is refused."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import DiffError
from .hunks import (
    _REGENERATE,
    _collector_paused,
    _combined_error,
    _commentable,
    _read_hunks,
    _split_lines,
)
from .model import Diff, FileDiff, FileStatus, Hunk

SUBMODULE_MODE = "160000"  # git's gitlink mode
_OCTAL3 = re.compile(r"[0-7]{3}")
_C_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


@dataclass
class _Entry:
    """Mutable facts gathered from one file's header block before the FileDiff is frozen."""

    old_path: str | None = None
    new_path: str | None = None
    added: bool = False
    deleted: bool = False
    renamed: bool = False
    copied: bool = False
    binary: bool = False
    old_mode: str | None = None
    new_mode: str | None = None
    hunks: list[Hunk] = field(default_factory=list)


# ---------------------------------------------------------------------------- paths


def _unquote(s: str, start: int) -> tuple[str, int]:
    """Read git's C-style quoted path at s[start] == '"' (core.quotePath escapes non-ASCII
    bytes as octal). Returns the decoded path and the index after the closing quote."""
    buf = bytearray()
    i = start + 1
    while i < len(s):
        c = s[i]
        if c == '"':
            return buf.decode("utf-8", "replace"), i + 1
        if c == "\\" and s[i + 1 : i + 2] in _C_ESCAPES:
            buf.append(_C_ESCAPES[s[i + 1]])
            i += 2
        elif c == "\\" and _OCTAL3.fullmatch(s, i + 1, i + 4):
            buf.append(int(s[i + 1 : i + 4], 8) & 0xFF)
            i += 4
        else:
            buf += c.encode("utf-8", "surrogatepass")
            i += 1
    raise DiffError(f"unterminated quoted path: {s[:80]!r}", hint=_REGENERATE)


def _strip_prefix(path: str, prefix: str) -> str:
    return path[len(prefix) :] if path.startswith(prefix) else path


def _header_path(value: str, prefix: str) -> str | None:
    """Path from a `---`/`+++` line value; None for /dev/null. git appends a TAB after a
    path containing a space, and `diff -u` a TAB and a timestamp."""
    path = _unquote(value, 0)[0] if value.startswith('"') else value.split("\t", 1)[0]
    return None if path == "/dev/null" else _strip_prefix(path, prefix)


def _plain_path(value: str) -> str:
    return _unquote(value, 0)[0] if value.startswith('"') else value


def _git_header_paths(rest: str) -> tuple[str, str] | None:
    """Split `a/X b/Y` from a `diff --git` line. Unquoted paths may contain spaces, so an
    unambiguous split is only certain when both sides name the same file."""
    if rest.startswith('"'):
        a, end = _unquote(rest, 0)
        tail = rest[end + 1 :]
        b = _unquote(tail, 0)[0] if tail.startswith('"') else tail
    elif rest.endswith('"') and ' "' in rest:
        cut = rest.index(' "')  # an unquoted path never contains '"'
        a, b = rest[:cut], _unquote(rest, cut + 1)[0]
    else:
        half = (len(rest) - 1) // 2
        if rest[half : half + 1] == " " and rest[2:half] == rest[half + 3 :]:
            a, b = rest[:half], rest[half + 1 :]
        elif " b/" in rest:
            a, b = rest.split(" b/", 1)
            b = "b/" + b
        else:
            return None
    return _strip_prefix(a, "a/"), _strip_prefix(b, "b/")


# ---------------------------------------------------------------------------- file headers


def _read_extended(e: _Entry, line: str) -> bool:
    """Apply one git extended header line (see git-diff(1) "generating patch text");
    False when the line is not one."""
    if line.startswith("old mode "):
        e.old_mode = line[9:].strip()
    elif line.startswith("new mode "):
        e.new_mode = line[9:].strip()
    elif line.startswith("deleted file mode "):
        e.deleted, e.old_mode = True, line[18:].strip()
    elif line.startswith("new file mode "):
        e.added, e.new_mode = True, line[14:].strip()
    elif line.startswith(("rename from ", "copy from ")):
        e.renamed, e.copied = line[0] == "r", line[0] == "c"
        e.old_path = _plain_path(line.split(" ", 2)[2])
    elif line.startswith(("rename to ", "copy to ")):
        e.new_path = _plain_path(line.split(" ", 2)[2])
    elif line.startswith("index "):
        parts = line.split()
        if len(parts) == 3:  # `index OLD..NEW MODE` when the mode did not change
            e.old_mode = e.old_mode or parts[2]
            e.new_mode = e.new_mode or parts[2]
    elif line.startswith("Binary files ") and line.endswith(" differ"):
        e.binary = True
    elif not line.startswith(("similarity index ", "dissimilarity index ")):
        return False
    return True


def _skip_binary_patch(lines: list[str], i: int) -> int:
    # base85 data never contains a space, so no data line can start with "diff ".
    while i < len(lines) and not lines[i].startswith("diff "):
        i += 1
    return i


def _parse_git_block(lines: list[str], i: int) -> tuple[FileDiff, int]:
    start, n, e = i, len(lines), _Entry()
    header = _git_header_paths(lines[i][len("diff --git ") :])
    i += 1
    while i < n and _read_extended(e, lines[i]):
        i += 1
    if i < n and lines[i] == "GIT binary patch":
        e.binary = True
        i = _skip_binary_patch(lines, i + 1)
    elif i + 1 < n and lines[i].startswith("--- ") and lines[i + 1].startswith("+++ "):
        e.old_path = e.old_path or _header_path(lines[i][4:], "a/")
        e.new_path = e.new_path or _header_path(lines[i + 1][4:], "b/")
        i += 2
    if header is not None:
        e.old_path = e.old_path or header[0]
        e.new_path = e.new_path or header[1]
    e.hunks, i = _read_hunks(lines, i, f"file {e.new_path or e.old_path},")
    return _finish(e, start), i


def _parse_plain_block(lines: list[str], i: int) -> tuple[FileDiff, int]:
    """A `---`/`+++` pair with no `diff --git` line (`diff -u`, svn, hand-made patches)."""
    e = _Entry(old_path=_header_path(lines[i][4:], "a/"), new_path=_header_path(lines[i + 1][4:], "b/"))
    e.added, e.deleted = e.old_path is None, e.new_path is None
    e.hunks, end = _read_hunks(lines, i + 2, f"file {e.new_path or e.old_path},")
    return _finish(e, i), end


def _status(e: _Entry) -> FileStatus:
    if e.deleted:
        return "deleted"
    if e.added:
        return "added"
    if e.renamed:
        return "renamed"
    if e.copied:
        return "copied"
    if e.old_mode and e.new_mode and e.old_mode != e.new_mode and not e.hunks and not e.binary:
        return "mode_changed"
    return "modified"


def _finish(e: _Entry, start: int) -> FileDiff:
    path = e.old_path if e.deleted else e.new_path
    if not path:
        raise DiffError(f"line {start + 1}: cannot read the file path from this header", hint=_REGENERATE)
    right, left = _commentable(e.hunks)
    return FileDiff(
        path=path,
        old_path=e.old_path if e.renamed or e.copied else None,
        status=_status(e),
        hunks=tuple(e.hunks),
        binary=e.binary,
        submodule=SUBMODULE_MODE in (e.old_mode, e.new_mode),
        old_mode=e.old_mode,
        new_mode=e.new_mode,
        right_lines=right,
        left_lines=left,
    )


# ---------------------------------------------------------------------------- entry points


def parse_diff(data: bytes | str) -> Diff:
    """Parse `git diff` output. Raises DiffError (exit 2) for input that is not a unified
    diff or is a combined merge diff (`diff --cc`). An empty input is an empty Diff."""
    with _collector_paused():
        return _parse_diff(data)


def _parse_diff(data: bytes | str) -> Diff:
    lines = _split_lines(data)
    files: list[FileDiff] = []
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if line.startswith("diff --git "):
            parsed, i = _parse_git_block(lines, i)
            files.append(parsed)
        elif line.startswith(("diff --cc ", "diff --combined ", "@@@ ")):
            raise _combined_error(i)
        elif line.startswith("--- ") and i + 1 < n and lines[i + 1].startswith("+++ "):
            parsed, i = _parse_plain_block(lines, i)
            files.append(parsed)
        elif line.startswith("@@ "):
            raise DiffError(
                f"line {i + 1}: a hunk with no file header before it",
                hint="pass a whole `git diff`; GitHub per-file patches go through diff_from_patches",
            )
        else:
            i += 1  # text before the first file, e.g. the commit message of `git show`
    if not files and any(ln.strip() for ln in lines):
        raise DiffError(
            "the input is not a unified diff (no `diff --git` or `---`/`+++` file header)",
            hint="pass the output of `git diff BASE...HEAD`, a .diff/.patch file, or --git RANGE",
        )
    return Diff(files=tuple(files))
