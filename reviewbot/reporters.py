"""Stage 8 (pure): reporters. Input: one Report. Output: strings only — terminal text, a
versioned JSON document (docs/report-format.md), GitHub-flavoured markdown for the summary
comment and the step summary, and SARIF 2.1.0 for code scanning. Model text is sanitised
before it reaches markdown: no @-mentions, no raw HTML, no escaping from a code fence."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from urllib.parse import quote

from . import __version__
from .cost import CostSummary, format_usd
from .findings import SEVERITIES, Finding
from .report import ChunkEntry, FileEntry, Report, not_reviewed_reason

INFORMATION_URI = "https://github.com/reviewbot/reviewbot"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# GitHub rejects issue comments over 65,536 characters; the default leaves room for the
# publisher's marker and any inline comments it had to fold into the summary.
MARKDOWN_MAX_CHARS = 60_000

_EMOJI = {"critical": "🛑", "high": "🔴", "medium": "🟠", "low": "🟡", "info": "🔵"}
_ANSI = {"critical": "\x1b[1;35m", "high": "\x1b[1;31m", "medium": "\x1b[33m", "low": "\x1b[36m", "info": "\x1b[2m"}
_RESET = "\x1b[0m"


def _order(f: Finding) -> tuple[int, str, int, str]:
    return (SEVERITIES.index(f.severity), f.path or "\uffff", f.line or 0, f.title)


def _count_phrase(findings: Sequence[Finding]) -> str:
    """"2 high, 1 medium" in severity order."""
    counts = [(s, sum(1 for f in findings if f.severity == s)) for s in SEVERITIES]
    return ", ".join(f"{n:,} {s}" for s, n in counts if n)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _location(f: Finding) -> str:
    """`path:42`, `path:40-42`, `path:12 (old)`, `path` (file level) or "PR-level"."""
    if f.path is None:
        return "PR-level"
    if f.placement != "inline" or f.line is None:
        return f"{f.path} (file)"
    lines = f"{f.start_line}-{f.line}" if f.start_line else str(f.line)
    return f"{f.path}:{lines}" + (" (old)" if f.side == "LEFT" else "")


def _not_reviewed(report: Report) -> tuple[list[FileEntry], list[ChunkEntry]]:
    files = [e for e in report.files if not e.reviewed and e.skip_reason]
    chunks = [c for c in report.chunks if c.status in ("failed", "skipped")]
    return files, chunks


# --- model text safety ----------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)", re.S)
_HTML = re.compile(r"<!--.*?(?:-->|$)|</?[A-Za-z][\w:-]*(?:\s[^<>]*)?/?>", re.S)
_LEFTOVER_LT = re.compile(r"<(?=[A-Za-z/!?])")
# GitHub pings a user or team for @name at a word start; a zero-width joiner after the @
# keeps the text readable and the mention inert.
_MENTION = re.compile(r"(?<!\w)@(?=[A-Za-z0-9])")
ZWJ = "\u200d"


def sanitize_model_text(text: str, max_chars: int = 4_000) -> str:
    """Make model-written text safe to embed in GitHub markdown: @-mentions neutralised,
    raw HTML tags stripped (leftover `<` escaped), remote images turned into links, every
    code fence the text opens closed, and the length capped. Code stays untouched."""
    text = _CONTROL.sub("", text)
    if len(text) > max_chars:
        text = text[: max(max_chars - 1, 0)] + "…"
    out: list[str] = []
    prose: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        if fence is None and _fence_of(line, None):
            if prose:
                out.append(_prose("\n".join(prose)))
            prose, fence = [], _fence_of(line, None)
            out.append(line)
        elif fence is None:
            prose.append(line)
        else:
            out.append(line)
            fence = None if _fence_of(line, fence) else fence
    if prose:
        out.append(_prose("\n".join(prose)))
    result = "\n".join(out)
    # Stripping a tag can leave a fence at a line start ("<b>```"): check the final text too.
    still_open = _open_fence(result.split("\n"))
    # An unclosed fence would swallow the rest of our comment.
    return result + "\n" + still_open if still_open else result


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


def _prose(text: str) -> str:
    parts: list[str] = []
    pos = 0
    for m in _CODE_SPAN.finditer(text):
        parts.append(_neutralise(text[pos : m.start()]))
        parts.append(m.group(0))
        pos = m.end()
    parts.append(_neutralise(text[pos:]))
    return "".join(parts)


def _neutralise(text: str) -> str:
    text = _HTML.sub("", text)
    text = _LEFTOVER_LT.sub("&lt;", text)
    text = text.replace("![", "[")  # a remote image is a tracking pixel
    return _MENTION.sub("@" + ZWJ, text)


def code_fence(text: str, info: str = "") -> str:
    """A fenced block whose fence is longer than any backtick run inside the text."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def _code(text: str) -> str:
    """An inline code span that survives backticks and pipes (for table cells)."""
    text = text.replace("\n", " ").replace("|", "\\|")
    if "`" not in text:
        return f"`{text}`"
    ticks = "`" * (max(len(r) for r in re.findall(r"`+", text)) + 1)
    return f"{ticks} {text} {ticks}"


