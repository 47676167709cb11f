"""Model calls, their failures (pure): a litellm, SDK or transport exception mapped to one
`LLMError` kind (rate limit, server, timeout, connection, auth, context, bad request,
redirect), with the status, a one-line message and a retry-after when there is one."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator, Mapping
from types import ModuleType
from typing import Any

from ..textutil import retry_after_seconds
from .api import ErrorKind, LLMError

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
    moved = next(
        (s for e in _chain(exc) if isinstance(s := getattr(e, "status_code", None), int) and 300 <= s < 400), None
    )
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
    """ "Connection error." alone does not say whether the server is down or hung up."""
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
    if isinstance(
        exc, (litellm.InternalServerError, litellm.ServiceUnavailableError, litellm.BadGatewayError, litellm.APIError)
    ):
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
        stack.extend(
            [current.__cause__, current.__context__, original if isinstance(original, BaseException) else None]
        )


def _in_chain(exc: BaseException, test: Any) -> bool:
    return any(test(e) for e in _chain(exc))


def _is_timeout(exc: BaseException) -> bool:
    name = type(exc).__name__
    return (
        isinstance(exc, TimeoutError)
        or name in ("APITimeoutError", "Timeout")
        or name.endswith(("TimeoutException", "ReadTimeout", "ConnectTimeout", "WriteTimeout", "PoolTimeout"))
    )


def _is_connection(exc: BaseException) -> bool:
    """The SDK's APIConnectionError, httpx/httpcore transport errors, or a socket error."""
    name = type(exc).__name__
    module = type(exc).__module__.split(".")[0]
    return (
        isinstance(exc, ConnectionError)
        or (module == "openai" and name == "APIConnectionError")
        or (
            module in ("httpx", "httpcore", "httpx2")
            and name in ("ConnectError", "RemoteProtocolError", "ReadError", "WriteError", "NetworkError")
        )
    )


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
    for source in (
        getattr(exc, "litellm_response_headers", None),
        getattr(getattr(exc, "response", None), "headers", None),
        getattr(exc, "headers", None),
    ):
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
