"""Stage 4 (pure): chunks. Input: reviewable files with their tier and compliance group,
and a token budget per tier. Output: Chunks that group whole hunks of one or more files
(never mixing tiers or compliance groups), rendered with explicit line numbers so the model
can cite real lines. A hunk is split only when it alone is over the budget.

Render format (prompts/system.j2 explains it to the model; keep the two in step):

    ### src/app.py (renamed from src/old_app.py)
    @@ def login(user):
    30 context line, cited by its new-file (RIGHT) number
    31-removed line, cited by its old-file (LEFT) number
    31+added line, cited by its new-file (RIGHT) number

Each line is its number on its own side, then git's `+`, `-` or space, then the code: the
sign already names the side, and the `@@` line keeps only git's section text (the numbers
say where the hunk is). This costs about one token a line over the diff as git prints it
(benchmarks/e2e.py measures it). A file's header is repeated in every chunk that holds some
of its hunks; a hunk split across chunks says `(part 2 of 3 of this hunk)` after its `@@`. Files without hunks
(binary, pure renames, mode changes, missing patches) have nothing to render and are left out.

Planning calls the packer many times with different tier maps, so the work is in two
steps: `prepare` renders, redacts and counts every hunk once (counting on a worker thread,
see `begin_prepare`); `pack` only adds numbers."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace

from .diff import FileDiff, Hunk
from .instructions import PathRule
from .redact import Redactor
from .tokens import count_tokens, count_tokens_async, count_tokens_many, tokenizer_name
from .vocab import TIER_ORDER, Tier


@dataclass(frozen=True)
class Chunk:
    id: str  # "c001", stable for a given plan
    tier: Tier
    group: str  # compliance group key; "" when no compliance rule applies
    files: tuple[str, ...]  # paths whose hunks are in this chunk
    text: str  # rendered hunks (see render format in chunker docs)
    tokens: int  # tokens of `text`, counted with a real tokenizer
    risk: int  # highest risk score among its files (budget decisions drop lowest first)
    # (path, secrets replaced in this chunk's part of that file), only paths with any.
    redactions: tuple[tuple[str, int], ...] = ()
    # The maintainers' path rules that apply to this chunk's files (set after routing).
    rules: tuple[PathRule, ...] = ()
    # Code around the hunks (head version, numbered lines), for reference only; its tokens.
    context: str = ""
    context_tokens: int = 0


_PART_NOTE = " (part {i} of {n} of this hunk)"
_TRUNCATED = " …[line truncated: {n} more characters]\n"


def _clean(text: str) -> str:
    # A path or section with a line break would break the one-line-per-diff-line format.
    return text.replace("\r", "\\r").replace("\n", "\\n")


def render_file_header(file: FileDiff) -> str:
    """`### path`, then `(added)`, `(deleted)`, `(renamed from old)`, `(mode a -> b)` as they
    apply (a plain modified file has no note), and a newline."""
    notes: list[str] = [file.status] if file.status in ("added", "deleted") else []
    if file.old_path and file.old_path != file.path:
        verb = "copied" if file.status == "copied" else "renamed"
        notes.append(f"{verb} from {_clean(file.old_path)}")
    if file.old_mode and file.new_mode and file.old_mode != file.new_mode:
        notes.append(f"mode {file.old_mode} -> {file.new_mode}")
    note = f" ({'; '.join(notes)})" if notes else ""
    return f"### {_clean(file.path)}{note}\n"


def _hunk_header(hunk: Hunk, section: str) -> str:
    return f"@@ {_clean(section)}" if section else "@@"


def _render_lines(hunk: Hunk, texts: Sequence[str]) -> tuple[str, ...]:
    return tuple(
        [
            f"{'?' if no is None else no}{ln.kind}{text}\n"
            for ln, text in zip(hunk.lines, texts, strict=True)
            for no in (ln.old_no if ln.kind == "-" else ln.new_no,)
        ]
    )


def render_hunk(file: FileDiff, hunk: Hunk) -> str:
    """The `@@` line, then one numbered line per diff line (no redaction). `file` is taken
    for symmetry with render_file_header; the numbers come from the hunk alone."""
    body = _render_lines(hunk, [ln.text for ln in hunk.lines])
    return _hunk_header(hunk, hunk.section) + "\n" + "".join(body)


@dataclass(frozen=True)
class PreparedHunk:
    header: str  # the `@@` line without its newline (section redacted)
    lines: tuple[str, ...]  # rendered, redacted lines, each ending in "\n"
    text: str  # header + "\n" + lines, joined once: pack runs many times
    tokens: int  # of `text`
    line_redactions: tuple[int, ...]  # secrets replaced per line

    @property
    def redactions(self) -> int:
        return sum(self.line_redactions)


@dataclass(frozen=True)
class PreparedFile:
    path: str
    header: str
    header_tokens: int
    hunks: tuple[PreparedHunk, ...]


@dataclass(frozen=True)
class Prepared:
    """Rendered, redacted and counted files, ready to pack under any tier map."""

    files: tuple[PreparedFile, ...]
    tokenizer: str
    # Per-line counts of hunks that had to be split, filled on first need.
    _line_tokens: dict[tuple[int, int], tuple[int, ...]] = field(default_factory=dict, compare=False, repr=False)

    def line_tokens(self, file_index: int, hunk_index: int) -> tuple[int, ...]:
        key = (file_index, hunk_index)
        if key not in self._line_tokens:
            lines = self.files[file_index].hunks[hunk_index].lines
            self._line_tokens[key] = tuple(count_tokens_many(lines))
        return self._line_tokens[key]


def _prepare_hunk(hunk: Hunk, redactor: Redactor | None) -> tuple[str, tuple[str, ...], tuple[int, ...]]:
    """(@@ line, rendered lines, secrets per line) of one hunk."""
    texts: Sequence[str] = [ln.text for ln in hunk.lines]
    counts: tuple[int, ...] = (0,) * len(texts)
    section = hunk.section
    if redactor is not None:
        texts, counts = redactor.redact_lines(texts)
        section, found = redactor.redact(section) if section else (section, {})
        if found and counts:  # a secret in the section line is charged to the hunk
            counts = (counts[0] + sum(found.values()), *counts[1:])
    return _hunk_header(hunk, section), _render_lines(hunk, texts), counts


# Texts per counting job: large enough that a job's overhead is noise, small enough that
# counting starts while the first files are still being rendered.
_COUNT_BATCH = 512


def begin_prepare(files: Sequence[FileDiff], redactor: Redactor | None = None) -> Callable[[], Prepared]:
    """Render and redact every hunk now, and count their tokens on a worker thread (tiktoken
    releases the GIL, so counting overlaps this rendering and whatever the caller does
    next). Returns a function that waits for the counts and gives the Prepared."""
    staged = []
    jobs: list[tuple[Future[list[int]], list[str]]] = []
    batch: list[str] = []
    for file in files:
        if not file.hunks:
            continue
        header = render_file_header(file)
        hunks = [_prepare_hunk(h, redactor) for h in file.hunks]
        texts = [head + "\n" + "".join(lines) for head, lines, _ in hunks]
        staged.append((file, header, hunks, texts))
        batch += (header, *texts)
        if len(batch) >= _COUNT_BATCH:
            jobs.append((count_tokens_async(batch), batch))
            batch = []
    if batch:
        jobs.append((count_tokens_async(batch), batch))

    def finish() -> Prepared:
        # Jobs the worker has not started yet are counted here, from the last one back,
        # while it works from the front: both cores count instead of one waiting.
        done = {i: count_tokens_many(texts) for i, (job, texts) in reversed(list(enumerate(jobs))) if job.cancel()}
        counts = iter([n for i, (job, _) in enumerate(jobs) for n in (done[i] if i in done else job.result())])
        prepared = []
        for file, header, hunks, texts in staged:
            header_tokens = next(counts)
            prepared_hunks = tuple(
                PreparedHunk(head, lines, text, next(counts), found)
                for (head, lines, found), text in zip(hunks, texts, strict=True)
            )
            prepared.append(PreparedFile(file.path, header, header_tokens, prepared_hunks))
        return Prepared(tuple(prepared), tokenizer_name())

    return finish


def prepare(files: Sequence[FileDiff], redactor: Redactor | None = None) -> Prepared:
    """Render every hunk once, redact it (when a redactor is given: the caller passes None
    when `redact_secrets` is off) and count its tokens."""
    return begin_prepare(files, redactor)()


@dataclass(frozen=True)
class _Unit:
    text: str
    tokens: int
    redactions: int


def _truncate(line: str, allowance: int, tokens: int) -> tuple[str, int]:
    """Cut one rendered line that alone is over the allowance (e.g. minified code)."""
    keep = max(16, len(line) * allowance // max(tokens, 1))
    while True:
        cut = line[:keep] + _TRUNCATED.format(n=len(line) - 1 - keep)
        n = count_tokens(cut)
        if n <= allowance or keep <= 16:
            return cut, n
        keep = max(16, keep * 4 // 5)


def _split(prepared: Prepared, fi: int, hi: int, budget: int) -> list[_Unit]:
    """Pieces of an over-budget hunk, each under the budget with its file header."""
    hunk = prepared.files[fi].hunks[hi]
    note = count_tokens(hunk.header + _PART_NOTE.format(i=9999, n=9999) + "\n")
    allowance = max(1, budget - prepared.files[fi].header_tokens - note)
    pieces: list[list[tuple[str, int, int]]] = [[]]
    used = 0
    for line, tokens, found in zip(hunk.lines, prepared.line_tokens(fi, hi), hunk.line_redactions, strict=True):
        if tokens > allowance:
            line, tokens = _truncate(line, allowance, tokens)
        if pieces[-1] and used + tokens > allowance:
            pieces.append([])
            used = 0
        pieces[-1].append((line, tokens, found))
        used += tokens
    units = []
    for i, piece in enumerate(pieces, start=1):
        head = hunk.header + _PART_NOTE.format(i=i, n=len(pieces)) + "\n"
        text = head + "".join(p[0] for p in piece)
        units.append(_Unit(text, count_tokens(head) + sum(p[1] for p in piece), sum(p[2] for p in piece)))
    return units


def _units(prepared: Prepared, fi: int, budget: int, only: tuple[int, ...] | None = None) -> Iterator[_Unit]:
    file = prepared.files[fi]
    for hi, hunk in enumerate(file.hunks):
        if only is not None and hi not in only:
            continue
        if file.header_tokens + hunk.tokens <= budget:
            yield _Unit(hunk.text, hunk.tokens, hunk.redactions)
        else:
            yield from _split(prepared, fi, hi, budget)


@dataclass
class _Open:
    """The chunk being filled."""

    parts: list[str] = field(default_factory=list)
    tokens: int = 0
    files: list[str] = field(default_factory=list)
    redactions: dict[str, int] = field(default_factory=dict)


def _pack_group(prepared: Prepared, indexes: Sequence[tuple[int, tuple[int, ...] | None]], budget: int) -> list[_Open]:
    done: list[_Open] = []
    cur = _Open()
    for fi, only in indexes:
        file = prepared.files[fi]
        header_in = False
        for unit in _units(prepared, fi, budget, only):
            need = unit.tokens + (0 if header_in else file.header_tokens)
            if cur.parts and cur.tokens + need > budget:
                done.append(cur)
                cur, header_in = _Open(), False
                need = unit.tokens + file.header_tokens
            if not header_in:
                cur.parts.append(file.header)
                cur.files.append(file.path)
                header_in = True
            cur.parts.append(unit.text)
            cur.tokens += need
            if unit.redactions:
                cur.redactions[file.path] = cur.redactions.get(file.path, 0) + unit.redactions
    if cur.parts:
        done.append(cur)
    return done


def pack(
    prepared: Prepared,
    tiers: Mapping[str, Tier],
    groups: Mapping[str, str],
    risks: Mapping[str, int],
    budgets: Mapping[Tier, int],
    hunk_tiers: Mapping[str, tuple[Tier, ...]] | None = None,
) -> list[Chunk]:
    """Chunks for one tier map. Files missing from `tiers` are left out (the planner skipped
    them); a missing group is "" and a missing risk 0. Frontier chunks come first, then
    cheap; groups sorted by key; files in diff order inside a group. `hunk_tiers` (risk.
    granularity: hunk) splits a file by hunk: each hunk goes with its own tier."""
    buckets: dict[tuple[Tier, str], list[tuple[int, tuple[int, ...] | None]]] = {}
    for fi, file in enumerate(prepared.files):
        tier = tiers.get(file.path)
        if tier is None:
            continue
        group = groups.get(file.path, "")
        split = (hunk_tiers or {}).get(file.path)
        if split is None or len(split) != len(file.hunks) or len(set(split)) < 2:
            buckets.setdefault((tier, group), []).append((fi, None))
            continue
        for part in TIER_ORDER:
            only = tuple(hi for hi, t in enumerate(split) if t == part)
            if only:
                buckets.setdefault((part, group), []).append((fi, only))
    chunks: list[Chunk] = []
    for tier, group in sorted(buckets, key=lambda k: (TIER_ORDER.index(k[0]), k[1])):
        if budgets.get(tier, 0) <= 0:
            raise ValueError(f"no token budget for tier {tier!r}")
        for opened in _pack_group(prepared, buckets[(tier, group)], budgets[tier]):
            chunks.append(
                Chunk(
                    id=f"c{len(chunks) + 1:03d}",
                    tier=tier,
                    group=group,
                    files=tuple(opened.files),
                    text="".join(opened.parts),
                    tokens=opened.tokens,
                    risk=max(risks.get(p, 0) for p in opened.files),
                    redactions=tuple(opened.redactions.items()),
                )
            )
    return chunks


def build_chunks(
    files: Sequence[FileDiff],
    tiers: Mapping[str, Tier],
    groups: Mapping[str, str],
    risks: Mapping[str, int],
    budgets: Mapping[Tier, int],
    *,
    redactor: Redactor | None = None,
) -> list[Chunk]:
    """prepare + pack, for a single plan."""
    return pack(prepare(files, redactor), tiers, groups, risks, budgets)


def split_chunk(chunk: Chunk, count_tokens: Callable[[str], int]) -> tuple[Chunk, Chunk] | None:
    """Halve a chunk at the hunk boundary nearest its middle (the reviewer's answer to a
    context window exceeded with no larger model allowed). None when it holds one hunk."""
    lines = chunk.text.split("\n")  # the diff's own line breaks only (not U+2028, \f…)
    lines = [ln + "\n" for ln in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    starts = [i for i, ln in enumerate(lines) if ln.startswith("@@")]
    if len(starts) < 2:
        return None
    middle = min(starts[1:], key=lambda i: abs(i - len(lines) / 2))
    header = ""
    for ln in reversed(lines[:middle]):
        if ln.startswith("### "):
            header = ln
            break
    first, second = "".join(lines[:middle]), header + "".join(lines[middle:])
    return (
        replace(chunk, id=f"{chunk.id}a", text=first, tokens=count_tokens(first)),
        replace(chunk, id=f"{chunk.id}b", text=second, tokens=count_tokens(second)),
    )


__all__ = [
    "TIER_ORDER",
    "Chunk",
    "Prepared",
    "PreparedFile",
    "PreparedHunk",
    "begin_prepare",
    "build_chunks",
    "pack",
    "prepare",
    "render_file_header",
    "render_hunk",
    "split_chunk",
]
