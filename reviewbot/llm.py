"""Edge: model calls. One small interface (LLMClient.complete) over litellm, so everything
above it is tested with a fake that records calls. litellm is imported lazily, only when a
model is really called, with LITELLM_LOCAL_MODEL_COST_MAP=True set before the import.
Also the pure connection rules: which api_base, key variable, headers and timeout a model uses."""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlsplit

from .errors import MissingKeyError
from .providers import LOCAL_PROVIDERS, is_local, key_env_for, provider_of
from .textutil import retry_after_seconds

if TYPE_CHECKING:
    from .config import EndpointConfig

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
    response_format: dict[str, Any] | None = None  # OpenAI-style {"type": "json_schema", ...} or {"type": "json_object"}
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
            from .transport import guarded_client

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

            from .transport import guarded_client

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
    if (api_key is None and request.api_base and is_local(request.model, request.api_base)
            and provider_of(request.model) not in LOCAL_PROVIDERS):
        api_key = _LOCAL_PLACEHOLDER_KEY
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


# -- error classification ---------------------------------------------------------------------

def classify(exc: BaseException) -> LLMError:
    """Map a litellm (or SDK, or transport) exception to an LLMError kind. Order matters:
    litellm.Timeout subclasses APIConnectionError and ContextWindowExceededError subclasses
    BadRequestError."""
    status = _status(exc)
    message = _message(exc)
    kind = _kind(exc, status)
    retry_after = _retry_after(exc) if kind == "rate_limit" else None
    if kind in ("connection", "timeout"):
        status = None  # litellm reports transport failures with a made-up 500 or 408
    if kind == "connection":
        message = _with_root_cause(exc, message)
    # litellm's native handlers wrap a 3xx as a "connection error" with a made-up 500.
    moved = next((s for e in _chain(exc) if isinstance(s := getattr(e, "status_code", None), int)
                  and 300 <= s < 400), None)
    if moved is not None:
        kind, status = "redirect", moved
    too_large = next((e for e in _chain(exc) if type(e).__name__ == "ReplyTooLarge"), None)
    if too_large is not None:
        kind, message = "connection", str(too_large)
    if kind == "redirect":
        message = f"the endpoint answered with a redirect (HTTP {status}); redirects are never followed"
    if kind == "timeout":  # the client's decision, not the server's: a local server keeps going
        message = f"{GAVE_UP}: {message}"
    return LLMError(kind, message, status=status, retry_after=retry_after)


GAVE_UP = "reviewbot gave up waiting, the server may still be generating (its tokens are spent)"


def _with_root_cause(exc: BaseException, message: str) -> str:
    """"Connection error." alone does not say whether the server is down or hung up."""
    root = [e for e in _chain(exc) if _is_connection(e) and str(e)][-1:]
    detail = " ".join(str(root[0]).split()) if root else ""
    return f"{message} ({detail})" if detail and detail not in message else message


def _kind(exc: BaseException, status: int | None) -> ErrorKind:
    litellm = sys.modules.get("litellm")  # a litellm exception implies litellm is loaded
    if litellm is not None:
        kind = _litellm_kind(litellm, exc)
        if kind is not None:
            return kind
    if _in_chain(exc, _is_timeout):
        return "timeout"
    if _in_chain(exc, _is_connection):
        return "connection"
    return _kind_from_status(status)


def _litellm_kind(litellm: ModuleType, exc: BaseException) -> ErrorKind | None:
    if isinstance(exc, litellm.RateLimitError):
        return "rate_limit"
    if isinstance(exc, litellm.ContextWindowExceededError):
        return "context"
    if isinstance(exc, litellm.Timeout):
        return "timeout"
    if isinstance(exc, litellm.APIConnectionError):
        return "timeout" if _in_chain(exc, _is_timeout) else "connection"
    if isinstance(exc, (litellm.InternalServerError, litellm.ServiceUnavailableError,
                        litellm.BadGatewayError, litellm.APIError)):
        # Connection refused and a dropped connection surface as InternalServerError
        # ("Connection error.") with the httpx/socket error further down the chain.
        if _in_chain(exc, _is_timeout):
            return "timeout"
        if _in_chain(exc, _is_connection):
            return "connection"
        return None  # decided by status: litellm.APIError carries 403, 404, 5xx...
    if isinstance(exc, (litellm.AuthenticationError, litellm.PermissionDeniedError)):
        return "auth"
    if isinstance(exc, litellm.BadRequestError):
        return "bad_request"
    return None


