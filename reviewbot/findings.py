"""Stage 6 (pure): findings. Input: a model's raw reply and the diff. Output: Findings
parsed tolerantly (fences, prose, truncation), anchored to commentable diff lines (inline,
re-anchored, or general) and fingerprinted. Nothing a model found is dropped here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")
Placement = Literal["inline", "general"]


@dataclass(frozen=True)
class Finding:
    path: str | None  # None: a PR-level finding
    line: int | None
    side: Literal["RIGHT", "LEFT"]
    severity: Severity
    category: str  # security, bug, performance, maintainability, style, test, docs, ...
    title: str
    body: str
    start_line: int | None = None
    suggestion: str | None = None  # replacement text for exactly start_line..line (RIGHT)
    model: str = ""
    chunk_id: str = ""
    placement: Placement = "general"
    anchor_note: str | None = None  # e.g. "re-anchored from line 57 to 55", "line 900 is outside the diff"
    fingerprint: str = ""
