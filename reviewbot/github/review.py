"""The review payload (pure): Findings + Diff → one GitHub review (capped, re-checked against
the diff, deduplicated by hidden fingerprint markers) plus the findings that must go to the
summary instead; the inline comment bodies (badge, safe text, suggestion block, marker) and
GitHub's body limit. No I/O: api.py sends what this builds."""

from __future__ import annotations

import re
from collections.abc import Sequence, Set
from dataclasses import dataclass, replace
from typing import Literal

from ..diff import Diff, FileDiff, Hunk
from ..errors import UsageError
from ..findings import Finding
from ..render.safe import (
    break_markers,
    code_block,
    inline_code,
    longest_backtick_run,
    one_line,
    prose,
)
from ..textutil import squash
from ..vocab import SEVERITY_ICON, severity_rank
from .markers import FINGERPRINT_MARKER, extract_run_id, render_run_marker

# GitHub rejects review, comment and issue-comment bodies above this many characters (422
# "Body is too long (maximum is 65536 characters)").
MAX_BODY = 65_536
# Room kept below MAX_BODY so a truncation note and markers always fit.
_BODY_MARGIN = 512

ReviewEvent = Literal["COMMENT", "REQUEST_CHANGES"]
_EVENTS = ("COMMENT", "REQUEST_CHANGES")

_SUGGESTION_FENCE = re.compile(r"^(`{3,})suggestion$", re.MULTILINE)

# The same icons as the summary and every markdown report (vocab.SEVERITY_ICON).
_BADGES = {sev: f"{icon} **{sev.capitalize()}**" for sev, icon in SEVERITY_ICON.items()}


# --- payload ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewComment:
    path: str
    line: int
    side: Literal["RIGHT", "LEFT"]
    body: str
    start_line: int | None = None
    start_side: Literal["RIGHT", "LEFT"] | None = None
    fingerprint: str = ""

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "path": self.path,
            "body": self.body,
            "line": self.line,
            "side": self.side,
        }
        # GitHub rejects start_line == line ("start line must precede the end line").
        if self.start_line is not None and self.start_line < self.line:
            out["start_line"] = self.start_line
            out["start_side"] = self.start_side or self.side
        return out

    @property
    def location(self) -> str:
        lines = f"{self.start_line}-{self.line}" if self.start_line else str(self.line)
        old = " (old file)" if self.side == "LEFT" else ""
        return f"{inline_code(self.path)} line {lines}{old}"


@dataclass(frozen=True)
class ReviewPayload:
    """One `POST /pulls/{n}/reviews` request. `run_id` and `duplicates` are not sent: the run
    marker in `body` is what identifies the review if GitHub fails after saving it."""

    commit_id: str
    event: ReviewEvent
    body: str
    comments: tuple[ReviewComment, ...] = ()
    run_id: str = ""
    duplicates: int = 0  # findings skipped because an earlier run already posted them

    def __post_init__(self) -> None:
        if self.event not in _EVENTS:
            # A GITHUB_TOKEN may not approve (422), and a bot must never approve anyway.
            raise UsageError(
                f"review event must be COMMENT or REQUEST_CHANGES, not {self.event!r}",
                hint="reviewbot never approves pull requests",
            )

    def to_json(self) -> dict[str, object]:
        return {
            "commit_id": self.commit_id,
            "event": self.event,
            "body": self.body,
            "comments": [c.to_json() for c in self.comments],
        }

    def fallback_all_in_body(self, reason: str = "GitHub rejected the inline comments") -> ReviewPayload:
        """The same review with every comment moved into the body, so nothing is lost when
        GitHub answers 422 (it never says which comment it rejected)."""
        if not self.comments:
            return replace(self, body=cap_body(self.body))
        head = f"{self.body}\n\n{reason}, so they are listed here:"
        # A suggestion only applies inline; in a body it is plain code. Each comment keeps its
        # fingerprint marker, which re-runs read from review bodies (api.py: existing_fingerprints)
        # so a finding listed here is not posted again; a section cut for length has none.
        # The location holds a path from the PR: it must not smuggle in a marker.
        sections = [f"---\n{c.location}\n\n{_plain_fences(c.body)}" for c in self.comments]
        return replace(self, body=_join_capped(head, sections), comments=())


