"""Model calls, where they go (pure): which api_base, key variable, headers and timeout a
model uses, which keys are missing, and the host named in the audit log."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..errors import MissingKeyError
from ..providers import is_local, key_env_for, provider_of

if TYPE_CHECKING:
    from ..config import EndpointConfig

# -- connection resolution (pure) --------------------------------------------------------------

_MISSING_KEY_HINT = "or run with --dry-run to see the plan without calling a model"
# Local OpenAI-compatible servers need no key, but the OpenAI SDK refuses to start without one
# and litellm would otherwise fall back to OPENAI_API_KEY, sending a real key to the local server.
LOCAL_PLACEHOLDER_KEY = "no-key-needed"
_OLLAMA_PROVIDERS = frozenset({"ollama", "ollama_chat"})


@dataclass(frozen=True)
class Connection:
    """Where and how one model is called. `key_env` names the variable the key came from, so an
    authentication failure can say which variable to fix; None when no key is needed."""

    api_base: str | None
    api_key: str | None
    headers: Mapping[str, str]
    timeout: float
    key_env: str | None


def _api_base(model: str, endpoint: EndpointConfig | None, env: Mapping[str, str]) -> str | None:
    if endpoint is not None and endpoint.api_base:
        return endpoint.api_base
    if provider_of(model) in _OLLAMA_PROVIDERS and env.get("OLLAMA_API_BASE"):
        return env["OLLAMA_API_BASE"]
    return None


def _key_env(model: str, endpoint: EndpointConfig | None, api_base: str | None) -> str | None:
    """The variable the model's key must come from; None when no key is needed (or litellm
    finds its own credentials, as for providers with no conventional key variable)."""
    if endpoint is not None and endpoint.api_key_env:
        return endpoint.api_key_env
    if is_local(model, api_base):
        return None
    return key_env_for(model)


def resolve_connection(
    model: str, endpoints: Mapping[str, EndpointConfig], env: Mapping[str, str], default_timeout: float
) -> Connection:
    """Endpoint settings first, then the provider's conventions. Raises MissingKeyError."""
    endpoint = endpoints.get(model)
    api_base = _api_base(model, endpoint, env)
    key_env = _key_env(model, endpoint, api_base)
    api_key: str | None = None
    if key_env is not None:
        api_key = env.get(key_env) or None
        if api_key is None:
            raise MissingKeyError(f"no API key for {model}: set {key_env}", hint=_MISSING_KEY_HINT)
    timeout = endpoint.timeout if endpoint is not None and endpoint.timeout else default_timeout
    headers = dict(endpoint.headers) if endpoint is not None else {}
    return Connection(api_base=api_base, api_key=api_key, headers=headers, timeout=timeout, key_env=key_env)


def missing_keys(
    models: Iterable[str], endpoints: Mapping[str, EndpointConfig], env: Mapping[str, str]
) -> list[tuple[str, str]]:
    """(model, variable) for every model whose key is not set, in order, each model once."""
    missing: list[tuple[str, str]] = []
    for model in dict.fromkeys(models):
        endpoint = endpoints.get(model)
        key_env = _key_env(model, endpoint, _api_base(model, endpoint, env))
        if key_env is not None and not env.get(key_env):
            missing.append((model, key_env))
    return missing


def endpoint_host(api_base: str | None, model: str) -> str:
    """What the audit log says a request went to: host[:port] of the api_base (never the
    userinfo part, which may hold credentials), or the provider name for its default endpoint."""
    if not api_base:
        return provider_of(model)
    parts = urlsplit(api_base if "://" in api_base else f"http://{api_base}")
    host = parts.hostname or api_base
    return f"{host}:{parts.port}" if parts.port else host
