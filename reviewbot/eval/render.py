"""Eval stage (pure): an EvalResult as text, JSON, markdown or HTML. Markdown and HTML add
the one picture a team lead wants — recall against cost, one point per policy — and a
per-case detail: each label found or missed, each finding that matched nothing. Text from
cases and models is data: it goes through the markdown-safety module or HTML escaping."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence

from ..render.safe import inline_code, one_line, plain
from ..textutil import squash
from ..vocab import format_usd
from .run import EvalResult
from .scoring import GroupScore, PolicyScore, Scores, Spend


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _row(name: str, s: Scores, sp: Spend) -> list[str]:
    return [
        name,
        f"{s.found}/{s.labels}",
        _pct(s.recall),
        _pct(s.precision),
        _pct(s.f1),
        _num(s.noise_per_100),
        str(s.false_alarms),
        format_usd(sp.usd),
        f"{sp.input_tokens:,}",
        f"{sp.output_tokens:,}",
        str(sp.calls),
        str(sp.failed_calls),
        "—" if sp.latency_p50_ms is None else f"{sp.latency_p50_ms:,} ms",
    ]


HEADER = [
    "policy",
    "found",
    "recall",
    "precision",
    "F1",
    "noise/100 lines",
    "false alarms",
    "cost",
    "tokens in",
    "tokens out",
    "calls",
    "failed",
    "p50 latency",
]


# --- text -----------------------------------------------------------------------------------


def render_text(result: EvalResult) -> str:
    lines = [
        f"reviewbot eval {result.version}: {result.cases} case(s), {len(result.policies)} policy(ies), "
        f"match ±{result.settings.match.tolerance} line(s)"
        + (", category must agree" if result.settings.match.category else "")
    ]
    lines += _table_text(HEADER, [_row(p.policy, p.scores, p.spend) for p in result.policies])
    for p in result.policies:
        lines += [
            "",
            f"{p.policy}: models {', '.join(result.models.get(p.policy, ())) or '—'}; "
            f"prompts {result.prompt_hashes.get(p.policy, '?')}"
            + (f"; {p.failed_cases} case run(s) not reviewed or could not run" if p.failed_cases else ""),
        ]
        lines += ["  " + _input_line(p)]
        lines += [
            "  recall by category: " + _breakdown(p.by_category),
            "  recall by severity: " + _breakdown(p.by_severity),
        ]
        for title, groups in (("per model", p.by_model), ("per tier", p.by_tier)):
            if groups:
                lines.append(f"  {title}:")
                header = [title.split()[1], *HEADER[1:]]
                lines += [
                    "    " + row for row in _table_text(header, [_row(g.name, g.scores, g.spend) for g in groups])
                ]
        lines += ["  per case:", *("    " + line for line in _text_cases(p))]
    lines += _cache_line(result)
    return "\n".join(lines) + "\n"


def _text_cases(p: PolicyScore) -> list[str]:
    out: list[str] = []
    for run in p.runs:
        cid = plain(run.case.id)
        if run.match is None:
            out.append(f"{cid}: could not run: {squash(plain(run.error or 'unknown error'))}")
            continue
        note = f" ({squash(plain(run.error))})" if run.error else ""
        out.append(
            f"{cid}: {run.match.found}/{len(run.match.labels)} found, "
            f"{len(run.match.unmatched)} unmatched finding(s){note}"
        )
        for lr in run.match.labels:
            r = lr.label.region
            out.append(
                f"  {'found ' if lr.finding else 'missed'}  {plain(r.path)}:{r.start}-{r.end}  "
                f"{squash(plain(lr.label.description))[:160]}"
            )
        for f in run.match.unmatched:
            kind = "false alarm" if f in run.match.false_alarms else "unmatched"
            out.append(f"  {kind}  {plain(f.path or '(general)')}:{f.line or ''}  {squash(plain(f.title))[:160]}")
    return out


def _input_line(p: PolicyScore) -> str:
    """The diff's tokens and the code context's beside them: what review.context costs."""
    ratio = f" (×{p.context_tokens / p.diff_tokens:.2f} the diff)" if p.diff_tokens else ""
    return (
        f"input: diff {p.diff_tokens:,} tokens, code context {p.context_tokens:,}{ratio}; "
        f"head files for {p.head_file_cases} of {len(p.runs)} case(s)"
    )


def _breakdown(items: Sequence[tuple[str, int, int]]) -> str:
    return ", ".join(f"{name} {found}/{total}" for name, found, total in items) or "—"


def _table_text(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]


def _cache_line(result: EvalResult) -> list[str]:
    if not result.cache:
        return []
    return ["", f"reply cache: {result.cache.get('hits', 0)} hit(s), {result.cache.get('misses', 0)} miss(es)"]


# --- JSON -----------------------------------------------------------------------------------


def result_to_dict(result: EvalResult) -> dict[str, object]:
    return {
        "reviewbot_version": result.version,
        "cases": result.cases,
        "match": {"tolerance": result.settings.match.tolerance, "category": result.settings.match.category},
        "budget_usd": result.settings.budget_usd,
        "spent_usd": round(result.budget_spent_usd, 6),
        "cache": dict(result.cache),
        "policies": [_policy_dict(p, result) for p in result.policies],
    }


def _scores_dict(s: Scores, sp: Spend) -> dict[str, object]:
    return {
        "labels": s.labels,
        "found": s.found,
        "findings": s.findings,
        "matched_findings": s.matched,
        "unmatched_findings": s.unmatched,
        "false_alarms": s.false_alarms,
        "rejected_hits": s.rejected_hits,
        "changed_lines": s.changed_lines,
        "recall": s.recall,
        "precision": s.precision,
        "f1": s.f1,
        "noise_per_100_lines": s.noise_per_100,
        "cost_usd": sp.usd,
        "known_cost_usd": sp.known_usd,
        "input_tokens": sp.input_tokens,
        "output_tokens": sp.output_tokens,
        "calls": sp.calls,
        "failed_calls": sp.failed_calls,
        "latency_ms": sp.latency_ms,
        "latency_p50_ms": sp.latency_p50_ms,
    }


def _policy_dict(p: PolicyScore, result: EvalResult) -> dict[str, object]:
    return {
        "policy": p.policy,
        "models": list(result.models.get(p.policy, ())),
        "prompt_hash": result.prompt_hashes.get(p.policy),
        **_scores_dict(p.scores, p.spend),
        "failed_cases": p.failed_cases,
        "diff_tokens": p.diff_tokens,
        "context_tokens": p.context_tokens,
        "head_file_cases": p.head_file_cases,
        "recall_by_category": {n: {"found": f, "labels": t} for n, f, t in p.by_category},
        "recall_by_severity": {n: {"found": f, "labels": t} for n, f, t in p.by_severity},
        "per_model": {g.name: _scores_dict(g.scores, g.spend) for g in p.by_model},
        "per_tier": {g.name: _scores_dict(g.scores, g.spend) for g in p.by_tier},
        "cases": [_case_dict(r) for r in p.runs],
    }


def _case_dict(run: object) -> dict[str, object]:
    from .scoring import CaseRun

    assert isinstance(run, CaseRun)
    out: dict[str, object] = {"id": run.case.id, "error": run.error, "source": dict(run.case.source or {})}
    if run.match is not None:
        out["labels"] = [
            {
                "path": lr.label.region.path,
                "lines": [lr.label.region.start, lr.label.region.end],
                "side": lr.label.region.side,
                "category": lr.label.category,
                "description": lr.label.description,
                "found": lr.finding is not None,
                "by": None
                if lr.finding is None
                else {"line": lr.finding.line, "title": lr.finding.title, "model": lr.finding.model},
            }
            for lr in run.match.labels
        ]
        out["unmatched"] = [
            {
                "path": f.path,
                "line": f.line,
                "side": f.side,
                "severity": f.severity,
                "category": f.category,
                "title": f.title,
                "model": f.model,
                "false_alarm": f in run.match.false_alarms,
            }
            for f in run.match.unmatched
        ]
    return out


def render_json(result: EvalResult) -> str:
    return json.dumps(result_to_dict(result), indent=2, ensure_ascii=False) + "\n"


# --- markdown -------------------------------------------------------------------------------


def render_markdown(result: EvalResult) -> str:
    out = [
        f"## reviewbot eval — {result.cases} case(s)",
        "",
        f"reviewbot {result.version}; a finding matches a label within ±{result.settings.match.tolerance} "
        f"line(s){' and by category' if result.settings.match.category else ''}.",
        "",
    ]
    out += _md_table(HEADER, [_row(p.policy, p.scores, p.spend) for p in result.policies])
    out += ["", "### Recall against cost", "", *_mermaid(result.policies), ""]
    for p in result.policies:
        out += [
            f"### {one_line(p.policy, 80)}",
            "",
            f"Models: {', '.join(inline_code(m) for m in result.models.get(p.policy, ())) or '—'}; "
            f"prompts {inline_code(result.prompt_hashes.get(p.policy, '?'))}. "
            f"{_input_line(p).capitalize()}.",
            "",
            f"Recall by category: {one_line(_breakdown(p.by_category), 400)}. "
            f"By severity: {one_line(_breakdown(p.by_severity), 400)}.",
            "",
        ]
        for title, groups in (("Per model", p.by_model), ("Per tier", p.by_tier)):
            if groups:
                out += [f"**{title}**", "", *_md_table(["name", *HEADER[1:]], _group_rows(groups)), ""]
        out += ["<details><summary>Per case</summary>", "", *_md_cases(p), "", "</details>", ""]
    return "\n".join(out) + "\n"


def _group_rows(groups: Sequence[GroupScore]) -> list[list[str]]:
    return [_row(inline_code(g.name), g.scores, g.spend) for g in groups]


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    def cells(row: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |"

    return [cells(header), "|" + "---|" * len(header), *(cells(r) for r in rows)]


def _md_cases(p: PolicyScore) -> list[str]:
    out: list[str] = []
    for run in p.runs:
        head = f"- {inline_code(run.case.id)}"
        if run.match is None:
            out.append(f"{head}: could not run — {one_line(run.error or 'unknown error', 300)}")
            continue
        note = f" — {one_line(run.error, 300)}" if run.error else ""
        out.append(
            f"{head}: {run.match.found}/{len(run.match.labels)} found, "
            f"{len(run.match.unmatched)} unmatched finding(s){note}"
        )
        for lr in run.match.labels:
            mark = "found" if lr.finding else "missed"
            r = lr.label.region
            out.append(
                f"  - {mark}: {inline_code(f'{r.path}:{r.start}-{r.end}')} {one_line(lr.label.description, 160)}"
            )
        for f in run.match.unmatched:
            alarm = " (on a must-not-flag line)" if f in run.match.false_alarms else ""
            out.append(f"  - unmatched{alarm}: {inline_code(f'{f.path}:{f.line}')} {one_line(f.title, 160)}")
    return out


def _mermaid(policies: Sequence[PolicyScore]) -> list[str]:
    """A quadrant chart (GitHub renders mermaid): x = cost relative to the dearest policy,
    y = recall. Points need coordinates in [0, 1]."""
    costs = [p.spend.known_usd for p in policies]
    top = max(costs) if costs and max(costs) > 0 else 1.0
    lines = [
        "```mermaid",
        "quadrantChart",
        "    title Recall against cost (one point per policy)",
        f"    x-axis Cheaper --> Dearer (max {format_usd(top)})",
        "    y-axis Lower recall --> Higher recall",
    ]
    for i, p in enumerate(policies, start=1):
        x = min(1.0, max(0.0, p.spend.known_usd / top))
        y = p.scores.recall or 0.0
        lines.append(f"    P{i}: [{x:.3f}, {y:.3f}]")
    lines.append("```")
    lines += [
        f"P{i} = {one_line(p.policy, 80)}" + ("  " if i < len(policies) else "")
        for i, p in enumerate(policies, start=1)
    ]
    return lines


# --- HTML -----------------------------------------------------------------------------------


def render_html(result: EvalResult) -> str:
    e = html.escape
    rows = "".join(
        "<tr>" + "".join(f"<td>{e(c)}</td>" for c in _row(p.policy, p.scores, p.spend)) + "</tr>"
        for p in result.policies
    )
    head = "".join(f"<th>{e(h)}</th>" for h in HEADER)
    cases = "".join(f"<h3>{e(p.policy)}</h3><pre>{e(chr(10).join(_md_cases(p)))}</pre>" for p in result.policies)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>reviewbot eval</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}</style>"
        f"</head><body><h1>reviewbot eval — {result.cases} case(s)</h1>"
        f"<p>reviewbot {e(result.version)}; match ±{result.settings.match.tolerance} line(s).</p>"
        f"<table><tr>{head}</tr>{rows}</table><h2>Recall against cost</h2>{_svg(result.policies)}"
        f"<h2>Per case</h2>{cases}</body></html>\n"
    )


def _svg(policies: Sequence[PolicyScore]) -> str:
    w, h, m = 520, 320, 50
    costs = [p.spend.known_usd for p in policies]
    top = max(costs) if costs and max(costs) > 0 else 1.0
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' role='img' "
        "aria-label='recall against cost per policy'>",
        f"<line x1='{m}' y1='{h - m}' x2='{w - 10}' y2='{h - m}' stroke='black'/>",
        f"<line x1='{m}' y1='10' x2='{m}' y2='{h - m}' stroke='black'/>",
        f"<text x='{w // 2}' y='{h - 10}' text-anchor='middle'>cost (max {html.escape(format_usd(top))})</text>",
        f"<text x='15' y='{h // 2}' transform='rotate(-90 15 {h // 2})' text-anchor='middle'>recall</text>",
    ]
    for p in policies:
        x = m + (w - m - 20) * (p.spend.known_usd / top)
        y = (h - m) - (h - m - 20) * (p.scores.recall or 0.0)
        parts.append(
            f"<circle cx='{x:.1f}' cy='{y:.1f}' r='6' fill='#6f42c1'/>"
            f"<text x='{x + 9:.1f}' y='{y - 6:.1f}' font-size='12'>{html.escape(p.policy)} "
            f"({_pct(p.scores.recall)})</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


RENDERERS = {"text": render_text, "json": render_json, "markdown": render_markdown, "html": render_html}