# --- text ---------------------------------------------------------------------------------


def render_text(report: Report, *, color: bool = False, min_severity: str = "low") -> str:
    """The terminal view: findings grouped by file, then what was not reviewed, failovers,
    cost, budget and notes. A dry run renders the plan instead."""
    if report.dry_run:
        return _text_plan(report)
    paint = _painter(color)
    not_reviewed = not_reviewed_reason(report)
    out = [f"Not reviewed: {_plain(not_reviewed)}" if not_reviewed else f"reviewbot review of {report.source}"]
    found = sorted(report.findings, key=_order)
    if not_reviewed:
        out.append(f"reviewbot review of {report.source}")
    out.append(f"{_plural(len(found), 'finding')}: {_count_phrase(found)}" if found
               else "No findings: nothing was reviewed" if not_reviewed
               else f"No findings at or above {min_severity}")
    if report.overview and not not_reviewed:
        out += ["", *textwrap.wrap(_plain(report.overview), 100)]
    entries = {e.path: e for e in report.files}
    by_path: dict[str | None, list[Finding]] = {}
    for f in found:
        by_path.setdefault(f.path, []).append(f)
    # Files with the most severe findings first; by_path lists are already in severity order.
    for path in sorted((p for p in by_path if p is not None), key=lambda p: (_order(by_path[p][0])[0], p)):
        out += ["", _text_file_header(path, entries.get(path))]
        out += [ln for f in by_path[path] for ln in _text_finding(f, paint)]
    if None in by_path:
        out += ["", "Pull request"] + [ln for f in by_path[None] for ln in _text_finding(f, paint)]
    quiet = [e for e in report.files if e.reviewed and e.path not in by_path]
    if quiet:
        out += ["", "No findings in: " + ", ".join(f"{e.path} ({e.tier})" for e in quiet[:50])
                + (f" and {len(quiet) - 50:,} more" if len(quiet) > 50 else "")]
    return "\n".join(out + _text_tail(report)) + "\n"


def _painter(color: bool) -> Callable[[str, str], str]:
    def paint(severity: str, text: str) -> str:
        return f"{_ANSI[severity]}{text}{_RESET}" if color and severity in _ANSI else text
    return paint


def _text_file_header(path: str, entry: FileEntry | None) -> str:
    if entry is None or entry.tier is None:
        return path
    bits = [entry.tier] + ([f"score {entry.score}"] if entry.score is not None else [])
    if entry.reasons:
        bits.append(", ".join(entry.reasons))
    return f"{path}  [{' · '.join(bits)}]"


def _plain(text: str) -> str:
    """Model text for a terminal: no escape sequences or carriage returns that could redraw it."""
    return _CONTROL.sub("", text.replace("\r", ""))


