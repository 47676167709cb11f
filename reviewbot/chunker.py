"""Stage 4 (pure): chunks. Input: reviewable files with their tier and compliance group,
and a token budget per tier. Output: Chunks that group whole hunks of one or more files
(never mixing tiers or compliance groups), rendered with explicit line numbers so the model
can cite real lines. A hunk is split only when it alone is over the budget."""

from __future__ import annotations

from dataclasses import dataclass

from .config import Tier


@dataclass(frozen=True)
class Chunk:
    id: str  # "c001", stable for a given plan
    tier: Tier
    group: str  # compliance group key; "" when no compliance rule applies
    files: tuple[str, ...]  # paths whose hunks are in this chunk
    text: str  # rendered hunks (see render format in chunker docs)
    tokens: int  # tokens of `text`, counted with a real tokenizer
    risk: int  # highest risk score among its files (budget decisions drop lowest first)
