"""Eval stage (pure): scores. Input: each policy's case runs (the Report a case produced and
its CaseMatch). Output: recall, precision, F1, noise (unmatched findings per 100 changed
lines), false alarms on must-not-flag lines, recall by category and severity, spend (cost,
tokens, latency, failed calls) — for the policy, per model and per tier."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..outcome import CallRecord
from ..report import Report
from .cases import Case
from .matching import CaseMatch


@dataclass(frozen=True)
class CaseRun:
    policy: str
    case: Case
    report: Report | None  # None when the case could not run at all
    match: CaseMatch | None
    error: str | None = None
    diff_tokens: int = 0  # the diff's tokens in the chunks sent to a model
    context_tokens: int = 0  # code context sent with them (review.context, from the case's head files)


@dataclass(frozen=True)
class Scores:
    labels: int
    found: int
    findings: int
    matched: int  # findings that matched a label
    false_alarms: int
    rejected_hits: int
    changed_lines: int

    @property
    def unmatched(self) -> int:
        return self.findings - self.matched

    @property
    def recall(self) -> float | None:
        return self.found / self.labels if self.labels else None

    @property
    def precision(self) -> float | None:
        return self.matched / self.findings if self.findings else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None or p + r == 0:
            return None if p is None or r is None else 0.0
        return 2 * p * r / (p + r)

    @property
    def noise_per_100(self) -> float | None:
        return 100 * self.unmatched / self.changed_lines if self.changed_lines else None


@dataclass(frozen=True)
class Spend:
    usd: float | None  # None when any call's price is unknown
    known_usd: float
    input_tokens: int
    output_tokens: int
    calls: int
    failed_calls: int
    latency_ms: int  # summed over calls
    latency_p50_ms: int | None


@dataclass(frozen=True)
class GroupScore:
    name: str  # a model or a tier
    scores: Scores
    spend: Spend


@dataclass(frozen=True)
class PolicyScore:
    policy: str
    scores: Scores
    spend: Spend
    by_category: tuple[tuple[str, int, int], ...]  # (category, found, labels)
    by_severity: tuple[tuple[str, int, int], ...]
    by_model: tuple[GroupScore, ...]
    by_tier: tuple[GroupScore, ...]
    runs: tuple[CaseRun, ...]
    failed_cases: int
    diff_tokens: int = 0  # summed over the case runs: what the context costs next to the diff
    context_tokens: int = 0
    head_file_cases: int = 0  # case runs whose case carried head files (context possible)


def score_policy(policy: str, runs: Sequence[CaseRun]) -> PolicyScore:
    matches = [r.match for r in runs if r.match is not None]
    reports = [r.report for r in runs if r.report is not None]
    return PolicyScore(
        policy=policy,
        scores=_scores(matches),
        spend=_spend(c for rep in reports for c in rep.calls),
        by_category=_breakdown(matches, lambda lr: lr.label.category or "(none)"),
        by_severity=_breakdown(matches, lambda lr: lr.label.min_severity),
        by_model=_groups(runs, "model"),
        by_tier=_groups(runs, "tier"),
        runs=tuple(runs),
        failed_cases=sum(1 for r in runs if r.error),
        diff_tokens=sum(r.diff_tokens for r in runs),
        context_tokens=sum(r.context_tokens for r in runs),
        head_file_cases=sum(1 for r in runs if r.case.head_files),
    )


def _scores(matches: Iterable[CaseMatch]) -> Scores:
    labels = found = findings = matched = alarms = rejected = changed = 0
    for m in matches:
        labels += len(m.labels)
        found += m.found
        findings += m.found + len(m.unmatched)
        matched += m.found
        alarms += len(m.false_alarms)
        rejected += len(m.rejected_hits)
        changed += m.changed_lines
    return Scores(labels, found, findings, matched, alarms, rejected, changed)


def _spend(calls: Iterable[CallRecord]) -> Spend:
    usd: float | None = 0.0
    known = 0.0
    tin = tout = n = failed = latency = 0
    latencies: list[int] = []
    for call in calls:
        n += 1
        if call.usd is None:
            usd = None
        else:
            known += call.usd
            usd = None if usd is None else usd + call.usd
        tin += call.input_tokens
        tout += call.output_tokens
        latency += call.latency_ms
        latencies.append(call.latency_ms)
        failed += call.outcome not in ("ok", "skipped-budget")
    p50 = sorted(latencies)[len(latencies) // 2] if latencies else None
    return Spend(usd if n else 0.0, known, tin, tout, n, failed, latency, p50)


def _breakdown(matches: Sequence[CaseMatch], key: object) -> tuple[tuple[str, int, int], ...]:
    counts: dict[str, list[int]] = {}
    for m in matches:
        for lr in m.labels:
            name = key(lr)  # type: ignore[operator]
            entry = counts.setdefault(name, [0, 0])
            entry[0] += lr.finding is not None
            entry[1] += 1
    return tuple((name, f, t) for name, (f, t) in sorted(counts.items()))


def _groups(runs: Sequence[CaseRun], by: str) -> tuple[GroupScore, ...]:
    """Labels are credited to the model (or tier) whose chunk held the label's file; findings
    and calls to the model (or tier) that produced them."""
    labels: dict[str, list[int]] = {}
    findings: dict[str, list[int]] = {}
    calls: dict[str, list[CallRecord]] = {}
    for run in runs:
        if run.report is None or run.match is None:
            continue
        owner = _file_owner(run.report, by)
        for lr in run.match.labels:
            name = owner.get(lr.label.region.path)
            if name is not None:
                entry = labels.setdefault(name, [0, 0])
                entry[0] += lr.finding is not None
                entry[1] += 1
        matched_ids = {id(lr.finding) for lr in run.match.labels if lr.finding is not None}
        tiers = {c.id: c.tier for c in run.report.chunks}
        for f in run.report.findings:
            name = f.model if by == "model" else tiers.get(f.chunk_id, "")
            entry = findings.setdefault(name or "(unknown)", [0, 0])
            entry[0] += id(f) in matched_ids
            entry[1] += 1
        for call in run.report.calls:
            calls.setdefault(call.model if by == "model" else call.tier, []).append(call)
    names = sorted(set(labels) | set(findings) | set(calls))
    return tuple(
        GroupScore(
            name,
            Scores(
                labels.get(name, [0, 0])[1],
                labels.get(name, [0, 0])[0],
                findings.get(name, [0, 0])[1],
                findings.get(name, [0, 0])[0],
                0,
                0,
                0,
            ),
            _spend(calls.get(name, [])),
        )
        for name in names
    )


def _file_owner(report: Report, by: str) -> dict[str, str]:
    owner: dict[str, str] = {}
    for chunk in report.chunks:
        if chunk.status != "reviewed":
            continue
        name = chunk.model if by == "model" else chunk.tier
        for path in chunk.files:
            if name:
                owner.setdefault(path, name)
    return owner
