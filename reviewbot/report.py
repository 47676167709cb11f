"""Stage 7 (pure): the report. Input: the plan and the review outcome. Output: one Report
value that every reporter (text, JSON, markdown, SARIF, GitHub) renders; nothing else
crosses into the reporters."""

from __future__ import annotations

from dataclasses import dataclass, field

from .cost import CostSummary
from .findings import Finding
from .reviewer import CallRecord, Failover

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
    version: str = REPORT_VERSION
