"""Support (pure after loading the price map): prices and the cost table. Prices come from
the config's `prices` first, then litellm's bundled price map, read as JSON from the
installed package without importing litellm. An unknown price stays None ("unknown"),
never $0. The all-frontier counterfactual prices the same tokens at the first frontier model."""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .vocab import (
    format_usd as format_usd,  # callers move to vocab once the render/github packages land
)

if TYPE_CHECKING:
    from .config import PriceConfig

_PRICE_MAP_FILE = "model_prices_and_context_window_backup.json"
# Prefixes litellm treats as one provider but prices under only one of the two names.
_PREFIX_ALIASES: dict[str, tuple[str, ...]] = {
    "ollama_chat": ("ollama",),
    "ollama": ("ollama_chat",),
}


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


@dataclass(frozen=True)
class Usage:
    """Tokens one model used in one tier (one request, or several when requests > 1).
    `cached_tokens` are part of `input_tokens`, as in OpenAI's usage (and litellm's)."""

    model: str
    tier: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int = 0
    usd: float | None = None  # provider-reported cost; wins over our price when present
    requests: int = 1


# -- prices ------------------------------------------------------------------------------------


def _bundled_map_path() -> Path | None:
    """litellm's price map, found without importing litellm (the import takes seconds and
    ~200 MB; a dry run and the cost table must not pay for it)."""
    try:
        spec = importlib.util.find_spec("litellm")
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / _PRICE_MAP_FILE
        if path.is_file():
            return path
    return None


class _BundledMap:
    """The JSON map, loaded once on first use and shared by every Pricer."""

    _lock = threading.Lock()
    _data: dict[str, dict[str, Any]] | None = None

    @classmethod
    def get(cls) -> dict[str, dict[str, Any]]:
        with cls._lock:
            if cls._data is None:
                path = _bundled_map_path()
                try:
                    raw = json.loads(path.read_text(encoding="utf-8")) if path else {}
                except (OSError, ValueError):
                    raw = {}
                cls._data = {k: v for k, v in raw.items() if isinstance(v, dict) and k != "sample_spec"}
            return cls._data


def _provider_matches(entry: Mapping[str, Any], provider: str) -> bool:
    """Accept an un-prefixed entry only for the provider it belongs to, as litellm does:
    "openrouter/gpt-4.1-mini" must not be priced as OpenAI's "gpt-4.1-mini"."""
    owner = str(entry.get("litellm_provider", ""))
    names = (provider, *_PREFIX_ALIASES.get(provider, ()))
    return any(owner == n or owner.startswith(f"{n}-") or owner.startswith(f"{n}_") for n in names)


def _per_mtok(value: Any) -> float | None:
    # Rounded: 4e-07 * 1e6 is 0.39999999999999997 in binary floating point.
    return round(float(value) * 1_000_000, 9) if isinstance(value, (int, float)) else None


