"""Config edits (pure): `override` sets values by dotted key path and validates the result
again; `config_to_yaml` shows the effective config with secret-looking header values and URL
passwords masked."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from ..errors import ConfigError
from .messages import _validate
from .model import Config
from .text import _format_path, _show

# A key, then `.key` or `[key]` parts; brackets hold keys with dots (model names).
_PATH = re.compile(r"(?:[^.\[\]]+|\[[^\]]+\])(?:\.[^.\[\]]+|\[[^\]]+\])*\Z")
_PART = re.compile(r"\[([^\]]+)\]|([^.\[\]]+)")


def _split_path(path: str) -> list[str]:
    """'budget.max_usd' -> [budget, max_usd]; 'endpoints[openai/gpt-5.4-mini].api_base' ->
    [endpoints, openai/gpt-5.4-mini, api_base]."""
    if not _PATH.match(path):
        raise ConfigError(f"override {_show(path)}: not a key path", "use dotted keys, e.g. review.fail_on")
    return [m.group(1) or m.group(2) for m in _PART.finditer(path)]


def override(config: Config, changes: Mapping[str, object] | None = None, /, **more: object) -> Config:
    """A new Config with values set by dotted path, given as a mapping or as keywords:
    override(cfg, {"models.cheap": ["x"], "budget.max_usd": 0.5}). The result is validated
    again, so a bad override is a ConfigError like a bad file."""
    data: dict[str, Any] = config.model_dump(mode="python")
    for dotted, value in {**(changes or {}), **more}.items():
        *parents, leaf = _split_path(dotted)
        node = data
        for i, key in enumerate(parents):
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                where = _format_path(parents[: i + 1])
                raise ConfigError(f"override {_show(dotted)}: {where} is not a section", "set the whole value instead")
            node = child
        node[leaf] = value
    return _validate(data, "overrides")


# --- showing the effective config -----------------------------------------------------------

_SECRET_HEADER = re.compile(r"auth|key|token|secret|cookie|password|session", re.IGNORECASE)


def config_to_yaml(config: Config) -> str:
    """The effective config as YAML, keys in schema order. Keys only ever appear as env var
    names, but a header value or a URL's password may hold a secret: those are masked."""
    data = config.model_dump(mode="json")
    for endpoint in data["endpoints"].values():
        if endpoint["api_base"]:
            endpoint["api_base"] = _mask_url(endpoint["api_base"])
        endpoint["headers"] = {
            name: "***" if _SECRET_HEADER.search(name) else value for name, value in endpoint["headers"].items()
        }
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)


def _mask_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # unparseable: show it as written, there is no password we can find
        return url
    if password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