def _plain_fences(body: str) -> str:
    return _SUGGESTION_FENCE.sub(r"\1", body)


def cap_body(text: str, limit: int = MAX_BODY) -> str:
    """`text` cut to fit GitHub's body limit, with a note saying so; a code fence left open
    by the cut is closed so that what follows does not render as code."""
    if len(text) <= limit:
        return text
    note = f"\n\n… (truncated: GitHub limits a body to {limit:,} characters)"
    cut = text[: limit - len(note) - 8]
    # At a block boundary when there is one: inside a paragraph, a cut could leave one of
    # the code spans that keep untrusted text inert without its closing fence.
    boundary = cut.rfind("\n\n")
    if boundary > 0:
        cut = cut[:boundary]
    if sum(1 for ln in cut.split("\n") if ln.lstrip().startswith("```")) % 2:
        cut += "\n```"
    return cut + note


def _join_capped(head: str, sections: Sequence[str], limit: int = MAX_BODY) -> str:
    """head + sections, leaving out whole sections (and saying how many) past the limit."""
    body = head
    for i, section in enumerate(sections):
        if len(body) + len(section) + 2 > limit - _BODY_MARGIN:
            left = len(sections) - i
            note = f"GitHub limits a review body to {limit:,} characters"
            return f"{body}\n\n… {left} more not shown ({note})"
        body += "\n\n" + section
    return body


# --- building the review ------------------------------------------------------------------


def build_review(
    findings: Sequence[Finding],
    diff: Diff,
    *,
    commit_id: str,
    run_id: str,
    max_inline: int = 30,
    already_posted: Set[str] = frozenset(),
    event: ReviewEvent = "COMMENT",
    header: str = "",
) -> tuple[ReviewPayload, list[Finding]]:
    """One review for `commit_id` and the findings that did not go inline (general ones,
    ones that fail the final re-check against the diff, and overflow past `max_inline`),
    severity first. Findings whose fingerprint is in `already_posted` are not reposted."""
    comments: list[ReviewComment] = []
    rest: list[Finding] = []
    duplicates = 0
    for finding in sorted(findings, key=lambda f: severity_rank(f.severity)):
        comment = _to_comment(finding, diff)
        if comment is None:
            rest.append(finding)
        elif finding.fingerprint and finding.fingerprint in already_posted:
            duplicates += 1
        elif len(comments) >= max_inline:
            rest.append(finding)
        else:
            comments.append(comment)
    line = header or _default_header(commit_id, len(comments), len(rest), duplicates)
    marker = render_run_marker(run_id)
    payload = ReviewPayload(
        commit_id=commit_id,
        event=event,
        body=f"{squash(line)}\n\n{marker}",
        comments=tuple(comments),
        run_id=extract_run_id(marker) or "",
        duplicates=duplicates,
    )
    return payload, rest


def _default_header(commit_id: str, inline: int, rest: int, duplicates: int) -> str:
    plural = "s" if inline != 1 else ""
    parts = [f"**reviewbot** reviewed `{commit_id[:7]}`: {inline} inline comment{plural}"]
    if rest:
        parts.append(f"{rest} more in the summary comment")
    if duplicates:
        parts.append(f"{duplicates} already posted earlier and not repeated")
    return "; ".join(parts) + "."