def _text_finding(f: Finding, paint: Callable[[str, str], str]) -> list[str]:
    f = replace(f, title=_plain(f.title), body=_plain(f.body), category=_plain(f.category),
                suggestion=None if f.suggestion is None else _plain(f.suggestion))
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
    files, chunks = _not_reviewed(report)
    if files or chunks:
        out += ["", "Not reviewed"]
        out += [f"  {e.path}: {e.skip_reason}" for e in files]
        out += [f"  chunk {c.id} ({', '.join(c.files)}): {c.status}" + (f": {c.reason}" if c.reason else "")
                for c in chunks]
    if report.failovers:
        out += ["", "Failovers"] + [
            f"  {fo.chunk_id}: {fo.from_model} -> {fo.to_model or '(no model left)'} ({fo.reason})"
            for fo in report.failovers
        ]
    out += ["", "Estimated cost" if report.cost.estimated else "Cost", *_text_cost(report.cost)]
    if _budget_active(report.budget):
        out += ["", "Budget"] + [f"  {k}: {v}" for k, v in _budget_items(report.budget)]
    if report.notes:
        out += ["", "Notes"] + [f"  - {n}" for n in report.notes]
    return out


def _budget_active(budget: Mapping[str, object]) -> bool:
    """Worth showing: a cap was set, or something was refused, downgraded or skipped."""
    return any(v not in (None, 0, "", [], ()) for k, v in budget.items() if not k.startswith("spent"))


def _budget_items(budget: Mapping[str, object]) -> list[tuple[str, str]]:
    def show(key: str, v: object) -> str:
        if v is None:
            return "none"
        if key.endswith("_usd") and isinstance(v, (int, float)):
            return format_usd(float(v))
        if isinstance(v, (list, tuple)):
            return "; ".join(map(str, v)) or "none"
        return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)
    return [(k, show(k, v)) for k, v in budget.items()]


def _text_cost(cost: CostSummary) -> list[str]:
    rows = [("model", "tier", "requests", "input", "cached", "output", "USD")]
    rows += [(r.model, r.tier, f"{r.requests:,}", f"{r.input_tokens:,}", f"{r.cached_tokens:,}",
              f"{r.output_tokens:,}", format_usd(r.usd)) for r in cost.rows]
    if len(rows) == 1:
        return ["  no model requests"]
    widths = [max(len(r[i]) for r in rows) for i in range(7)]
    out = ["  " + "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
           for r in rows]
    if cost.tiers:
        out.append("  per tier: " + ", ".join(f"{t} {format_usd(u)}" for t, u in cost.tiers))
    out.append("  " + _cost_line(cost))
    return out


def _cost_line(cost: CostSummary) -> str:
    label = "total (estimated)" if cost.estimated else "total"
    line = f"{label} {format_usd(cost.total_usd)}"
    if cost.total_usd is None and cost.known_usd:
        line += f" (priced part {format_usd(cost.known_usd)})"
    if cost.all_frontier_model:
        line += f"; all-frontier ({cost.all_frontier_model}) {format_usd(cost.all_frontier_usd)}"
    if cost.saving_pct is not None:
        line += f"; saving {cost.saving_pct:.1f}%"
    return line


def _text_plan(report: Report) -> str:
    out = [f"reviewbot plan for {report.source}", "dry run: no model was called", "", "Files"]
    width = max((len(e.path) for e in report.files), default=0)
    for e in report.files:
        if e.tier is None:
            out.append(f"  {e.path:<{width}}  not reviewed: {e.skip_reason or 'no hunks'}")
            continue
        score = f"score {e.score}" if e.score is not None else ""
        out.append(f"  {e.path:<{width}}  {e.tier:<8}  {score:<9}  {', '.join(e.reasons)}".rstrip())
    if report.chunks:
        out += ["", "Chunks"]
        for c in report.chunks:
            line = f"  {c.id}  {c.tier:<8}  {c.tokens:>7,} tokens  {', '.join(c.files)}"
            line += f"  models: {' -> '.join(c.models) or '(none)'}"
            line += f"  est {format_usd(c.est_usd)}" if c.est_usd is not None else ""
            out.append(line + (f"  [{c.status}: {c.reason}]" if c.reason else ""))
    out += ["", "ESTIMATED cost", *_text_cost(report.cost)]
    if _budget_active(report.budget):
        out += ["", "Budget"] + [f"  {k}: {v}" for k, v in _budget_items(report.budget)]
    if report.notes:
        out += ["", "Notes"] + [f"  - {n}" for n in report.notes]
    return "\n".join(out) + "\n"


