"""Render stage (pure): what every report format shares — finding order, counts, plurals,
locations, what was not reviewed, the budget items and the cost line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..cost import CostSummary
from ..findings import Finding
from ..outcome import SecondLook
from ..report import ChunkEntry, FileEntry, Report
from ..shadow import ShadowReport
from ..vocab import SEVERITIES, format_usd


def order(f: Finding) -> tuple[int, str, int, str]:
    return (SEVERITIES.index(f.severity), f.path or "\uffff", f.line or 0, f.title)


def count_phrase(findings: Sequence[Finding]) -> str:
    """ "2 high, 1 medium" in severity order."""
    counts = [(s, sum(1 for f in findings if f.severity == s)) for s in SEVERITIES]
    return ", ".join(f"{n:,} {s}" for s, n in counts if n)


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def location(f: Finding) -> str:
    """`path:42`, `path:40-42`, `path:12 (old)`, `path` (file level) or "PR-level"."""
    if f.path is None:
        return "PR-level"
    if f.placement != "inline" or f.line is None:
        return f"{f.path} (file)"
    lines = f"{f.start_line}-{f.line}" if f.start_line else str(f.line)
    return f"{f.path}:{lines}" + (" (old)" if f.side == "LEFT" else "")


def not_reviewed(report: Report) -> tuple[list[FileEntry], list[ChunkEntry]]:
    files = [e for e in report.files if not e.reviewed and e.skip_reason]
    chunks = [c for c in report.chunks if c.status in ("failed", "skipped", "partial")]
    return files, chunks


def budget_active(budget: Mapping[str, object]) -> bool:
    """Worth showing: a cap was set, or something was refused, downgraded or skipped."""
    return any(v not in (None, 0, "", [], ()) for k, v in budget.items() if not k.startswith("spent"))


def budget_items(budget: Mapping[str, object]) -> list[tuple[str, str]]:
    def show(key: str, v: object) -> str:
        if v is None:
            return "none"
        if key.endswith("_usd") and isinstance(v, (int, float)):
            return format_usd(float(v))
        if isinstance(v, (list, tuple)):
            return "; ".join(map(str, v)) or "none"
        return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)

    return [(k, show(k, v)) for k, v in budget.items()]


def cost_line(cost: CostSummary) -> str:
    label = "total (estimated)" if cost.estimated else "total"
    line = f"{label} {format_usd(cost.total_usd)}"
    if cost.total_usd is None and cost.known_usd:
        line += f" (priced part {format_usd(cost.known_usd)})"
    if cost.all_frontier_model:
        line += f"; all-frontier ({cost.all_frontier_model}) {format_usd(cost.all_frontier_usd)}"
    if cost.saving_pct is not None:
        line += f"; saving {cost.saving_pct:.1f}%"
    return line


def context_line(report: Report) -> str | None:
    """The input tokens that were code context (review.context), apart from the rest: None
    when no chunk carried any."""
    context = sum(c.context_tokens for c in report.chunks if c.status != "skipped")
    if not context:
        return None
    return f"code context (review.context): {context:,} of the input tokens"


_STATUS_WORDS = ("not reviewed:", "skipped:", "failed:", "partially reviewed:")


def second_look_outcome(look: SecondLook) -> str:
    """What came of a second look, in our words (the reason is the model's: render it apart)."""
    if look.status == "not sent":
        return f"not sent: {look.note}" if look.note else "not sent"
    done = f"{look.status} by {look.model}" if look.model else look.status
    added = f", {plural(look.added, 'finding')} added" if look.status in ("reviewed", "partial") else ""
    note = f" ({without_status(look.note)})" if look.note and look.status not in ("reviewed",) else ""
    return done + added + note


def shadow_lines(shadow: ShadowReport) -> list[str]:
    """The comparison in our words (counts and money only: no model text)."""
    both = shadow.agreed + shadow.agreed_near
    return [
        f"reviewed {plural(shadow.reviewed, 'chunk')}"
        + (f", {len(shadow.not_reviewed)} not" if shadow.not_reviewed else ""),
        f"found by both: {both} ({shadow.agreed} same finding, {shadow.agreed_near} on a nearby line)",
        f"found by the review alone: {len(shadow.primary_only)}; by the shadow alone: {len(shadow.shadow_only)}",
        f"cost on these chunks: review {format_usd(shadow.primary_usd)}, shadow {format_usd(shadow.shadow_usd)}",
    ]


def without_status(reason: str) -> str:
    """A reason without the status word it may already start with, so that "skipped: " +
    reason never reads "skipped: skipped: over budget"."""
    parts = []
    for part in reason.split("; "):
        text = part.strip()
        while (lead := next((w for w in _STATUS_WORDS if text.lower().startswith(w)), None)) is not None:
            text = text[len(lead) :].lstrip()
        parts.append(text)
    return "; ".join(parts)
