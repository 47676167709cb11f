"""Stage 7 (pure): the report. Input: the plan and the review outcome. Output: one Report
value that every reporter (text, JSON, markdown, SARIF, GitHub) renders; nothing else
crosses into the reporters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .cost import CostSummary
from .findings import SEVERITIES, Finding, filter_min_severity
from .ignore import PATCH_MISSING
from .outcome import CallRecord, ChunkResult, Failover, ReviewOutcome, SecondLook
from .vocab import severity_rank

if TYPE_CHECKING:
    from .plan import Plan
    from .router import Route
    from .shadow import ShadowReport

REPORT_VERSION = "1"


@dataclass(frozen=True)
class FileEntry:
    path: str
    status: str  # added, modified, deleted, renamed, copied, mode_changed
    old_path: str | None = None
    binary: bool = False
    tier: str | None = None  # None when not reviewed
    score: int | None = None
    reasons: tuple[str, ...] = ()
    reviewed: bool = False
    skip_reason: str | None = None  # why it was not reviewed
    chunks: tuple[str, ...] = ()
    redactions: int = 0  # secrets replaced before sending
    rules: tuple[str, ...] = ()  # the maintainers' rules that applied ("general: AGENTS.md", path rules)


@dataclass(frozen=True)
class ChunkEntry:
    id: str
    tier: str
    files: tuple[str, ...]
    tokens: int
    models: tuple[str, ...]  # allowed models in failover order
    status: str  # planned, reviewed, failed, skipped
    model: str | None = None  # the model that reviewed it
    reason: str | None = None  # why failed or skipped
    est_usd: float | None = None
    context_tokens: int = 0  # code around the hunks sent with it (review.context)


@dataclass(frozen=True)
class Report:
    source: str  # e.g. "examples/login-sql.diff", "git diff main...HEAD", "owner/repo#12"
    dry_run: bool
    files: tuple[FileEntry, ...]
    chunks: tuple[ChunkEntry, ...]
    findings: tuple[Finding, ...]
    calls: tuple[CallRecord, ...]
    cost: CostSummary
    failovers: tuple[Failover, ...] = ()
    notes: tuple[str, ...] = ()  # defaults chosen, re-anchoring, redactions, budget decisions
    overview: str | None = None  # the summary model's overview of the PR
    budget: dict[str, object] = field(default_factory=dict)  # max_usd, spent_usd, decisions
    warnings: tuple[str, ...] = ()  # what the user must act on (a rejected key, unreviewed chunks)
    second_looks: tuple[SecondLook, ...] = ()  # cheap chunks that asked for a frontier review
    shadow: ShadowReport | None = None  # review.shadow: the second model's comparison
    version: str = REPORT_VERSION


def build_report(
    plan: Plan,
    outcome: ReviewOutcome | None,
    cost: CostSummary,
    *,
    dry_run: bool,
    budget: Mapping[str, object] | None = None,
    shadow: ShadowReport | None = None,
) -> Report:
    """Assemble the one value every reporter renders. `outcome` is None for a dry run."""
    results = {r.chunk_id: r for r in outcome.results} if outcome else {}
    chunks = tuple(_chunk_entry(route, plan, results.get(route.chunk.id)) for route in plan.routes)
    findings_all, merged = _unique([f for r in (outcome.results if outcome else ()) for f in r.findings])
    findings, below = filter_min_severity(findings_all, plan.config.review.min_severity)
    notes = list(plan.notes)  # budget decisions are listed once, under `budget`
    if outcome:
        notes += list(outcome.notices)
        moved = sum(1 for f in findings if f.anchor_note and f.anchor_note.startswith("re-anchored"))
        if moved:
            notes.append(f"{moved} finding(s) re-anchored to the nearest changed line")
    if merged:
        notes.append(
            f"{merged} duplicate finding(s) merged: the same problem on the same line, cited from more than one chunk"
        )
    if below:
        notes.append(f"{below} finding(s) below min_severity '{plan.config.review.min_severity}' not shown")
    state = dict(budget or {})
    if plan.decisions:
        state["decisions"] = [f"{d.subject}: {d.reason}" for d in plan.decisions]
    warnings = list(outcome.notices) if outcome else []
    unreviewed = [c for c in chunks if c.status in ("failed", "skipped", "partial")] if outcome else []
    if unreviewed:
        how = "not fully reviewed" if any(c.status == "partial" for c in unreviewed) else "not reviewed"
        warnings.append(
            f"{len(unreviewed)} of {len(chunks)} chunk(s) {how}: "
            + "; ".join(dict.fromkeys(c.reason or c.status for c in unreviewed))
        )
    return Report(
        source=plan.source,
        dry_run=dry_run,
        warnings=tuple(warnings),
        files=_file_entries(plan, chunks),
        chunks=chunks,
        findings=tuple(sorted(findings, key=_finding_order)),
        calls=outcome.calls if outcome else (),
        cost=cost,
        failovers=outcome.failovers if outcome else (),
        notes=tuple(notes),
        overview=outcome.overview if outcome else None,
        budget=state,
        second_looks=outcome.second_looks if outcome else (),
        shadow=shadow,
    )


def _unique(findings: Sequence[Finding]) -> tuple[list[Finding], int]:
    """A file split across chunks can be cited from two of them: one finding per fingerprint
    across chunks (the most severe copy, in the place of the first); copies within one reply
    are the parser's business. Also the count of merged copies."""
    first: dict[str, tuple[str | None, int]] = {}  # fingerprint -> (chunk, index in out)
    out: list[Finding] = []
    for f in findings:
        seen = first.get(f.fingerprint) if f.fingerprint else None
        if seen is None or seen[0] == f.chunk_id:
            if f.fingerprint and seen is None:
                first[f.fingerprint] = (f.chunk_id, len(out))
            out.append(f)
        elif severity_rank(f.severity) < severity_rank(out[seen[1]].severity):
            out[seen[1]] = f
    return out, len(findings) - len(out)