# --- JSON --------------------------------------------------------------------------------


def _usd(v: float | None) -> float | None:
    return None if v is None else round(v, 6)


def report_to_dict(report: Report) -> dict[str, object]:
    """The JSON report as a dict, keys in documented order (docs/report-format.md)."""
    c = report.cost
    return {
        "version": report.version,
        "tool": {"name": "reviewbot", "version": __version__},
        "source": report.source,
        "dry_run": report.dry_run,
        "files": [{
            "path": e.path, "old_path": e.old_path, "status": e.status, "binary": e.binary,
            "tier": e.tier, "score": e.score, "reasons": list(e.reasons), "reviewed": e.reviewed,
            "skip_reason": e.skip_reason, "chunks": list(e.chunks), "redactions": e.redactions,
        } for e in report.files],
        "chunks": [{
            "id": ch.id, "tier": ch.tier, "files": list(ch.files), "tokens": ch.tokens,
            "models": list(ch.models), "status": ch.status, "model": ch.model, "reason": ch.reason,
            "est_usd": _usd(ch.est_usd),
        } for ch in report.chunks],
        "findings": [{
            "path": f.path, "line": f.line, "start_line": f.start_line, "side": f.side,
            "severity": f.severity, "category": f.category, "title": f.title, "body": f.body,
            "suggestion": f.suggestion, "model": f.model, "chunk_id": f.chunk_id,
            "placement": f.placement, "anchor_note": f.anchor_note, "fingerprint": f.fingerprint,
        } for f in report.findings],
        "calls": [{
            "call_id": k.call_id, "chunk_id": k.chunk_id, "model": k.model, "tier": k.tier,
            "files": list(k.files), "reasons": list(k.reasons), "input_tokens": k.input_tokens,
            "cached_tokens": k.cached_tokens, "output_tokens": k.output_tokens, "usd": _usd(k.usd),
            "latency_ms": k.latency_ms, "outcome": k.outcome, "error": k.error, "findings": k.findings,
            "endpoint_host": k.endpoint_host, "template_hash": k.template_hash, "started_at": k.started_at,
        } for k in report.calls],
        "failovers": [{"chunk_id": fo.chunk_id, "from_model": fo.from_model, "to_model": fo.to_model,
                       "reason": fo.reason} for fo in report.failovers],
        "cost": {
            "rows": [{"model": r.model, "tier": r.tier, "requests": r.requests, "input_tokens": r.input_tokens,
                      "cached_tokens": r.cached_tokens, "output_tokens": r.output_tokens, "usd": _usd(r.usd)}
                     for r in c.rows],
            "tiers": {t: _usd(u) for t, u in c.tiers},
            "total_usd": _usd(c.total_usd), "known_usd": _usd(c.known_usd),
            "all_frontier_model": c.all_frontier_model, "all_frontier_usd": _usd(c.all_frontier_usd),
            "saving_pct": c.saving_pct, "estimated": c.estimated,
        },
        "budget": dict(report.budget),
        "notes": list(report.notes),
        "overview": report.overview,
    }


def render_json(report: Report) -> str:
    """The versioned JSON document: deterministic key order, indent 2, UTF-8 kept."""
    return json.dumps(report_to_dict(report), indent=2, ensure_ascii=False, default=str) + "\n"


# --- markdown -----------------------------------------------------------------------------


_FULL_ROWS, _COMPACT_ROWS = 200, 15


