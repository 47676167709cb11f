"""Stage 5 (side effects through an injected LLMClient): the review. Input: routed chunks,
prompts, an LLMClient, prices and the budget. Output: per-chunk results and one CallRecord
per model request. Owns bounded concurrency, failover, cooldown, the repair retry and the
budget guard; never retries hidden inside the SDK."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .findings import Finding

Outcome = Literal["ok", "failover", "error", "parse-failed", "repaired", "skipped-budget"]


@dataclass(frozen=True)
class CallRecord:
    """One model request: the audit trail and the cost table are built from these."""

    call_id: str
    chunk_id: str
    model: str
    tier: str
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


@dataclass(frozen=True)
class Failover:
    chunk_id: str
    from_model: str
    to_model: str | None  # None: no model left
    reason: str


@dataclass(frozen=True)
class ChunkResult:
    chunk_id: str
    status: Literal["reviewed", "failed", "skipped"]
    model: str | None
    findings: tuple[Finding, ...] = ()
    summary: str | None = None  # the model's short description of what the chunk changes
    error: str | None = None  # why it failed or was skipped


@dataclass(frozen=True)
class ReviewOutcome:
    results: tuple[ChunkResult, ...]
    calls: tuple[CallRecord, ...]
    failovers: tuple[Failover, ...] = field(default_factory=tuple)
