"""Config checks (pure apart from the `loopback` callback the edge passes): run-time rules on
a loaded Config and the environment. A key never goes over plain http:// to another host
unless the endpoint opts in; a key variable holding the GitHub token is refused."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from ..errors import ConfigError
from ..providers import KEY_ENV
from .model import Config


def _loopback_name(host: str) -> bool:
    return host == "localhost" or host.startswith("127.") or host == "::1"


def check_transport(
    config: Config, env: Mapping[str, str], loopback: Callable[[str], bool] = _loopback_name
) -> list[str]:
    """A key never travels over plain http:// to a host other than this machine, unless the
    endpoint opts in (`allow_insecure_http: true`); then a note says so. `loopback` tells
    whether a host is this machine (the edge passes one that resolves the name)."""
    from ..providers import provider_of

    notes: list[str] = []
    for model, endpoint in config.endpoints.items():
        base = endpoint.api_base or ""
        host = (urlsplit(base).hostname or "").lower() if base.lower().startswith("http://") else ""
        if not host or _loopback_name(host) or loopback(host):
            continue
        key_env = endpoint.api_key_env or KEY_ENV.get(provider_of(model))
        if not key_env or not env.get(key_env):
            continue  # no key goes with the request
        if not endpoint.allow_insecure_http:
            raise ConfigError(
                f"endpoints.{model}.api_base: {base} is plain http to {host}, so the key in {key_env} would travel unencrypted",
                "use https, or set allow_insecure_http: true on this endpoint if the network is trusted",
            )
        notes.append(f"the key for {model} is sent over plain http to {host} (allow_insecure_http)")
    return notes


def check_key_sources(config: Config, env: Mapping[str, str]) -> None:
    """At run time: a key variable whose value is the GitHub token is refused (exit 2)."""
    github = {env[n] for n in ("GITHUB_TOKEN", "GH_TOKEN") if env.get(n)}
    for model, endpoint in config.endpoints.items():
        name = endpoint.api_key_env
        if name and github and env.get(name) in github:
            raise ConfigError(
                f"endpoints.{model}.api_key_env: {name} holds the GitHub token, which is never sent to a model",
                "point api_key_env at the provider's key",
            )
