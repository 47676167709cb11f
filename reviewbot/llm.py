"""Edge: model calls. One small interface (LLMClient.complete) over litellm, so everything
above it is tested with a fake that records calls. litellm is imported lazily, only when a
model is really called, with LITELLM_LOCAL_MODEL_COST_MAP=True set before the import."""

from __future__ import annotations

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
    "unknown",
]


@dataclass(frozen=True)
class LLMRequest:
    model: str  # litellm model string, e.g. "openai/gpt-4.1-mini", "ollama_chat/qwen2.5-coder:14b"
    messages: tuple[dict[str, str], ...]
    max_tokens: int
    timeout: float
    response_format: dict[str, Any] | None = None  # OpenAI-style {"type": "json_schema", ...} or {"type": "json_object"}
    api_base: str | None = None
    api_key: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LLMResponse:
    text: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int | None = None  # when the provider reports cached prompt tokens
    cost_usd: float | None = None  # provider/litellm-reported cost, None when unknown
    finish_reason: str | None = None  # "stop", "length", ...
    latency_ms: int = 0


class LLMError(Exception):
    def __init__(self, kind: ErrorKind, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after


class LLMClient(Protocol):
    def complete(self, request: LLMRequest) -> LLMResponse:
        """One request, no retries, no failover (the reviewer owns both). Raises LLMError."""
        ...
