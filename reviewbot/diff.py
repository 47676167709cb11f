"""Stage 1 (pure): the diff model. Input: unified diff text (bytes or str) or GitHub
per-file patches. Output: a Diff of FileDiffs whose hunks carry, for every line, its old
number, new number and kind, plus the exact sets of commentable lines per side.

One line scanner handles both inputs: unidiff 1.0.1 took ~0.4 s on a 3,000-file diff before
any model was built, and it hides modes, quoted paths, hunk-less entries and `diff --cc`."""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from .errors import DiffError

LineKind = Literal["+", "-", " "]
FileStatus = Literal["added", "modified", "deleted", "renamed", "copied", "mode_changed"]
Side = Literal["RIGHT", "LEFT"]

# A minified bundle can put megabytes on one line; a model gains nothing from more than this
# and an unbounded line would swamp every token budget downstream.
MAX_LINE_CHARS = 20_000
_SECTION_CHARS = 200
SUBMODULE_MODE = "160000"  # git's gitlink mode

# Numbers are capped at 10 digits: int() of a hostile 5,000-digit string raises ValueError.
_HUNK_RE = re.compile(r"@@ -(\d{1,10})(?:,(\d{1,10}))? \+(\d{1,10})(?:,(\d{1,10}))? @@ ?(.*)")
_OCTAL3 = re.compile(r"[0-7]{3}")
_C_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}
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
_REGENERATE = "regenerate it with `git diff` (not `git show --cc`, not hand-edited)"


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


# ---------------------------------------------------------------------------- text and paths


