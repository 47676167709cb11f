"""Stage 3b (pure): routing. Input: chunks and the config. Output: for every chunk the
ordered tuple of models allowed to review it (tier list, filtered by compliance rules and
allowed_providers), or the reason it is sent nowhere. Failover walks this tuple, so a chunk
can only ever reach an allowed model."""

from __future__ import annotations

from dataclasses import dataclass

from .chunker import Chunk


@dataclass(frozen=True)
class Route:
    chunk: Chunk
    models: tuple[str, ...]  # allowed models in failover order; empty when blocked
    blocked: str | None = None  # e.g. "local-only, no local model available"