def render_markdown(report: Report, *, max_chars: int = MARKDOWN_MAX_CHARS, min_severity: str = "low") -> str:
    """GitHub-flavoured markdown for the summary comment and the step summary. Stays under
    max_chars: the lowest-severity findings are left out first, and counted."""
    found = sorted(report.findings, key=_order)
    items = [_md_finding(f) for f in found]
    head = ["### reviewbot", "", _verdict(report, min_severity)]
    if report.overview and not not_reviewed_reason(report):  # an overview of nothing reviewed would mislead
        head += ["", "> " + sanitize_model_text(report.overview, 3_000).replace("\n", "\n> ")]
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
        return f"🧪 **Dry run: no model was called** — {_plural(len(report.chunks), 'chunk')} planned, estimated {format_usd(report.cost.total_usd)}"
    files, chunks = _not_reviewed(report)
    nothing = not_reviewed_reason(report)
    if nothing:
        return "⛔ **Not reviewed:** " + sanitize_model_text(nothing, 500)
    partial = f" — {_plural(len(chunks), 'chunk')} not reviewed" if chunks else ""
    if report.findings:
        noun = "finding" if len(report.findings) == 1 else "findings"
        return f"⚠️ **{_count_phrase(report.findings)} {noun}**{partial}"
    if not any(e.reviewed for e in report.files) and (files or chunks):
        reasons = sorted({c.reason or c.status for c in chunks} or {e.skip_reason or "" for e in files})
        return "⛔ **Not reviewed:** " + sanitize_model_text("; ".join(reasons), 500)
    return f"✅ **No findings at or above {min_severity}**{partial}"


def _md_finding(f: Finding) -> str:
    meta = " · ".join(x for x in (sanitize_model_text(f.category, 60), f.model and _code(f.model)) if x)
    lines = [f"- **{sanitize_model_text(f.title, 300).replace(chr(10), ' ')}** — {_code(_location(f))} · {meta}"]
    body = sanitize_model_text(f.body, 2_000)
    if f.suggestion is not None:
        body += "\n\nSuggested change:\n" + code_fence(_CONTROL.sub("", f.suggestion[:2_000]))
    if f.anchor_note:
        body += f"\n\n_{sanitize_model_text(f.anchor_note, 500)}_"
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
        out += ["", f"<details{opened}><summary>{_EMOJI[sev]} <b>{sev.capitalize()} ({count})</b></summary>", ""]
        out += ["\n\n".join(items[i] for i in shown), "", "</details>"]
    if k < len(found):
        rest = found[k:]
        out += ["", f"_… {_plural(len(rest), 'more finding')} left out to stay under {max_chars:,} characters "
                    f"({_count_phrase(rest)}); the JSON report has all of them._"]
    return out


def _md_tail(report: Report, rows: int) -> list[str]:
    """Everything after the findings; `rows` caps each list (files, chunks, notes...)."""
    out = _md_files(report, rows) + _md_not_reviewed(report, rows) + _md_cost(report.cost)
    if report.failovers:
        lines = [f"- {_code(fo.chunk_id)}: {_code(fo.from_model)} → "
                 f"{_code(fo.to_model) if fo.to_model else 'no model left'} ({sanitize_model_text(fo.reason, 300)})"
                 for fo in report.failovers]
        out += ["", "#### Failovers", "", *_capped(lines, rows, "failover")]
    if _budget_active(report.budget):
        lines = [f"- {k}: {sanitize_model_text(v, 500)}" for k, v in _budget_items(report.budget)]
        out += ["", "#### Budget", "", *_capped(lines, rows, "budget entry")]
    if report.notes:
        lines = [f"- {sanitize_model_text(n, 500)}" for n in report.notes]
        out += ["", "#### Notes", "", *_capped(lines, rows, "note")]
    return [*out, "", f"<sub>reviewbot {__version__} · report format {report.version}</sub>"]


def _capped(lines: list[str], limit: int, noun: str) -> list[str]:
    if len(lines) <= limit:
        return lines
    return [*lines[:limit], f"- … {_plural(len(lines) - limit, 'more ' + noun)} in the JSON report"]


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
                why = sanitize_model_text("; ".join(e.reasons) or "—", 300).replace("|", "\\|").replace("\n", " ")
                out.append(f"| {_code(e.path)} | {e.score if e.score is not None else ''} | {why} |")
            shown += 1
    if shown > rows:
        out += ["", f"_… {_plural(shown - rows, 'more file')} in the JSON report._"]
    return [*out, "", "</details>"]


