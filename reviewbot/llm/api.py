"""Model calls, the interface (pure): the request, the reply, the error kinds and the
`LLMClient` protocol everything above the edge is written against (tests use a recording
fake; `client.LiteLLMClient` is the real one)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

ErrorKind = Literal[
    "rate_limit",  # 429: fail over at once, nothing is paid twice
    "server",  # 5xx
    "timeout",
    "connection",
    "auth",  # 401/403: reported with the variable to fix, never failed over silently
    "context",  # context window exceeded
    "bad_request",  # 400 other than context (e.g. response_format unsupported)
    "redirect",  # 3xx: never followed, the body must not go elsewhere
    "unknown",
]


@dataclass(frozen=True)
class LLMRequest:
    model: str  # litellm model string, e.g. "openai/gpt-4.1-mini", "ollama_chat/qwen2.5-coder:14b"
    messages: tuple[dict[str, str], ...]
    max_tokens: int
    timeout: float
    response_format: dict[str, Any] | None = (
        None  # OpenAI-style {"type": "json_schema", ...} or {"type": "json_object"}
    )
    api_base: str | None = None
    api_key: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Spend labels for a gateway (repository, pr, run_id, tier, chunk_id): sent in the body as
    # LiteLLM proxy's `metadata` (with `tags` "key:value") only when set, i.e. to gateways.
    labels: Mapping[str, str] | None = None


@dataclass(frozen=True)
class LLMResponse:
    text: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int | None = None  # when the provider reports cached prompt tokens
    cost_usd: float | None = None  # provider/litellm-reported cost, None when unknown
    finish_reason: str | None = None  # "stop", "length", ...
    latency_ms: int = 0
    # False when the provider's usage was missing parts, negative or absurd: token counts are
    # then 0 and the caller charges its own worst-case estimate instead.
    usage_reported: bool = True


class LLMError(Exception):
    def __init__(
        self, kind: ErrorKind, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after


class LLMClient(Protocol):
    def complete(self, request: LLMRequest) -> LLMResponse:
        """One request, no retries, no failover (the reviewer owns both). Raises LLMError."""
        ...
