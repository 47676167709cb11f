"""The summary comment's text (pure): the report's markdown with our lines under its verdict
and our sections after it (not placed inline, unchanged files, about this run), fitted to
GitHub's comment limit; the state and fingerprint markers it carries for the next run; the
body of a free re-run. publish.py posts what this composes."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..render.safe import inline_code, one_line
from ..textutil import plural
from ..vocab import SEVERITY_ICON, severity_rank
from .markers import (
    FINGERPRINT_MARKER,
    SUMMARY_NOTE_RE,
    SummaryState,
    extract_fingerprints,
    render_summary_marker,
    strip_summary_marker,
)
from .review import MAX_BODY, cap_body

if TYPE_CHECKING:
    from ..config import Config
    from ..findings import Finding
    from ..report import Report
    from .records import PostResult
    from .review import ReviewPayload

# The summary comment must stay under GitHub's 65,536 characters: the report gets what the
# marker and our own sections leave, and our sections are capped so the report keeps room.
SECTIONS_MAX = 16_000
# Past this many characters of report the summary comment goes compact: inline findings one
# line each with a link, full text only for the others; the step summary keeps everything.
COMMENT_REPORT_MAX = 45_000

MAX_SUMMARY_FINGERPRINTS = 400  # ~40 characters each
LIST_MAX = 100

_NOT_INLINE = "#### Not placed inline"
_EARLIER = " _(from an earlier run)_"
_LINE_LOCATION = re.compile(r"- \*\*\w+\*\* .*? — (`+) ?(.+?) ?\1 — ")


def compose_summary(
    render: Callable[[int], str],
    top: Sequence[str],
    sections: Sequence[str],
    *,
    marker: str = "",
    limit: int | None = None,
) -> str:
    """The report's markdown (given the characters left for it) with `top` lines under its
    verdict and `sections` after it; the hidden marker first. Fits GitHub's comment limit
    (or `limit`: the step summary's)."""
    limit = MAX_BODY if limit is None else limit
    extra = _cap("\n\n".join(s for s in sections if s), SECTIONS_MAX)
    head = "\n".join(top)
    room = limit - len(marker) - len(head) - len(extra) - 600
    main = render(max(room, 8_000))
    parts = main.split("\n", 3)
    if head and len(parts) == 4 and parts[0].startswith("### "):
        main = "\n".join([*parts[:3], "", head, parts[3]])
    elif head:
        main = f"{head}\n\n{main}"
    body = main.rstrip("\n") + (f"\n\n{extra}" if extra else "") + "\n"
    return f"{marker}\n{body}" if marker else body


def _cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    return cut[: cut.rfind("\n")] + "\n\n_… cut to stay under GitHub's comment size limit._"


def cap_keeping_marker(body: str) -> str:
    """A summary comment's body cut to GitHub's limit, its state marker kept at the end."""
    if len(body) <= MAX_BODY:
        return body
    # The state marker leads the body (compose_summary): cut what follows it, never the marker.
    start = body.find("<!-- reviewbot:summary ")
    end = body.find("-->", start) + 3 if start >= 0 and "-->" in body[start:] else 0
    marker, rest = (body[start:end], body[:start] + body[end:]) if end else ("", body)
    return marker + cap_body(rest, MAX_BODY - len(marker))


def render_report(report: Report, cfg: Config, max_chars: int) -> str:
    from ..render import render_markdown

    return render_markdown(report, max_chars=max_chars, min_severity=cfg.review.min_severity)


@dataclass(frozen=True)
class CommentRender:
    """How the summary comment shows the report: `main` renders it in the characters given,
    `sections` come before the "Not placed inline" list of `rest`; `note`, when set, is a
    line for under the verdict saying the comment went compact."""

    main: Callable[[int], str]
    sections: tuple[str, ...]
    rest: tuple[Finding, ...]
    note: str = ""


def comment_render(report: Report, cfg: Config, rest: Sequence[Finding], result: PostResult | None) -> CommentRender:
    """The whole report when it fits in a comment; otherwise (GitHub's 65,536 characters) the
    findings posted inline one line each with a link, full text only for the others (which
    then are not listed again under "Not placed inline")."""
    whole = CommentRender(lambda n: render_report(report, cfg, n), (), tuple(rest))
    if result is None or result.in_body or len(render_report(report, cfg, 10**9)) <= COMMENT_REPORT_MAX:
        return whole
    kept = {id(f) for f in rest}
    inline = [f for f in sorted(report.findings, key=lambda f: severity_rank(f.severity)) if id(f) not in kept]
    if not inline:
        return whole
    others = replace(report, findings=tuple(rest))
    note = (
        f"> {plural(len(report.findings), 'finding')}: too many for one comment, so the "
        f"{plural(len(inline), 'finding')} posted inline are listed one line each; the full "
        "text of every finding is in this run's step summary and JSON report."
    )
    lines = [
        f"- {SEVERITY_ICON.get(f.severity, '')} **{f.severity}** {one_line(f.title, 200)} — "
        f"{inline_code(f'{f.path}:{f.line}')} — [inline]({result.html_url})"
        for f in inline[: LIST_MAX * 5]
    ]
    if len(inline) > LIST_MAX * 5:
        lines.append(f"- … {plural(len(inline) - LIST_MAX * 5, 'more inline finding')} in the review")
    section = "\n".join(["#### Posted inline", "", *lines])
    return CommentRender(lambda n: render_report(others, cfg, n), (section,), (), note)


def not_inline(
    rest: Sequence[Finding], payload: ReviewPayload | None, carried: Sequence[str], *, listed_above: bool = False
) -> str:
    """Findings the review could not carry inline, so they are never lost: this run's, and
    earlier runs' on files this run did not review again (`carried`). `listed_above`: this
    run's are already in the findings above, so the list (the record later runs read) is
    folded away instead of repeated."""
    if not rest and not carried:
        return ""
    full = len(payload.comments) if payload else 0
    lines = []
    for f in rest[:LIST_MAX]:
        if f.placement != "inline" or f.line is None:
            where = inline_code(f.path) if f.path else "the whole pull request"
            why = one_line(f.anchor_note or "not tied to a changed line", 300)
        else:
            where = inline_code(f"{f.path}:{f.line}" + (" (old)" if f.side == "LEFT" else ""))
            why = "over the inline comment limit" if full else "not a commentable line of this diff"
        lines.append(f"- **{f.severity}** {one_line(f.title, 200)} — {where} — {why}")
    if len(rest) > LIST_MAX:
        lines.append(f"- … {plural(len(rest) - LIST_MAX, 'more finding')} in the findings above")
    lines += carried[:LIST_MAX]
    if listed_above and not carried:
        fold = f"{plural(len(rest), 'finding')} not placed inline: the findings above say where"
        return "\n".join(["<details><summary>" + fold + "</summary>", "", _NOT_INLINE, "", *lines, "", "</details>"])
    return "\n".join([_NOT_INLINE, "", *lines])


def carried(previous_body: str, unchanged: Sequence[str]) -> list[str]:
    """Lines of the previous summary's "Not placed inline" list about files this run did not
    review again (`unchanged`): those findings still stand, and the summary is their only record."""
    if not unchanged or _NOT_INLINE not in previous_body:
        return []
    files = set(unchanged)
    kept = []
    for line in _section_lines(previous_body, _NOT_INLINE):
        match = _LINE_LOCATION.match(line)
        if match and re.sub(r"(:\d+)?( \(old\))?$", "", match[2]) in files:
            kept.append(line if line.endswith(_EARLIER) else line + _EARLIER)
    return kept


def _section_lines(body: str, heading: str) -> list[str]:
    """The lines of our section `heading` in a summary we wrote, read as markdown reads them:
    split on line feeds only (not on U+2028 and the like), and only lines outside fenced code
    blocks — a model's text quoted in a code block can hold a heading and list lines that look
    like ours, and must never be taken for them."""
    out: list[str] = []
    fence = ""
    inside = False
    for line in body.split("\n"):
        stripped = line.lstrip(" ")
        opener = re.match(r"(`{3,}|~{3,})", stripped)
        if fence:
            if (
                opener
                and opener[1][0] == fence[0]
                and len(opener[1]) >= len(fence)
                and not stripped[len(opener[1]) :].strip()
            ):
                fence = ""
            continue
        if opener and len(line) - len(stripped) < 4:
            fence = opener[1]
            continue
        if line.startswith("#### "):
            inside = line.rstrip() == heading
            continue
        if inside:
            out.append(line)
    return out


def unchanged_section(unchanged: Sequence[str], since: str) -> str:
    if not unchanged:
        return ""
    lines = [f"- {inline_code(p)}" for p in unchanged[:LIST_MAX]]
    if len(unchanged) > LIST_MAX:
        lines.append(f"- … {plural(len(unchanged) - LIST_MAX, 'more file')}")
    return "\n".join([f"#### Unchanged since the last review (`{since[:7]}`)", "", *lines])


def about_section(about: Sequence[str]) -> str:
    return "\n".join(["#### About this run", "", *(f"- {line}" for line in about)])


def review_lines(report: Report, payload: ReviewPayload, result: PostResult | None, max_inline: int) -> list[str]:
    if report.dry_run:
        return ["Dry run: this is the plan; no model was called and no review was posted"]
    lines = []
    if result is not None:
        lines.append(
            f"Review: [{payload.event.lower().replace('_', ' ')}]({result.html_url}) with "
            f"{plural(result.inline_comments, 'inline comment')} (at most {max_inline} per review)"
        )
        if result.in_body:
            lines.append(
                f"GitHub rejected the inline comments ({one_line(result.rejection or '', 300)}): "
                "they are in the review body instead"
            )
    if payload.duplicates:
        lines.append(f"{plural(payload.duplicates, 'finding')} already posted by an earlier run: not repeated")
    return lines


def cost_line(usd: float | None, state: SummaryState) -> str:
    from ..cost import format_usd

    return (
        f"Cost: this run {format_usd(usd)}; this pull request so far {format_usd(state.total_usd)} "
        f"over {plural(state.runs, 'run')}"
    )


def next_state(
    previous: SummaryState | None,
    new_head: str | None,
    usd: float,
    *,
    in_body: bool = False,
    standing: tuple[tuple[tuple[str, str, str], ...], bool] | None = None,
) -> SummaryState:
    """The marker state: the head advances only when it was fully reviewed, so the next
    incremental run still covers what failed or was skipped this time. Once a review has
    carried findings in its body (`in_body`), every later run reads review bodies too. The
    standing findings are the previous run's unless this run worked them out anew."""
    head = new_head or (previous.head if previous else "")
    return SummaryState(
        head=head,
        runs=(previous.runs if previous else 0) + 1,
        total_usd=(previous.total_usd if previous else 0.0) + usd,
        body_findings=in_body or bool(previous and previous.body_findings),
        ignored=previous.ignored if previous else (),
        standing=standing[0] if standing is not None else (previous.standing if previous else ()),
        standing_more=standing[1] if standing is not None else bool(previous and previous.standing_more),
    )


def summary_fingerprints(previous_body: str, report: Report, posted: ReviewPayload | None) -> str:
    """Hidden markers for the findings not posted inline by this run's review (and those an
    earlier summary held), newest first, bounded."""
    if posted is None:  # the review was refused: the next run must still post them inline
        return ""
    inline = {c.fingerprint for c in posted.comments}
    ours = [f.fingerprint for f in report.findings if f.fingerprint and f.fingerprint not in inline]
    kept = list(dict.fromkeys([*ours, *sorted(extract_fingerprints(previous_body))]))
    return "".join(FINGERPRINT_MARKER.format(fp=fp) for fp in kept[:MAX_SUMMARY_FINGERPRINTS])


def already_reviewed(previous_body: str, state: SummaryState, head: str) -> tuple[str, str]:
    """A free re-run's summary comment: the previous one's report and fingerprints kept, the
    state counted, its first line saying so (replacing an earlier such line). Returns the
    body and that line."""
    kept = "".join(FINGERPRINT_MARKER.format(fp=fp) for fp in sorted(extract_fingerprints(previous_body)))
    note = (
        f"> ⏭️ Already reviewed at `{head[:12]}`: run {state.runs} sent nothing to a model "
        "(use `--full` to review again)."
    )
    rest = SUMMARY_NOTE_RE.sub("", strip_summary_marker(previous_body)).lstrip("\n")
    return f"{render_summary_marker(state)}{kept}\n{note}\n\n{rest}", note


__all__ = [
    "COMMENT_REPORT_MAX",
    "LIST_MAX",
    "MAX_SUMMARY_FINGERPRINTS",
    "SECTIONS_MAX",
    "CommentRender",
    "about_section",
    "already_reviewed",
    "cap_keeping_marker",
    "carried",
    "comment_render",
    "compose_summary",
    "cost_line",
    "next_state",
    "not_inline",
    "render_report",
    "review_lines",
    "summary_fingerprints",
    "unchanged_section",
]