def _md_not_reviewed(report: Report, rows: int) -> list[str]:
    files, chunks = _not_reviewed(report)
    if not files and not chunks:
        return []
    lines = [f"- {_code(e.path)} — {sanitize_model_text(e.skip_reason or '', 300)}" for e in files]
    out = ["", "#### Not reviewed", "", *_capped(lines, rows, "file")]
    lines = []
    for c in chunks:
        names = ", ".join(_code(p) for p in c.files[:5]) + (f" +{len(c.files) - 5}" if len(c.files) > 5 else "")
        reason = f": {sanitize_model_text(c.reason, 300)}" if c.reason else ""
        lines.append(f"- chunk {_code(c.id)} ({names}) — {c.status}{reason}")
    return out + _capped(lines, rows, "chunk")


def _md_cost(cost: CostSummary) -> list[str]:
    title = "Estimated cost" if cost.estimated else "Cost"
    if not cost.rows:
        return ["", f"#### {title}", "", "No model requests."]
    out = ["", f"#### {title}", "", "| Model | Tier | Requests | Input | Cached | Output | USD |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    out += [f"| {_code(r.model)} | {r.tier} | {r.requests:,} | {r.input_tokens:,} | {r.cached_tokens:,} | "
            f"{r.output_tokens:,} | {format_usd(r.usd)} |" for r in cost.rows]
    total = [sum(getattr(r, a) for r in cost.rows) for a in ("requests", "input_tokens", "cached_tokens", "output_tokens")]
    out.append(f"| **Total** | | {total[0]:,} | {total[1]:,} | {total[2]:,} | {total[3]:,} | **{format_usd(cost.total_usd)}** |")
    if cost.tiers:
        out += ["", "Per tier: " + " · ".join(f"{t} {format_usd(u)}" for t, u in cost.tiers)]
    line = _cost_line(cost)
    out += ["", line[:1].upper() + line[1:] + "."]
    return out


# --- SARIF --------------------------------------------------------------------------------

_SARIF_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}


def render_sarif(report: Report) -> str:
    """SARIF 2.1.0 as GitHub code scanning accepts it: one rule per category, results with
    relative paths, regions only for inline RIGHT findings, our fingerprint as a partial one."""
    found = sorted(report.findings, key=_order)
    categories = sorted({f.category for f in found})
    rules = [{
        "id": cat, "name": re.sub(r"\W+", "-", cat).strip("-") or "general",
        "shortDescription": {"text": f"reviewbot: {cat} finding"},
        "defaultConfiguration": {"level": "warning"},
        "properties": {"tags": [cat]},
    } for cat in categories]
    results = [_sarif_result(f, categories.index(f.category)) for f in found]
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "reviewbot", "informationUri": INFORMATION_URI,
                                "version": __version__, "rules": rules}},
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _sarif_result(f: Finding, rule_index: int) -> dict[str, object]:
    result: dict[str, object] = {
        "ruleId": f.category,
        "ruleIndex": rule_index,
        "level": _SARIF_LEVEL[f.severity],
        "message": {"text": f"{f.title}\n\n{f.body}".strip()},
    }
    if f.path is not None:
        # A URI reference: spaces and non-ASCII characters in paths must be percent-encoded.
        physical: dict[str, object] = {"artifactLocation": {"uri": quote(f.path, safe="/"), "uriBaseId": "%SRCROOT%"}}
        if f.placement == "inline" and f.side == "RIGHT" and f.line is not None:
            physical["region"] = {"startLine": f.start_line or f.line, "endLine": f.line}
        result["locations"] = [{"physicalLocation": physical}]
    if f.fingerprint:
        result["partialFingerprints"] = {"reviewbot/v1": f.fingerprint}
    props = {"severity": f.severity, "model": f.model, "placement": f.placement, "side": f.side,
             "chunk_id": f.chunk_id, "anchor_note": f.anchor_note}
    result["properties"] = {k: v for k, v in props.items() if v}
    return result


__all__ = [
    "code_fence",
    "render_json",
    "render_markdown",
    "render_sarif",
    "render_text",
    "report_to_dict",
    "sanitize_model_text",
]