def _split_lines(data: bytes | str) -> list[str]:
    """Decode and split on "\\n" only (str.splitlines would also split on \\x0c, \\x1c,
    U+2028... which are ordinary characters inside a source line)."""
    if isinstance(data, str):
        try:
            raw = data.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # lone surrogates that are not escaped bytes
            raw = data.encode("utf-8", "surrogatepass")
    else:
        raw = data
    # Undecodable bytes (latin-1 sources) become U+FFFD so every string serialises as UTF-8.
    text = raw.decode("utf-8", "replace").removeprefix("\ufeff")
    # git calls a file binary only if a NUL is in its first 8,000 bytes, so a later NUL can
    # reach a text hunk; keep the line but make the character harmless.
    text = text.replace("\x00", "\ufffd").replace("\r\n", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if lines and lines[-1].endswith("\r"):  # a GitHub patch of a CRLF file has no final "\n"
        lines[-1] = lines[-1][:-1]
    if lines and max(map(len, lines)) > MAX_LINE_CHARS + 1:
        lines = [_clip(line) for line in lines]
    return lines


def _clip(line: str) -> str:
    limit = MAX_LINE_CHARS + 1  # + the prefix column of a hunk line
    if len(line) <= limit:
        return line
    return f"{line[:limit]} … [{len(line) - limit} more characters cut by reviewbot]"


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


# ---------------------------------------------------------------------------- hunks


def _hunk_error(where: str, start: int, detail: str) -> DiffError:
    return DiffError(f"{where} line {start + 1}: {detail}", hint=_REGENERATE)


def _parse_hunk(lines: list[str], i: int, where: str) -> tuple[Hunk, int]:
    """Parse the hunk whose `@@` header is lines[i]. Counting the header's lengths (rather
    than stopping at the next `diff --git`) keeps diff-looking text inside hunks intact."""
    m = _HUNK_RE.fullmatch(lines[i])
    if m is None:
        raise _hunk_error(where, i, f"malformed hunk header {lines[i][:80]!r}")
    old_start, new_start = int(m[1]), int(m[3])
    old_len = 1 if m[2] is None else int(m[2])
    new_len = 1 if m[4] is None else int(m[4])
    # Each side's next line number runs up to its end; the loop body is kept small because
    # it runs once per diff line.
    old_no, old_end = old_start, old_start + old_len
    new_no, new_end = new_start, new_start + new_len
    out: list[DiffLine] = []
    append, start, i = out.append, i, i + 1
    while old_no < old_end or new_no < new_end:
        try:
            line = lines[i]
        except IndexError:
            raise _hunk_error(where, start, "hunk is shorter than its header says (truncated?)") from None
        i += 1
        kind = line[:1]
        if kind == "+" and new_no < new_end:
            append(DiffLine("+", None, new_no, line[1:]))
            new_no += 1
        elif kind == "-" and old_no < old_end:
            append(DiffLine("-", old_no, None, line[1:]))
            old_no += 1
        # An empty line counts as blank context: editors and mailers strip the lone space.
        elif (kind == " " or not line) and old_no < old_end and new_no < new_end:
            append(DiffLine(" ", old_no, new_no, line[1:]))
            old_no += 1
            new_no += 1
        elif kind != "\\":  # `\ No newline at end of file` belongs to the line before it
            raise _hunk_error(
                where, start, "hunk lines do not match its header (truncated or edited?)"
            )
    n = len(lines)
    while i < n and lines[i].startswith("\\"):
        i += 1
    hunk = Hunk(old_start, old_len, new_start, new_len, m[5][:_SECTION_CHARS], tuple(out))
    return hunk, i


def _commentable(hunks: Iterable[Hunk]) -> tuple[frozenset[int], frozenset[int]]:
    """Every context/added line of a hunk has a new number in new_start..new_start+new_len-1
    and every context/removed line an old number in old_start..old_start+old_len-1, so the
    commentable sets are unions of ranges (GitHub accepts any line inside a hunk)."""
    right: set[int] = set()
    left: set[int] = set()
    for h in hunks:
        right.update(range(h.new_start, h.new_start + h.new_len))
        left.update(range(h.old_start, h.old_start + h.old_len))
    return frozenset(right), frozenset(left)


def _combined_error(at: int) -> DiffError:
    return DiffError(
        f"line {at + 1}: a combined merge diff (`diff --cc` / `@@@`) is not a unified diff",
        hint="diff the merge against one parent instead, e.g. `git diff BASE...HEAD` or `git diff MERGE^1 MERGE`",
    )


def _read_hunks(lines: list[str], i: int, where: str) -> tuple[list[Hunk], int]:
    """Hunks until the next file header. Other text between or after hunks (a format-patch
    signature, `Only in ...` lines) is skipped, as `git apply` does."""
    hunks: list[Hunk] = []
    n = len(lines)
    while i < n:
        line = lines[i]
        if line.startswith("@@ "):
            hunk, i = _parse_hunk(lines, i, where)
            hunks.append(hunk)
        elif line.startswith("@@@"):
            raise _combined_error(i)
        elif line.startswith("diff ") or (
            line.startswith("--- ") and i + 1 < n and lines[i + 1].startswith("+++ ")
        ):
            break
        else:
            i += 1
    return hunks, i


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
    e = _Entry(
        old_path=_header_path(lines[i][4:], "a/"), new_path=_header_path(lines[i + 1][4:], "b/")
    )
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
        raise DiffError(
            f"line {start + 1}: cannot read the file path from this header", hint=_REGENERATE
        )
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


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Parsing allocates a few container objects per diff line (~400,000 for 135,000
    lines) and makes no reference cycles, so the cyclic collector's passes meanwhile are
    wasted: 25-40% of the parse time on a 3,000-file diff. Reference counting still frees
    everything; the collector is switched back on (if it was on) however parsing ends.

    The same holds after the parse: its objects live as long as the Diff, so the passes
    over the young generations that would follow, and the full pass they lead to, walk
    every diff line again and free nothing (~0.1 s on a 3,000-file diff). gc.freeze() then
    gc.unfreeze() moves every tracked object straight to the oldest generation, which only
    a full pass visits; that is skipped when something else in the process froze objects,
    since unfreeze() would let go of those too."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if enabled:
            gc.enable()


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


def _count(item: dict[str, object], key: str) -> int | None:
    value = item.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _nothing_to_show(item: dict[str, object], status: FileStatus) -> bool:
    """A missing patch is expected, not lost, for an empty new file, a pure rename/copy and
    a mode-only change: GitHub reports 0 changes for them. (A binary file also reports 0
    additions; for `added` the two cannot be told apart, and neither has lines to review.)"""
    if status == "added":
        return _count(item, "additions") == 0
    return (
        status in ("renamed", "copied", "mode_changed", "deleted") and _count(item, "changes") == 0
    )


def _file_from_item(item: object, index: int) -> FileDiff:
    if (
        not isinstance(item, dict)
        or not isinstance(item.get("filename"), str)
        or not item["filename"]
    ):
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
            raise DiffError(
                f"GitHub patch of {path} has no hunk", hint="the files API item looks damaged"
            )
    if hunks and status == "mode_changed":
        status = "modified"
    changed = [ln.text for h in hunks for ln in h.lines if ln.kind != " "]
    right, left = _commentable(hunks)
    previous = item.get("previous_filename")
    return FileDiff(
        path=path,
        old_path=previous
        if isinstance(previous, str) and status in ("renamed", "copied")
        else None,
        status=status,
        hunks=tuple(hunks),
        # The files API has no mode field: a gitlink shows only as "Subproject commit" lines.
        submodule=bool(changed) and all(_SUBPROJECT_RE.fullmatch(t) for t in changed),
        patch_missing=not hunks and not _nothing_to_show(item, status),
        right_lines=right,
        left_lines=left,
    )


def diff_from_patches(files: list[dict[str, object]]) -> Diff:
    """Build the same model from GitHub's `GET /pulls/{n}/files` items (filename, status,
    previous_filename, patch; patch absent for binary or very large files)."""
    with _collector_paused():
        return Diff(files=tuple(_file_from_item(item, i) for i, item in enumerate(files)))


__all__ = ["Diff", "DiffError", "DiffLine", "FileDiff", "Hunk", "diff_from_patches", "parse_diff"]