class Pricer:
    """Prices, context windows and JSON-schema support per model string."""

    def __init__(self, prices: Mapping[str, PriceConfig] | None = None) -> None:
        self._config = dict(prices or {})

    def _entry(self, model: str) -> Mapping[str, Any] | None:
        data = _BundledMap.get()
        if model in data:
            return data[model]
        if "/" not in model:
            return None
        provider, name = model.split("/", 1)
        provider = provider.lower()
        for alias in _PREFIX_ALIASES.get(provider, ()):
            if f"{alias}/{name}" in data:
                return data[f"{alias}/{name}"]
        entry = data.get(name)
        if entry is not None and _provider_matches(entry, provider):
            return entry
        return None

    def price(self, model: str) -> Price | None:
        """Config first, then litellm's map (per token there, per million tokens here)."""
        configured = self._config.get(model)
        if configured is not None:
            return Price(configured.input, configured.output, configured.cached_input)
        entry = self._entry(model)
        if entry is None:
            return None
        input_rate = _per_mtok(entry.get("input_cost_per_token"))
        output_rate = _per_mtok(entry.get("output_cost_per_token"))
        if input_rate is None or output_rate is None:
            return None
        return Price(input_rate, output_rate, _per_mtok(entry.get("cache_read_input_token_cost")))

    def cost(self, model: str, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float | None:
        """USD, or None when the price is unknown. Cached tokens are part of input_tokens and
        are charged at the cached rate when one is known."""
        price = self.price(model)
        if price is None:
            return None
        cached = min(max(cached_tokens, 0), input_tokens)
        cached_rate = price.cached_input_per_mtok if price.cached_input_per_mtok is not None else price.input_per_mtok
        usd = (
            (input_tokens - cached) * price.input_per_mtok
            + cached * cached_rate
            + output_tokens * price.output_per_mtok
        )
        return usd / 1_000_000

    def context_window(self, model: str) -> int | None:
        entry = self._entry(model)
        value = entry.get("max_input_tokens") if entry else None
        return value if isinstance(value, int) and value > 0 else None

    def supports_response_schema(self, model: str) -> bool:
        entry = self._entry(model)
        return bool(entry.get("supports_response_schema")) if entry else False


# -- the cost table ----------------------------------------------------------------------------


def _usage_usd(usage: Usage, pricer: Pricer) -> float | None:
    if usage.usd is not None:
        return usage.usd
    return pricer.cost(usage.model, usage.input_tokens, usage.output_tokens, usage.cached_tokens)


def _sum_known(values: Sequence[float | None]) -> float | None:
    """The sum, or None as soon as one part is unknown: an unknown is never counted as $0."""
    if any(v is None for v in values):
        return None
    return sum((v for v in values if v is not None), 0.0)


def _row(model: str, usages: Sequence[Usage], usds: Sequence[float | None]) -> CostRow:
    return CostRow(
        model=model,
        tier="+".join(dict.fromkeys(u.tier for u in usages)),  # a model may serve two tiers
        requests=sum(u.requests for u in usages),
        input_tokens=sum(u.input_tokens for u in usages),
        cached_tokens=sum(u.cached_tokens for u in usages),
        output_tokens=sum(u.output_tokens for u in usages),
        usd=_sum_known(usds),
    )


def _all_frontier(usages: Sequence[Usage], pricer: Pricer, frontier_model: str | None) -> float | None:
    """What the same tokens would have cost had every request gone to the frontier model."""
    if frontier_model is None or pricer.price(frontier_model) is None:
        return None
    return _sum_known([pricer.cost(frontier_model, u.input_tokens, u.output_tokens, u.cached_tokens) for u in usages])


def summarize(
    usages: Sequence[Usage], pricer: Pricer, frontier_model: str | None, *, estimated: bool = False
) -> CostSummary:
    """Rows per model (first-seen order), USD per tier, totals and the all-frontier saving."""
    usds = [_usage_usd(u, pricer) for u in usages]
    by_model: dict[str, list[int]] = {}
    by_tier: dict[str, list[int]] = {}
    for i, usage in enumerate(usages):
        by_model.setdefault(usage.model, []).append(i)
        by_tier.setdefault(usage.tier, []).append(i)
    rows = tuple(_row(model, [usages[i] for i in idx], [usds[i] for i in idx]) for model, idx in by_model.items())
    tiers = tuple((tier, _sum_known([usds[i] for i in idx])) for tier, idx in by_tier.items())
    total = _sum_known([r.usd for r in rows])
    # A shadow model (review.shadow) is an experiment beside the review: what the review
    # itself would have cost on the frontier model compares with the review's spend alone.
    review = [i for i, u in enumerate(usages) if u.tier != "shadow"]
    frontier_usd = _all_frontier([usages[i] for i in review], pricer, frontier_model)
    spent = _sum_known([usds[i] for i in review]) if len(review) < len(usages) else total
    saving = None
    if spent is not None and frontier_usd is not None and frontier_usd > 0:
        saving = round((1 - spent / frontier_usd) * 100, 1)
    return CostSummary(
        rows=rows,
        tiers=tiers,
        total_usd=total,
        known_usd=sum((r.usd for r in rows if r.usd is not None), 0.0),
        all_frontier_model=frontier_model,
        all_frontier_usd=frontier_usd,
        saving_pct=saving,
        estimated=estimated,
    )


# Dry runs need an output estimate before any model has answered. A review reply is a short
# JSON summary plus findings; on real diffs that is roughly a tenth to a fifth of the input, so
# 15% errs slightly high, never above the cap. The floor is a summary and one finding with a
# short body (~200-250 tokens): under a tight budget a request asks for the estimated size,
# and a smaller cap would cut off the reply of a small chunk with one real finding.
_OUTPUT_RATIO = 0.15
_OUTPUT_FLOOR = 256


def estimate_output_tokens(input_tokens: int, max_output_tokens: int) -> int:
    """Estimated reply size for a dry run: 15% of the input, at least 256, at most the cap."""
    estimate = max(_OUTPUT_FLOOR, round(input_tokens * _OUTPUT_RATIO))
    return max(0, min(estimate, max_output_tokens))
