"""Edge: model calls through litellm. litellm is imported lazily, only when a model is
really called, with LITELLM_LOCAL_MODEL_COST_MAP=True set before the import; our transport
sits under its HTTP clients; no retries hide inside the SDK."""

from __future__ import annotations

import os
import threading
import time
from types import ModuleType
from typing import Any

from ..providers import LOCAL_PROVIDERS, is_local, provider_of
from .api import LLMError, LLMRequest, LLMResponse
from .classify import classify
from .connection import LOCAL_PLACEHOLDER_KEY

# -- the litellm client (edge) ------------------------------------------------------------------

_LITELLM: ModuleType | None = None
_IMPORT_LOCK = threading.Lock()  # the reviewer's worker threads may all arrive at once


def _litellm() -> ModuleType:
    """Import litellm once, quietly and offline (the import takes seconds: only on a real call)."""
    global _LITELLM
    with _IMPORT_LOCK:
        if _LITELLM is None:
            # Without this litellm fetches its price map over the network at import (a hanging
            # network adds ~5 s); it must be the string "True"/"true", "1" is ignored.
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            # Otherwise every failed attempt prints a ~60-line traceback on stderr.
            os.environ.setdefault("LITELLM_LOG", "CRITICAL")
            import litellm

            litellm.suppress_debug_info = True  # stops the "Provider List" line on stdout
            from ..transport import guarded_client

            # OpenAI-compatible calls (OpenAI, gateways, local servers) go through our transport:
            # no redirect followed, reply size capped while read, one deadline per request.
            litellm.client_session = guarded_client()
            _LITELLM = litellm
        return _LITELLM


# Providers litellm calls with its own httpx handler rather than the OpenAI SDK: they are
# handed one whose client has our transport (no redirects, capped replies, one deadline).
# OpenAI-compatible providers get it through litellm.client_session (above).
_NATIVE_HTTP_PROVIDERS = frozenset({"anthropic", "gemini", "ollama", "ollama_chat"})
_NATIVE: Any = None


def _native_handler() -> Any:
    global _NATIVE
    with _IMPORT_LOCK:
        if _NATIVE is None:
            from litellm.llms.custom_httpx.http_handler import HTTPHandler

            from ..transport import guarded_client

            _NATIVE = HTTPHandler(client=guarded_client(), follow_redirects=False)
        return _NATIVE


class LiteLLMClient:
    """LLMClient over litellm.completion. Per-call settings only: several providers and
    endpoints are used in one run, so module globals (api_base, api_key, retries) stay untouched."""

    def complete(self, request: LLMRequest) -> LLMResponse:
        litellm = _litellm()
        kwargs = _completion_kwargs(request)
        if provider_of(request.model) in _NATIVE_HTTP_PROVIDERS:
            kwargs["client"] = _native_handler()
        started = time.monotonic()
        try:
            response = litellm.completion(**kwargs)
        except Exception as exc:  # any failure inside litellm or the SDK becomes an LLMError
            raise _scrub(classify(exc), request.api_key) from exc
        latency_ms = round((time.monotonic() - started) * 1000)
        try:
            return _to_response(response, latency_ms)
        except (AttributeError, IndexError, TypeError) as exc:
            raise LLMError("unknown", f"unexpected response shape: {exc}") from exc


def _completion_kwargs(request: LLMRequest) -> dict[str, Any]:
    api_key = request.api_key
    if (
        api_key is None
        and request.api_base
        and is_local(request.model, request.api_base)
        and provider_of(request.model) not in LOCAL_PROVIDERS
    ):
        api_key = LOCAL_PLACEHOLDER_KEY
    kwargs: dict[str, Any] = {
        "model": request.model,
        "messages": [dict(m) for m in request.messages],  # litellm may rewrite messages in place
        "max_tokens": request.max_tokens,
        # litellm's default is 6,000 s: a stuck provider would hang the run.
        "timeout": request.timeout,
        # The OpenAI SDK underneath retries twice by default, so a 429 would be paid for three
        # times and failover delayed: the reviewer owns retries. litellm hands max_retries to
        # the SDK client (llms/openai/openai.py: OpenAI(max_retries=...)).
        "max_retries": 0,
        "api_base": request.api_base,
        "api_key": api_key,
    }
    if request.headers:
        kwargs["extra_headers"] = dict(request.headers)
    if request.response_format is not None:
        kwargs["response_format"] = request.response_format
    if request.labels:
        # litellm keeps its own `metadata` argument for its callbacks; what goes in extra_body
        # reaches the server's JSON body, where LiteLLM proxy reads metadata.tags for spend.
        labels = dict(request.labels)
        kwargs["extra_body"] = {"metadata": {**labels, "tags": [f"{k}:{v}" for k, v in labels.items()]}}
    return kwargs


def _to_response(response: Any, latency_ms: int) -> LLMResponse:
    choice = response.choices[0]
    usage = getattr(response, "usage", None)
    hidden = getattr(response, "_hidden_params", None) or {}
    cost = hidden.get("response_cost")
    prompt = _token_count(getattr(usage, "prompt_tokens", None))
    completion = _token_count(getattr(usage, "completion_tokens", None))
    cached = _cached_tokens(usage)
    sane = prompt is not None and completion is not None and (cached is None or 0 <= cached <= prompt)
    return LLMResponse(
        text=choice.message.content or "",
        input_tokens=prompt if sane and prompt is not None else 0,
        output_tokens=completion if sane and completion is not None else 0,
        cached_tokens=cached if sane else None,
        cost_usd=float(cost) if sane and isinstance(cost, (int, float)) and 0 <= cost < 1_000_000 else None,
        finish_reason=getattr(choice, "finish_reason", None),
        latency_ms=latency_ms,
        usage_reported=sane,
    )


# No single request has this many tokens: a count above it is a broken or hostile endpoint.
MAX_REPORTED_TOKENS = 10_000_000


def _token_count(value: Any) -> int | None:
    """A reported token count, or None when missing, negative, fractional or absurd."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if value != value or value < 0 or value > MAX_REPORTED_TOKENS or int(value) != value:
        return None
    return int(value)


def _cached_tokens(usage: Any) -> int | None:
    """OpenAI reports usage.prompt_tokens_details.cached_tokens; Anthropic reports
    cache_read_input_tokens (litellm usually copies it into the details, not always)."""
    details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None)
    if cached is None:
        cached = getattr(usage, "cache_read_input_tokens", None)
    return int(cached) if isinstance(cached, int) else None


def _scrub(error: LLMError, api_key: str | None) -> LLMError:
    """Provider messages sometimes echo the key ("Incorrect API key provided: sk-...")."""
    if api_key and len(api_key) >= 8 and api_key in error.message:
        error.message = error.message.replace(api_key, "***")
        error.args = (error.message,)
    return error