def _to_comment(finding: Finding, diff: Diff) -> ReviewComment | None:
    """The inline comment for `finding`, or None when it cannot be anchored: the final
    re-check, since one bad line makes GitHub reject the whole review (422)."""
    if finding.placement != "inline" or finding.path is None or finding.line is None:
        return None
    fd = diff.file(finding.path)
    if fd is None:
        return None
    hunk = _hunk_of(fd, finding.line, finding.side)
    if hunk is None:
        return None
    start = finding.start_line
    same_hunk = start is not None and start in _side_lines(hunk, finding.side)
    if start is not None and (start >= finding.line or not same_hunk):
        start = None  # one-line comment instead of a range GitHub would reject
    suggest = finding.side == "RIGHT" and finding.suggestion is not None
    exact = start is not None or finding.start_line in (None, finding.line)
    return ReviewComment(
        path=fd.path,
        line=finding.line,
        side=finding.side,
        body=render_comment_body(finding, suggestion=suggest and exact),
        start_line=start,
        start_side=finding.side if start is not None else None,
        fingerprint=finding.fingerprint,
    )


def _side_lines(hunk: Hunk, side: str) -> set[int]:
    if side == "RIGHT":
        return {ln.new_no for ln in hunk.lines if ln.new_no is not None}
    return {ln.old_no for ln in hunk.lines if ln.old_no is not None}


def _hunk_of(fd: FileDiff, line: int, side: str) -> Hunk | None:
    commentable = fd.right_lines if side == "RIGHT" else fd.left_lines
    if line not in commentable:
        return None
    return next((h for h in fd.hunks if line in _side_lines(h, side)), None)


# --- rendering ----------------------------------------------------------------------------


def render_comment_body(finding: Finding, *, suggestion: bool = True) -> str:
    """Badge, title, the model's text made safe (render.safe), an optional suggestion block
    and the hidden fingerprint marker, within GitHub's body limit."""
    badge = _BADGES.get(finding.severity, one_line(finding.severity, 20))
    # Bounded so that only the body text ever needs cutting to fit MAX_BODY.
    head = f"{badge} · {one_line(finding.category, 40)} · **{one_line(finding.title, 300)}**"
    text = prose(finding.body, max_chars=MAX_BODY)
    note = f"_{one_line(finding.anchor_note, 500)}_" if finding.anchor_note else ""
    block = ""
    if finding.suggestion is not None:
        # A suggestion is applied as written, so it cannot be altered to break a marker
        # look-alike: such a suggestion is shown as plain code instead (markers broken).
        forged = break_markers(finding.suggestion) != finding.suggestion
        block = suggestion_block(finding.suggestion) if suggestion and not forged else _plain_block(finding)
    marker = FINGERPRINT_MARKER.format(fp=finding.fingerprint) if finding.fingerprint else ""
    full = _join(head, text, note, block, marker)
    if len(full) <= MAX_BODY:
        return full
    # Too long: the suggestion goes first (a cut one would apply wrong code), then the text.
    cut_note = f"_(truncated to fit GitHub's {MAX_BODY:,}-character limit)_"
    room = MAX_BODY - len(_join(head, note, cut_note, marker)) - _BODY_MARGIN
    # Rendered again into the room left, never cut: a cut could open one of our code spans.
    return _join(head, prose(finding.body, max_chars=room), cut_note, note, marker)


def _join(*parts: str) -> str:
    return "\n\n".join(p for p in parts if p)


def suggestion_block(text: str) -> str:
    """A ```suggestion block replacing the anchored lines with `text`. The fence is longer
    than any backtick run inside the text, or the text would close it early."""
    fence = "`" * max(3, longest_backtick_run(text) + 1)
    body = text[:-1] if text.endswith("\n") else text
    return f"{fence}suggestion\n{body}\n{fence}" if body else f"{fence}suggestion\n{fence}"


def _plain_block(finding: Finding) -> str:
    # A suggestion on removed lines or across hunks would replace the wrong lines: show it
    # as plain code instead.
    return "Suggested code:\n\n" + code_block(finding.suggestion or "")


__all__ = [
    "MAX_BODY",
    "ReviewComment",
    "ReviewEvent",
    "ReviewPayload",
    "build_review",
    "cap_body",
    "render_comment_body",
    "suggestion_block",
]
