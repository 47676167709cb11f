"""Render stage (pure): GitHub-flavoured markdown for the summary comment and the step
summary, under a character cap (the lowest-severity findings are left out first, and
counted). Every untrusted string goes through `safe`: no mention, image, raw HTML, forged
marker or heading can come out of a model's text or a file name."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .. import __version__
from ..cost import CostSummary
from ..findings import Finding
from ..report import Report, not_reviewed_reason
from ..vocab import SEVERITIES, SEVERITY_ICON, format_usd
from .common import (
    budget_active,
    budget_items,
    context_line,
    cost_line,
    count_phrase,
    location,
    not_reviewed,
    order,
    plural,
    second_look_outcome,
    shadow_lines,
    without_status,
)
from .safe import code_block, inline_code, one_line, prose

# GitHub rejects issue comments over 65,536 characters; the default leaves room for the
# publisher's marker and any inline comments it had to fold into the summary.
MARKDOWN_MAX_CHARS = 60_000


_FULL_ROWS, _COMPACT_ROWS = 200, 15


def render_markdown(report: Report, *, max_chars: int = MARKDOWN_MAX_CHARS, min_severity: str = "low") -> str:
    """GitHub-flavoured markdown for the summary comment and the step summary. Stays under
    max_chars: the lowest-severity findings are left out first, and counted."""
    found = sorted(report.findings, key=order)
    items = [_md_finding(f) for f in found]
    head = ["### reviewbot", "", _verdict(report, min_severity)]
    if report.overview and not not_reviewed_reason(report):  # an overview of nothing reviewed would mislead
        head += ["", "> " + prose(report.overview, 3_000).replace("\n", "\n> ")]
    tail = _md_tail(report, _FULL_ROWS)

    def build(k: int) -> str:
        return "\n".join([*head, *_md_findings(found, items, k, max_chars), *tail]) + "\n"

    if len(build(0)) > max_chars // 2:  # findings come first: shorten the lists after them
        tail = _md_tail(report, _COMPACT_ROWS)

    lo, hi = 0, len(items)  # the largest k that fits; length grows with k
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if len(build(mid)) <= max_chars else (lo, mid - 1)
    return _hard_cap(build(lo), max_chars)


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def _fence_of(line: str, opened: str | None) -> str | None:
    """CommonMark fences: with nothing open, the fence this line opens; with `opened` open,
    `opened` when this line closes it (same character, at least as long, nothing after)."""
    m = _FENCE.match(line)
    if m is None:
        return None
    run, rest = m.group(1), m.group(2)
    if opened is None:
        return None if run[0] == "`" and "`" in rest else run  # ```x``` is inline code
    return opened if run[0] == opened[0] and len(run) >= len(opened) and not rest.strip() else None


def _open_fence(lines: Sequence[str]) -> str | None:
    fence: str | None = None
    for line in lines:
        if fence is None:
            fence = _fence_of(line, None)
        elif _fence_of(line, fence):
            fence = None
    return fence


def _hard_cap(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    note = f"\n\n_… cut at {max_chars:,} characters; the JSON report has everything._\n"
    if max_chars <= len(note):
        return text[:max_chars]
    cut = text[: max_chars - len(note) - 40]  # room to close what the cut left open
    cut = cut[: cut.rfind("\n")] if "\n" in cut else cut
    lines = cut.split("\n")
    fence = _open_fence(lines)
    # Our own <details> lines start at column 0; model text is indented inside list items.
    unclosed = sum(ln.startswith("<details") for ln in lines) - sum(ln == "</details>" for ln in lines)
    closing = ("\n" + fence if fence else "") + "\n\n</details>" * max(0, min(unclosed, 1))
    return (cut + closing + note)[:max_chars]


def _verdict(report: Report, min_severity: str) -> str:
    if report.dry_run:
        return f"🧪 **Dry run: no model was called** — {plural(len(report.chunks), 'chunk')} planned, estimated {format_usd(report.cost.total_usd)}"
    files, chunks = not_reviewed(report)
    nothing = not_reviewed_reason(report)
    if nothing:
        return "⛔ **Not reviewed:** " + one_line(nothing, 500)
    how = "not fully reviewed" if any(c.status == "partial" for c in chunks) else "not reviewed"
    partial = f" — {plural(len(chunks), 'chunk')} {how}" if chunks else ""
    if report.findings:
        noun = "finding" if len(report.findings) == 1 else "findings"
        return f"⚠️ **{count_phrase(report.findings)} {noun}**{partial}"
    if not any(e.reviewed for e in report.files) and (files or chunks):
        reasons = sorted({c.reason or c.status for c in chunks} or {e.skip_reason or "" for e in files})
        return "⛔ **Not reviewed:** " + one_line("; ".join(reasons), 500)
    return f"✅ **No findings at or above {min_severity}**{partial}"


def _md_finding(f: Finding) -> str:
    meta = " · ".join(x for x in (one_line(f.category, 60), f.model and inline_code(f.model)) if x)
    lines = [f"- **{one_line(f.title, 300)}** — {inline_code(location(f))} · {meta}"]
    body = prose(f.body, 2_000)
    if f.suggestion is not None:
        body += "\n\nSuggested change:\n\n" + code_block(f.suggestion[:2_000])
    if f.anchor_note:
        body += f"\n\n_{one_line(f.anchor_note, 500)}_"
    if body.strip():
        lines += ["", *("  " + ln if ln else "" for ln in body.strip("\n").split("\n"))]
    return "\n".join(lines)


def _md_findings(found: Sequence[Finding], items: Sequence[str], k: int, max_chars: int) -> list[str]:
    if not found:
        return []
    out = ["", "#### Findings"]
    for sev in SEVERITIES:
        idx = [i for i, f in enumerate(found) if f.severity == sev]
        shown = [i for i in idx if i < k]
        if not shown:
            continue
        count = f"{len(idx):,}" if len(shown) == len(idx) else f"{len(shown):,} of {len(idx):,}"
        opened = " open" if sev in ("critical", "high") else ""
        out += ["", f"<details{opened}><summary>{SEVERITY_ICON[sev]} <b>{sev.capitalize()} ({count})</b></summary>", ""]
        out += ["\n\n".join(items[i] for i in shown), "", "</details>"]
    if k < len(found):
        rest = found[k:]
        out += [
            "",
            f"_… {plural(len(rest), 'more finding')} left out to stay under {max_chars:,} characters "
            f"({count_phrase(rest)}); the JSON report has all of them._",
        ]
    return out


def _md_tail(report: Report, rows: int) -> list[str]:
    """Everything after the findings; `rows` caps each list (files, chunks, notes...)."""
    out = _md_files(report, rows) + _md_not_reviewed(report, rows) + _md_cost(report.cost, context_line(report))
    if report.failovers:
        lines = [
            f"- {inline_code(fo.chunk_id)}: {inline_code(fo.from_model)} → "
            f"{inline_code(fo.to_model) if fo.to_model else 'no model left'} ({one_line(fo.reason, 300)})"
            for fo in report.failovers
        ]
        out += ["", "#### Failovers", "", *_capped(lines, rows, "failover")]
    if report.shadow is not None:
        out += [
            "",
            f"#### Shadow model {inline_code(report.shadow.model)} (nothing it found is posted)",
            "",
            *[f"- {line}" for line in shadow_lines(report.shadow)],
        ]
    if report.second_looks:
        lines = [
            f"- {inline_code(s.chunk_id)}: {one_line(s.reason, 300)} → {one_line(second_look_outcome(s), 300)}"
            for s in report.second_looks
        ]
        out += ["", "#### Second looks (review.cascade)", "", *_capped(lines, rows, "second look")]
    if budget_active(report.budget):
        lines = [f"- {k}: {one_line(v, 500)}" for k, v in budget_items(report.budget)]
        out += ["", "#### Budget", "", *_capped(lines, rows, "budget entry")]
    if report.notes:
        lines = [f"- {one_line(n, 500)}" for n in report.notes]
        out += ["", "#### Notes", "", *_capped(lines, rows, "note")]
    return [*out, "", f"<sub>reviewbot {__version__} · report format {report.version}</sub>"]


def _capped(lines: list[str], limit: int, noun: str) -> list[str]:
    if len(lines) <= limit:
        return lines
    return [*lines[:limit], f"- … {plural(len(lines) - limit, 'more ' + noun)} in the JSON report"]


def _md_files(report: Report, rows: int) -> list[str]:
    reviewed = [e for e in report.files if e.tier is not None and (e.reviewed or report.dry_run)]
    if not reviewed:
        return []
    tiers = list(dict.fromkeys(e.tier for e in reviewed if e.tier))
    counts = ", ".join(f"{sum(1 for e in reviewed if e.tier == t):,} {t}" for t in tiers)
    label = "Files planned" if report.dry_run else "Files reviewed"
    out = ["", f"<details><summary>{label}: {counts}</summary>"]
    shown = 0
    for tier in tiers:
        out += ["", f"**{tier}**", "", "| File | Score | Why |", "| --- | ---: | --- |"]
        for e in (e for e in reviewed if e.tier == tier):
            if shown < rows:
                why = one_line("; ".join(e.reasons) or "—", 300)
                out.append(
                    f"| {inline_code(e.path, in_table=True)} | {e.score if e.score is not None else ''} | {why} |"
                )
            shown += 1
    if shown > rows:
        out += ["", f"_… {plural(shown - rows, 'more file')} in the JSON report._"]
    return [*out, "", "</details>"]


def _md_not_reviewed(report: Report, rows: int) -> list[str]:
    files, chunks = not_reviewed(report)
    if not files and not chunks:
        return []
    lines = [f"- {inline_code(e.path)} — {one_line(e.skip_reason or '', 300)}" for e in files]
    out = ["", "#### Not reviewed", "", *_capped(lines, rows, "file")]
    lines = []
    for c in chunks:
        names = ", ".join(inline_code(p) for p in c.files[:5]) + (f" +{len(c.files) - 5}" if len(c.files) > 5 else "")
        reason = f": {one_line(without_status(c.reason), 300)}" if c.reason else ""
        lines.append(f"- chunk {inline_code(c.id)} ({names}) — {c.status}{reason}")
    return out + _capped(lines, rows, "chunk")


def _md_cost(cost: CostSummary, context: str | None = None) -> list[str]:
    title = "Estimated cost" if cost.estimated else "Cost"
    if not cost.rows:
        return ["", f"#### {title}", "", "No model requests."]
    out = [
        "",
        f"#### {title}",
        "",
        "| Model | Tier | Requests | Input | Cached | Output | USD |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    out += [
        f"| {inline_code(r.model, in_table=True)} | {r.tier} | {r.requests:,} | {r.input_tokens:,} | {r.cached_tokens:,} | "
        f"{r.output_tokens:,} | {format_usd(r.usd)} |"
        for r in cost.rows
    ]
    total = [
        sum(getattr(r, a) for r in cost.rows) for a in ("requests", "input_tokens", "cached_tokens", "output_tokens")
    ]
    out.append(
        f"| **Total** | | {total[0]:,} | {total[1]:,} | {total[2]:,} | {total[3]:,} | **{format_usd(cost.total_usd)}** |"
    )
    if cost.tiers:
        out += ["", "Per tier: " + " · ".join(f"{t} {format_usd(u)}" for t, u in cost.tiers)]
    line = cost_line(cost)
    out += ["", line[:1].upper() + line[1:] + "."]
    if context:
        out += ["", context[:1].upper() + context[1:] + "."]
    return out
