"""Stage 3b (pure): routing. Input: chunks and the config. Output: for every chunk the
ordered tuple of models allowed to review it (tier list, filtered by compliance rules and
allowed_providers), or the reason it is sent nowhere. Failover walks this tuple, so a chunk
can only ever reach an allowed model."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .chunker import Chunk
from .config import ComplianceRule, Config, Tier
from .ignore import glob_match
from .providers import is_local, provider_matches

LOCAL_BLOCKED = "local-only, no local model available"
# Room left in a model's context window for the rendered system prompt and instructions.
SYSTEM_PROMPT_TOKENS = 1500
MIN_CHUNK_TOKENS = 500
_GROUP_PREFIX = "rule"
_GROUP_JOIN = "+"


@dataclass(frozen=True)
class Route:
    chunk: Chunk
    models: tuple[str, ...]  # allowed models in failover order; empty when blocked
    blocked: str | None = None  # e.g. "local-only, no local model available"


def tier_models(config: Config, tier: Tier) -> tuple[str, ...]:
    """The configured failover list of a tier, primary first."""
    return tuple(config.models.frontier if tier == "frontier" else config.models.cheap)


def summary_models(config: Config) -> tuple[str, ...]:
    """models.summary: a tier name means that tier's list, else it is a list of models. The
    summary sees every file, so allowed_providers applies here too."""
    summary = config.models.summary
    tiers = {"cheap": config.models.cheap, "frontier": config.models.frontier}
    if isinstance(summary, str):
        models = tuple(tiers[summary]) if summary in tiers else (summary,)
    else:
        models = tuple(summary)
    return tuple(m for m in _unique(models) if model_allowed(m, "", config))


def compliance_group(paths: str | Sequence[str], config: Config) -> str:
    """ "rule<N>" (1-based) for the FIRST compliance rule whose globs match a path, else "".
    A file carries every path it has had: a rename out of a locked folder (`secure/x.py` →
    `lib/x.py`) still holds the locked code, so when its paths fall under different rules the
    group names them all ("rule1+rule3") and a model must satisfy each. The chunker never
    puts files of different groups in one chunk."""
    names = (paths,) if isinstance(paths, str) else tuple(p for p in paths if p)
    groups: list[str] = []
    for name in names:
        for index, rule in enumerate(config.compliance, start=1):
            if any(glob_match(name, pattern) for pattern in rule.paths):
                groups.append(f"{_GROUP_PREFIX}{index}")
                break
    return _GROUP_JOIN.join(sorted(set(groups), key=lambda g: int(g.removeprefix(_GROUP_PREFIX))))


def model_allowed(model: str, group: str, config: Config) -> bool:
    """allowed_providers applies to every model; a group's rule then narrows further:
    `allow: local` needs a local endpoint, a list matches provider names or exact models
    (the entry "local" in a list also admits any local model)."""
    if config.allowed_providers is not None and not any(provider_matches(model, p) for p in config.allowed_providers):
        return False
    if not group:
        return True
    local = is_local(model, _api_base(model, config))
    for part in group.split(_GROUP_JOIN):
        rule = _rule(part, config)
        if rule is None:  # a group no rule defines: fail closed rather than send code anywhere
            return False
        if rule.allow == "local":
            if not local:
                return False
        elif not any(
            entry == model or provider_matches(model, entry) or (entry == "local" and local) for entry in rule.allow
        ):
            return False
    return True


def route_chunks(chunks: Sequence[Chunk], config: Config) -> list[Route]:
    return [_route(chunk, config) for chunk in chunks]


def _route(chunk: Chunk, config: Config) -> Route:
    own = tier_models(config, chunk.tier)
    models = [m for m in _unique(own) if model_allowed(m, chunk.group, config)]
    if _local_only(chunk.group, config):
        # Local is the hard constraint, the tier a preference: a frontier chunk may fall
        # back to a local cheap model (and the other way round) rather than go nowhere.
        other = tier_models(config, "cheap" if chunk.tier == "frontier" else "frontier")
        models += [m for m in _unique(other) if m not in models and model_allowed(m, chunk.group, config)]
        if not models:
            return Route(chunk, (), LOCAL_BLOCKED)
    if models:
        return Route(chunk, tuple(models))
    return Route(chunk, (), _blocked_reason(chunk, own, config))


def _blocked_reason(chunk: Chunk, own: tuple[str, ...], config: Config) -> str:
    if not own:
        return f"no model configured for the {chunk.tier} tier (models.{chunk.tier})"
    parts = []
    if chunk.group:
        numbers = [g.removeprefix(_GROUP_PREFIX) for g in chunk.group.split(_GROUP_JOIN)]
        parts.append(f"compliance rule{'s' if len(numbers) > 1 else ''} {' and '.join(numbers)}")
    if config.allowed_providers is not None and not any(model_allowed(m, "", config) for m in own):
        parts.append("allowed_providers")
    return f"no allowed model ({' / '.join(parts)})"


def model_window(config: Config, model: str, context_window: Callable[[str], int | None]) -> int | None:
    """A model's context window in tokens: its endpoint's `max_input_tokens` (a local server's
    n_ctx) when set, else what litellm's price map knows, else None."""
    endpoint = config.endpoints.get(model)
    return endpoint.max_input_tokens if endpoint and endpoint.max_input_tokens else context_window(model)


def chunk_token_budget(config: Config, tier: Tier, context_window: Callable[[str], int | None]) -> int:
    """Tokens of diff text per chunk for a tier: review.max_chunk_tokens, lowered so the
    chunk, the system prompt and the reply fit the smallest known window among the tier's
    models (a failover model must fit too). Local models often have 4k-8k windows."""
    windows = []
    for model in tier_models(config, tier):
        window = model_window(config, model, context_window)
        if window:
            windows.append(window)
    budget = config.review.max_chunk_tokens
    if windows:
        budget = min(budget, min(windows) - SYSTEM_PROMPT_TOKENS - config.review.max_output_tokens)
    return max(MIN_CHUNK_TOKENS, budget)


def _rule(group: str, config: Config) -> ComplianceRule | None:
    number = group.removeprefix(_GROUP_PREFIX)
    if not group.startswith(_GROUP_PREFIX) or not number.isdigit():
        return None
    index = int(number) - 1
    return config.compliance[index] if 0 <= index < len(config.compliance) else None


def _local_only(group: str, config: Config) -> bool:
    rules = [_rule(part, config) for part in group.split(_GROUP_JOIN)] if group else []
    return any(rule is not None and rule.allow == "local" for rule in rules)


def _api_base(model: str, config: Config) -> str | None:
    endpoint = config.endpoints.get(model)
    return endpoint.api_base if endpoint else None


def _unique(models: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(models))


__all__ = [
    "LOCAL_BLOCKED",
    "Route",
    "chunk_token_budget",
    "compliance_group",
    "model_allowed",
    "route_chunks",
    "summary_models",
    "tier_models",
]
