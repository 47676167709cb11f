"""Render stage (pure): the terminal view of a Report — findings grouped by file, what was not
reviewed, failovers, cost, budget and notes; a dry run shows the plan. Untrusted text (model
text, paths, reasons) cannot move the cursor, recolour or reorder the terminal: the whole
view is cleaned of control and bidi characters, and colour is added afterwards."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import replace

from ..cost import CostSummary
from ..findings import Finding
from ..report import FileEntry, Report, not_reviewed_reason
from ..shadow import ShadowReport
from ..vocab import format_usd
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
from .safe import plain

_ANSI = {"critical": "\x1b[1;35m", "high": "\x1b[1;31m", "medium": "\x1b[33m", "low": "\x1b[36m", "info": "\x1b[2m"}
_RESET = "\x1b[0m"


def render_text(report: Report, *, color: bool = False, min_severity: str = "low") -> str:
    """The terminal view: findings grouped by file, then what was not reviewed, failovers,
    cost, budget and notes. A dry run renders the plan instead."""
    if report.dry_run:
        return _text_plan(report)
    paint = _painter(color)
    nothing = not_reviewed_reason(report)
    out = [f"Not reviewed: {plain(without_status(nothing))}" if nothing else f"reviewbot review of {report.source}"]
    found = sorted(report.findings, key=order)
    if nothing:
        out.append(f"reviewbot review of {report.source}")
    out.append(
        f"{plural(len(found), 'finding')}: {count_phrase(found)}"
        if found
        else "No findings: nothing was reviewed"
        if nothing
        else f"No findings at or above {min_severity}"
    )
    if report.overview and not nothing:
        out += ["", *textwrap.wrap(plain(report.overview), 100)]
    entries = {e.path: e for e in report.files}
    by_path: dict[str | None, list[Finding]] = {}
    for f in found:
        by_path.setdefault(f.path, []).append(f)
    # Files with the most severe findings first; by_path lists are already in severity order.
    for path in sorted((p for p in by_path if p is not None), key=lambda p: (order(by_path[p][0])[0], p)):
        out += ["", _text_file_header(path, entries.get(path))]
        out += [ln for f in by_path[path] for ln in _text_finding(f, paint)]
    if None in by_path:
        out += ["", "Pull request"] + [ln for f in by_path[None] for ln in _text_finding(f, paint)]
    quiet = [e for e in report.files if e.reviewed and e.path not in by_path]
    if quiet:
        out += [
            "",
            "No findings in: "
            + ", ".join(f"{e.path} ({e.tier})" for e in quiet[:50])
            + (f" and {len(quiet) - 50:,} more" if len(quiet) > 50 else ""),
        ]
    return _colour(plain("\n".join(out + _text_tail(report)) + "\n"))


# Colour is marked with private-use characters while the view is built, so cleaning the whole
# view of escape sequences (untrusted text may carry them) cannot remove or forge real colour.
_MARKS = {sev: chr(0xE000 + i) for i, sev in enumerate(_ANSI)}
_MARK_RESET = chr(0xE0FF)


def _painter(color: bool) -> Callable[[str, str], str]:
    def paint(severity: str, text: str) -> str:
        return f"{_MARKS[severity]}{text}{_MARK_RESET}" if color and severity in _MARKS else text

    return paint


def _colour(text: str) -> str:
    for sev, mark in _MARKS.items():
        text = text.replace(mark, _ANSI[sev])
    return text.replace(_MARK_RESET, _RESET)


def _text_file_header(path: str, entry: FileEntry | None) -> str:
    if entry is None or entry.tier is None:
        return path
    bits = [entry.tier] + ([f"score {entry.score}"] if entry.score is not None else [])
    if entry.reasons:
        bits.append(", ".join(entry.reasons))
    return f"{path}  [{' · '.join(bits)}]"


def _text_finding(f: Finding, paint: Callable[[str, str], str]) -> list[str]:
    f = replace(
        f,
        title=plain(f.title),
        body=plain(f.body),
        category=plain(f.category),
        suggestion=None if f.suggestion is None else plain(f.suggestion),
    )
    if f.placement == "inline" and f.line is not None:
        # "line", not "L": L/R mean old/new side in the rendered chunks the model reads.
        label = f"line {f.start_line}-{f.line}" if f.start_line else f"line {f.line}"
        label += " (old)" if f.side == "LEFT" else ""
    else:
        label = "file" if f.path else "-"
    head = f"  {label:<14} {paint(f.severity, f'{f.severity.upper():<8}')} {f.category:<14} {f.title}"
    out = [head.rstrip()]
    for para in f.body.splitlines() or [""]:
        out += textwrap.wrap(para, 100, initial_indent=" " * 17, subsequent_indent=" " * 17) or [""]
    if f.suggestion is not None:
        out += [" " * 17 + "suggestion:"] + [" " * 19 + "| " + ln for ln in f.suggestion.splitlines()]
    if f.anchor_note:
        out.append(" " * 17 + f"note: {f.anchor_note}")
    return [ln.rstrip() for ln in out]


def _text_tail(report: Report) -> list[str]:
    out: list[str] = []
    files, chunks = not_reviewed(report)
    if files or chunks:
        out += ["", "Not reviewed"]
        out += [f"  {e.path}: {e.skip_reason}" for e in files]
        out += [
            f"  chunk {c.id} ({', '.join(c.files)}): {c.status}" + (f": {without_status(c.reason)}" if c.reason else "")
            for c in chunks
        ]
    if report.failovers:
        out += ["", "Failovers"] + [
            f"  {fo.chunk_id}: {fo.from_model} -> {fo.to_model or '(no model left)'} ({fo.reason})"
            for fo in report.failovers
        ]
    if report.second_looks:
        out += ["", "Second looks (review.cascade)"] + [
            f"  {s.chunk_id}: {plain(s.reason)} -> {second_look_outcome(s)}" for s in report.second_looks
        ]
    if report.shadow is not None:
        out += _text_shadow(report.shadow)
    out += ["", "Estimated cost" if report.cost.estimated else "Cost", *_text_cost(report.cost, context_line(report))]
    if budget_active(report.budget):
        out += ["", "Budget"] + [f"  {k}: {v}" for k, v in budget_items(report.budget)]
    if report.notes:
        out += ["", "Notes"] + [f"  - {n}" for n in report.notes]
    return out


def _text_shadow(shadow: ShadowReport) -> list[str]:
    out = ["", f"Shadow model {shadow.model} (review.shadow; nothing it found is posted)"]
    out += [f"  {line}" for line in shadow_lines(shadow)]
    for title, found in (
        ("Found by the shadow alone", shadow.shadow_only),
        ("Found by the review alone", shadow.primary_only),
    ):
        if found:
            out += [f"  {title}:"] + [f"    {plain(location(f))} [{f.severity}] {plain(f.title)}" for f in found]
    out += [f"  not reviewed by the shadow: {cid} ({plain(why)})" for cid, why in shadow.not_reviewed]
    return out


def _text_cost(cost: CostSummary, context: str | None = None) -> list[str]:
    rows = [("model", "tier", "requests", "input", "cached", "output", "USD")]
    rows += [
        (
            r.model,
            r.tier,
            f"{r.requests:,}",
            f"{r.input_tokens:,}",
            f"{r.cached_tokens:,}",
            f"{r.output_tokens:,}",
            format_usd(r.usd),
        )
        for r in cost.rows
    ]
    if len(rows) == 1:
        return ["  no model requests"]
    widths = [max(len(r[i]) for r in rows) for i in range(7)]
    out = [
        "  " + "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    ]
    if cost.tiers:
        out.append("  per tier: " + ", ".join(f"{t} {format_usd(u)}" for t, u in cost.tiers))
    out.append("  " + cost_line(cost))
    if context:
        out.append("  " + context)
    return out


def _text_plan(report: Report) -> str:
    out = [f"reviewbot plan for {report.source}", "dry run: no model was called", "", "Files"]
    width = max((len(e.path) for e in report.files), default=0)
    for e in report.files:
        if e.tier is None:
            out.append(f"  {e.path:<{width}}  not reviewed: {e.skip_reason or 'no hunks'}")
            continue
        score = f"score {e.score}" if e.score is not None else ""
        out.append(f"  {e.path:<{width}}  {e.tier:<8}  {score:<9}  {', '.join(e.reasons)}".rstrip())
    ruled = [e for e in report.files if e.rules]
    if ruled:
        out += ["", "Review rules (the maintainers')"]
        out += [f"  {e.path:<{width}}  {'; '.join(e.rules)}" for e in ruled]
    if report.chunks:
        out += ["", "Chunks"]
        for c in report.chunks:
            line = f"  {c.id}  {c.tier:<8}  {c.tokens:>7,} tokens  {', '.join(c.files)}"
            line += f"  (incl. {c.context_tokens:,} context)" if c.context_tokens else ""
            line += f"  models: {' -> '.join(c.models) or '(none)'}"
            line += f"  est {format_usd(c.est_usd)}" if c.est_usd is not None else ""
            out.append(line + (f"  [{c.status}: {without_status(c.reason)}]" if c.reason else ""))
    out += ["", "ESTIMATED cost", *_text_cost(report.cost, context_line(report))]
    if budget_active(report.budget):
        out += ["", "Budget"] + [f"  {k}: {v}" for k, v in budget_items(report.budget)]
    if report.notes:
        out += ["", "Notes"] + [f"  - {n}" for n in report.notes]
    return plain("\n".join(out) + "\n")