def _kind_from_status(status: int | None) -> ErrorKind:
    if status is None:
        return "unknown"
    if status == 429:
        return "rate_limit"
    if status in (401, 403):
        return "auth"
    if status == 408:
        return "timeout"
    if 300 <= status < 400:
        return "redirect"
    if status >= 500:
        return "server"
    if status in (400, 422):
        return "bad_request"
    return "unknown"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack and len(seen) < 32:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        original = getattr(current, "original_exception", None)
        stack.extend([current.__cause__, current.__context__,
                      original if isinstance(original, BaseException) else None])


def _in_chain(exc: BaseException, test: Any) -> bool:
    return any(test(e) for e in _chain(exc))


def _is_timeout(exc: BaseException) -> bool:
    name = type(exc).__name__
    return isinstance(exc, TimeoutError) or name in ("APITimeoutError", "Timeout") or name.endswith(
        ("TimeoutException", "ReadTimeout", "ConnectTimeout", "WriteTimeout", "PoolTimeout"))


def _is_connection(exc: BaseException) -> bool:
    """The SDK's APIConnectionError, httpx/httpcore transport errors, or a socket error."""
    name = type(exc).__name__
    module = type(exc).__module__.split(".")[0]
    return (isinstance(exc, ConnectionError)
            or (module == "openai" and name == "APIConnectionError")
            or (module in ("httpx", "httpcore", "httpx2") and name in (
                "ConnectError", "RemoteProtocolError", "ReadError", "WriteError", "NetworkError")))


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


# litellm stacks class names in front of the provider's text:
# "litellm.ContextWindowExceededError: litellm.BadRequestError: ContextWindowExceededError: ..."
_LITELLM_PREFIX = re.compile(r"^(?:litellm\.\w+:\s*)+(?:\w+Error:\s*)*")


def _message(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    line = _LITELLM_PREFIX.sub("", " ".join(str(text).split())) or type(exc).__name__
    return line if len(line) <= 300 else line[:297] + "..."


def _retry_after(exc: BaseException) -> float | None:
    """Seconds from `retry-after-ms`, `retry-after` (seconds or an HTTP date), if present."""
    for source in (getattr(exc, "litellm_response_headers", None),
                   getattr(getattr(exc, "response", None), "headers", None),
                   getattr(exc, "headers", None)):
        if not source:
            continue
        headers = {str(k).lower(): str(v) for k, v in source.items()}
        seconds = _parse_retry_after(headers)
        if seconds is not None:
            return seconds
    return None


def _parse_retry_after(headers: Mapping[str, str]) -> float | None:
    if "retry-after-ms" in headers:
        try:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    return None if value is None else retry_after_seconds(value, time.time())


# -- connection resolution (pure) --------------------------------------------------------------

_MISSING_KEY_HINT = "or run with --dry-run to see the plan without calling a model"
# Local OpenAI-compatible servers need no key, but the OpenAI SDK refuses to start without one
# and litellm would otherwise fall back to OPENAI_API_KEY, sending a real key to the local server.
_LOCAL_PLACEHOLDER_KEY = "no-key-needed"
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


def resolve_connection(model: str, endpoints: Mapping[str, EndpointConfig], env: Mapping[str, str],
                       default_timeout: float) -> Connection:
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


def missing_keys(models: Iterable[str], endpoints: Mapping[str, EndpointConfig],
                 env: Mapping[str, str]) -> list[tuple[str, str]]:
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
