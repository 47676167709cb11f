"""Stage 5's records (pure data): what one review produced — a result per chunk, a record
per model request, the failovers and the user-facing notices. The report, the audit log and
the cost table are built from these; the reviewer (`reviewer.py`) writes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .findings import Finding

Outcome = Literal["ok", "failover", "error", "parse-failed", "cut-off", "skipped-budget"]
ChunkStatus = Literal["reviewed", "partial", "failed", "skipped"]


@dataclass(frozen=True)
class CallRecord:
    """One model request: the audit trail and the cost table are built from these."""

    call_id: str
    chunk_id: str
    model: str
    tier: str  # cheap, frontier or summary
    files: tuple[str, ...]
    reasons: tuple[str, ...]  # routing reasons of the chunk's files
    input_tokens: int
    output_tokens: int
    cached_tokens: int | None
    usd: float | None  # None: price unknown (never reported as $0)
    latency_ms: int
    outcome: Outcome
    error: str | None = None
    findings: int = 0
    endpoint_host: str | None = None
    template_hash: str = ""
    started_at: str = ""  # ISO 8601 UTC
    messages: tuple[dict[str, str], ...] | None = None  # only with audit.include_prompts
    reply: str | None = None  # the model's text, only with audit.include_prompts


@dataclass(frozen=True)
class Failover:
    chunk_id: str
    from_model: str
    to_model: str | None  # None: no model left
    reason: str


@dataclass(frozen=True)
class ChunkResult:
    chunk_id: str
    status: ChunkStatus  # partial: the reply was cut at the output limit
    model: str | None
    findings: tuple[Finding, ...] = ()
    summary: str | None = None  # the model's short description of what the chunk changes
    error: str | None = None  # why it failed or was skipped
    second_look: str | None = None  # the reply asked for a frontier review (review.cascade), why


@dataclass(frozen=True)
class SecondLook:
    """A cheap chunk whose reply asked for a frontier review (review.cascade), and what came of it."""

    chunk_id: str
    reason: str  # the cheap model's words
    status: str  # reviewed, partial, failed, skipped, or "not sent"
    model: str | None = None  # the frontier model that gave it
    added: int = 0  # findings it added to the chunk's
    note: str | None = None  # why it was not sent or failed


@dataclass(frozen=True)
class ReviewOutcome:
    results: tuple[ChunkResult, ...]
    calls: tuple[CallRecord, ...]
    failovers: tuple[Failover, ...] = field(default_factory=tuple)
    overview: str | None = None
    notices: tuple[str, ...] = ()  # loud, user-facing problems (e.g. a key that was rejected)
    second_looks: tuple[SecondLook, ...] = ()