def not_reviewed_reason(report: Report) -> str | None:
    """Why nothing was reviewed, or None when some chunk was (or nothing needed review, or it
    is a dry run). Every call failing, every reply unusable, the budget skipping every chunk or
    compliance blocking them all: none of these may ever look like a clean review."""
    if report.dry_run or any(c.status in ("reviewed", "partial") for c in report.chunks):
        return None
    if not report.chunks:
        # Nothing needed a model (every file ignored by the rules) — unless GitHub withheld
        # the patches of files with changes: those were never seen, which is no clean review.
        withheld = [f.path for f in report.files if f.skip_reason == PATCH_MISSING]
        if not withheld:
            return None
        return f"GitHub sent no patch for {len(withheld)} changed file(s) (too large to show), e.g. {withheld[0]}"
    return "; ".join(dict.fromkeys(_bare(c.reason or c.status) for c in report.chunks))


def _bare(reason: str) -> str:
    """A chunk's reason without its own "not reviewed: " lead: callers say that once."""
    return reason.removeprefix("not reviewed: ")


def _chunk_entry(route: Route, plan: Plan, result: ChunkResult | None) -> ChunkEntry:
    chunk = route.chunk
    if result is None:
        status = "skipped" if chunk.id in plan.skip or route.blocked else "planned"
        reason = plan.skip.get(chunk.id) or (f"not reviewed: {route.blocked}" if route.blocked else None)
        return ChunkEntry(
            chunk.id,
            chunk.tier,
            chunk.files,
            plan.estimate_inputs.get(chunk.id, chunk.tokens),
            route.models,
            status,
            None,
            reason,
            context_tokens=chunk.context_tokens,
        )
    return ChunkEntry(
        chunk.id,
        chunk.tier,
        chunk.files,
        plan.estimate_inputs.get(chunk.id, chunk.tokens),
        route.models,
        result.status,
        result.model,
        result.error,
        context_tokens=chunk.context_tokens,
    )


def _file_entries(plan: Plan, chunks: tuple[ChunkEntry, ...]) -> tuple[FileEntry, ...]:
    by_file: dict[str, list[ChunkEntry]] = {}
    for entry in chunks:
        for path in entry.files:
            by_file.setdefault(path, []).append(entry)
    skipped = {s.path: s.reason for s in plan.skipped}
    entries = []
    for f in plan.diff.files:
        base = {"path": f.path, "status": f.status, "old_path": f.old_path, "binary": f.binary}
        if f.path in skipped:
            entries.append(FileEntry(**base, skip_reason=skipped[f.path]))  # type: ignore[arg-type]
            continue
        risk = plan.risks.get(f.path)
        mine = by_file.get(f.path, [])
        failed = [c for c in mine if c.status in ("failed", "skipped", "partial")]
        reviewed = bool(mine) and not failed and all(c.status in ("reviewed", "planned") for c in mine)
        reason = "; ".join(sorted({c.reason or c.status for c in failed})) if failed else None
        tier = plan.tiers.get(f.path, risk.tier if risk else None)
        reasons = risk.reasons if risk else ()
        if risk and tier != risk.tier:
            reasons = (f"{risk.tier} by risk, {tier} for budget", *reasons)
        entries.append(
            FileEntry(
                **base,  # type: ignore[arg-type]
                tier=tier,
                score=risk.score if risk else None,
                reasons=reasons,
                reviewed=reviewed,
                skip_reason=reason,
                chunks=tuple(c.id for c in mine),
                redactions=plan.redactions.get(f.path, 0),
                rules=_rules_of(plan, f.path),
            )
        )
    return tuple(entries)


def _rules_of(plan: Plan, path: str) -> tuple[str, ...]:
    rules = plan.rules
    general = ("general: " + " and ".join(rules.sources),) if rules.general else ()
    return general + tuple(r.label for r in rules.for_paths([path]))


def _finding_order(f: Finding) -> tuple[int, str, int]:
    return (SEVERITIES.index(f.severity), f.path or "~", f.line or 0)
