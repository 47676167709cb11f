"""Model calls: one small interface (`LLMClient.complete`) over litellm, so everything above
it is tested with a fake that records calls. `api` is the interface, `client` the litellm
edge, `classify` the failures, `connection` where each model's requests go."""

from __future__ import annotations

from .api import ErrorKind, LLMClient, LLMError, LLMRequest, LLMResponse
from .classify import GAVE_UP, classify
from .client import LiteLLMClient
from .connection import Connection, endpoint_host, missing_keys, resolve_connection

__all__ = [
    "GAVE_UP",
    "Connection",
    "ErrorKind",
    "LLMClient",
    "LLMError",
    "LLMRequest",
    "LLMResponse",
    "LiteLLMClient",
    "classify",
    "endpoint_host",
    "missing_keys",
    "resolve_connection",
]
