"""Diff hunks (pure): what both inputs share. Decoding and splitting the text into lines
(long lines clipped), reading the hunks after a file header, the commentable lines of a file,
the collector pause around a parse, and whether a text is the new version a diff shows."""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import Iterable, Iterator

from ..errors import DiffError
from .model import DiffLine, FileDiff, Hunk

# A minified bundle can put megabytes on one line; a model gains nothing from more than this
# and an unbounded line would swamp every token budget downstream.
MAX_LINE_CHARS = 20_000
_SECTION_CHARS = 200

# Numbers are capped at 10 digits: int() of a hostile 5,000-digit string raises ValueError.
_HUNK_RE = re.compile(r"@@ -(\d{1,10})(?:,(\d{1,10}))? \+(\d{1,10})(?:,(\d{1,10}))? @@ ?(.*)")
_REGENERATE = "regenerate it with `git diff` (not `git show --cc`, not hand-edited)"


# ---------------------------------------------------------------------------- text


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


def first_mismatch(f: FileDiff, text: str) -> int | None:
    """The first new-side line number the diff shows (added or context) that `text`, offered
    as the new version of `f`, does not have as shown; None when every such line agrees."""
    lines = _split_lines(text)
    for hunk in f.hunks:
        for line in hunk.lines:
            n = line.new_no
            if n is not None and (n > len(lines) or lines[n - 1] != line.text):
                return n
    return None


def _clip(line: str) -> str:
    limit = MAX_LINE_CHARS + 1  # + the prefix column of a hunk line
    if len(line) <= limit:
        return line
    return f"{line[:limit]} … [{len(line) - limit} more characters cut by reviewbot]"


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
            raise _hunk_error(where, start, "hunk lines do not match its header (truncated or edited?)")
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
        elif line.startswith("diff ") or (line.startswith("--- ") and i + 1 < n and lines[i + 1].startswith("+++ ")):
            break
        else:
            i += 1
    return hunks, i


# ---------------------------------------------------------------------------- the collector


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
