"""Config defaults (pure: the environment is passed in as a mapping): default models for
empty `models.cheap`/`models.frontier`, from the first provider whose key is set, with a
note saying what was chosen and why."""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Final

from ..errors import ConfigError
from ..providers import KEY_ENV, is_local
from .edit import override
from .model import TIERS, Config

# provider -> (cheap, frontier). Checked against litellm 1.110.2's bundled price map: every
# pair is a chat model with response-schema support and no deprecation date (gpt-5/-mini,
# gemini-2.5-* and claude-sonnet-4-5 are listed for retirement by early 2027, so not these).
# The map has no openrouter/ entries: OpenRouter cost stays "unknown" unless `prices:` sets it.
DEFAULT_MODELS: Final[Mapping[str, tuple[str, str]]] = types.MappingProxyType(
    {
        "anthropic": ("anthropic/claude-haiku-5-5", "anthropic/claude-opus-5-5"),
        "openai": ("openai/gpt-5.4-mini", "openai/gpt-5.5"),
        "gemini": ("gemini/gemini-3.8-flash", "gemini/gemini-pro-latest"),
        "openrouter": ("openrouter/openai/gpt-5.4-mini", "openrouter/openai/gpt-5.5"),
        "ollama": ("ollama_chat/qwen2.5-coder:7b", "ollama_chat/qwen2.5-coder:32b"),
    }
)
OLLAMA_ENV: Final = "OLLAMA_API_BASE"
OLLAMA_DEFAULT_BASE: Final = "http://localhost:11434"
# The order a provider is picked in when several keys are set.
PROVIDER_ORDER: Final = ("anthropic", "openai", "gemini", "openrouter", "ollama")
FALLBACK_PROVIDER: Final = "openai"


def _env_var(provider: str) -> str:
    return OLLAMA_ENV if provider == "ollama" else KEY_ENV[provider]


def _allowed(provider: str, allowed: list[str] | None) -> bool:
    if allowed is None:
        return True
    names = {name.lower() for name in allowed}
    return provider in names or (provider == "ollama" and "ollama_chat" in names)


def resolve_models(config: Config, env: Mapping[str, str]) -> tuple[Config, list[str]]:
    """Fill empty `models.cheap`/`models.frontier` from the first provider whose key is in
    `env` (ANTHROPIC, OPENAI, GEMINI, OPENROUTER, then OLLAMA_API_BASE), skipping providers
    `allowed_providers` excludes. Returns the new config and notes saying what was chosen
    and why. Configured lists are never touched."""
    missing = [tier for tier in TIERS if not getattr(config.models, tier)]
    if not missing:
        return config, []
    local = _local_tier(config, missing)
    if local is not None:
        return local
    provider, reason = _pick_provider(config, env, missing)
    pair = dict(zip(TIERS, DEFAULT_MODELS[provider], strict=True))
    changes: dict[str, object] = {f"models.{tier}": [pair[tier]] for tier in missing}
    if provider == "ollama":
        changes.update(_ollama_changes(config, [pair[tier] for tier in missing], env))
    chosen = " and ".join(f"{pair[tier]} ({tier})" for tier in missing)
    what = "models" if len(missing) == 2 else f"models.{missing[0]}"
    return override(config, changes), [f"{what} not configured: using {chosen} {reason}"]


def _local_tier(config: Config, missing: list[str]) -> tuple[Config, list[str]] | None:
    """One tier configured with local models only (a llama.cpp or Ollama server) and the
    other left out: the other takes the same models, never a cloud default — code the user
    keeps on this machine must not go to a provider because one line was not written."""
    if len(missing) != 1:
        return None
    given = getattr(config.models, "frontier" if missing[0] == "cheap" else "cheap")
    endpoints = config.endpoints
    if not all(is_local(m, endpoints[m].api_base if m in endpoints else None) for m in given):
        return None
    note = (
        f"models.{missing[0]} not configured: using the same local models as the other tier "
        f"({', '.join(given)}), so nothing leaves this machine; set models.{missing[0]} to use another"
    )
    return override(config, {f"models.{missing[0]}": list(given)}), [note]


def _pick_provider(config: Config, env: Mapping[str, str], missing: list[str]) -> tuple[str, str]:
    """(provider, "because ...") for the defaults; an empty variable counts as unset."""
    candidates = [p for p in PROVIDER_ORDER if _allowed(p, config.allowed_providers)]
    if not candidates:
        raise ConfigError(
            f"models.{' and models.'.join(missing)} not configured, and allowed_providers "
            f"{config.allowed_providers} has no default models",
            "set models.cheap and models.frontier in .reviewbot.yml",
        )
    excluded = [
        f"{_env_var(p)} is set but allowed_providers excludes {p}"
        for p in PROVIDER_ORDER
        if p not in candidates and env.get(_env_var(p))
    ]
    provider = next((p for p in candidates if env.get(_env_var(p))), None)
    if provider is not None:
        reason = f"because {_env_var(provider)} is set"
    else:
        provider = FALLBACK_PROVIDER if FALLBACK_PROVIDER in candidates else candidates[0]
        looked = ", ".join(_env_var(p) for p in candidates)
        reason = f"because no provider key was found (looked for {looked})"
    return provider, "; ".join([reason, *excluded])


def _ollama_changes(config: Config, models: list[str], env: Mapping[str, str]) -> dict[str, object]:
    """Local models need an api_base and cost nothing; keep whatever the user configured."""
    base = env.get(OLLAMA_ENV) or OLLAMA_DEFAULT_BASE
    changes: dict[str, object] = {}
    for model in models:
        if model not in config.endpoints:
            changes[f"endpoints[{model}]"] = {"api_base": base}
        if model not in config.prices:
            changes[f"prices[{model}]"] = {"input": 0.0, "output": 0.0}
    return changes
