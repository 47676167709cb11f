"""Support (pure after loading the price map): prices and the cost table. Prices come from
the config's `prices` first, then litellm's bundled price map, read as JSON from the
installed package without importing litellm. An unknown price stays None ("unknown"),
never $0. The all-frontier counterfactual prices the same tokens at the first frontier model."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Price:
    input_per_mtok: float  # USD per million input tokens
    output_per_mtok: float
    cached_input_per_mtok: float | None = None


@dataclass(frozen=True)
class CostRow:
    model: str
    tier: str
    requests: int
    input_tokens: int
    cached_tokens: int  # 0 when the provider reported none
    output_tokens: int
    usd: float | None  # None when the price is unknown


@dataclass(frozen=True)
class CostSummary:
    rows: tuple[CostRow, ...]  # per model
    tiers: tuple[tuple[str, float | None], ...]  # per tier USD
    total_usd: float | None  # None if any row is unknown
    known_usd: float  # sum of the rows that are priced
    all_frontier_model: str | None
    all_frontier_usd: float | None
    saving_pct: float | None
    estimated: bool = False  # True for --dry-run plans
