"""Support (pure): what a litellm model string says about its provider. Input: a model
string such as "anthropic/claude-opus-4-1" and, optionally, the endpoint's api_base.
Output: provider name, the conventional key variable, and whether the endpoint is local
(loopback, private address, or Ollama), which compliance rules depend on."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

# The environment variable each provider's key is conventionally read from.
KEY_ENV: dict[str, str] = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "groq": "GROQ_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "xai": "XAI_API_KEY",
    "azure": "AZURE_API_KEY",
    "together_ai": "TOGETHERAI_API_KEY",
}

# Providers that run on the user's machine and need no key.
LOCAL_PROVIDERS = frozenset({"ollama", "ollama_chat", "lm_studio", "llamafile", "hosted_vllm"})

# Bare model names litellm routes without a prefix.
_BARE_PREFIXES = (
    ("gpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
    ("claude-", "anthropic"),
    ("gemini-", "gemini"),
)


def provider_of(model: str) -> str:
    """ "anthropic/claude-opus-4-1" -> "anthropic"; "gpt-4.1-mini" -> "openai"."""
    if "/" in model:
        return model.split("/", 1)[0].lower()
    for prefix, provider in _BARE_PREFIXES:
        if model.startswith(prefix):
            return provider
    return "openai"


def key_env_for(model: str) -> str | None:
    """The conventional API-key variable for the model's provider; None for local providers."""
    provider = provider_of(model)
    if provider in LOCAL_PROVIDERS:
        return None
    return KEY_ENV.get(provider)


def is_local_host(host: str) -> bool:
    if host in ("localhost", "host.docker.internal") or host.endswith(".local"):
        return True
    try:
        addr = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return addr.is_loopback or addr.is_private or addr.is_link_local


def is_local(model: str, api_base: str | None) -> bool:
    """Local means: an endpoint on a loopback or private address, or an Ollama model with no
    remote api_base. A cloud provider prefix behind a local api_base (a local gateway or
    llama.cpp speaking the OpenAI protocol) counts as local: the code stays on the network."""
    if api_base:
        host = urlsplit(api_base if "://" in api_base else f"http://{api_base}").hostname or ""
        return is_local_host(host)
    return provider_of(model) in LOCAL_PROVIDERS


# litellm has several prefixes for one provider; a rule naming the family admits them all.
_FAMILY = {"ollama_chat": "ollama", "hosted_vllm": "vllm", "vertex_ai": "gemini"}


def provider_matches(model: str, name: str) -> bool:
    """Does `name` (as written in allowed_providers or a compliance rule) cover `model`?
    `ollama` covers both `ollama/` and `ollama_chat/` models."""
    provider = provider_of(model)
    wanted = name.lower()
    return wanted == provider or wanted == _FAMILY.get(provider)
