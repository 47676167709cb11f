"""Edge (imported only by llm.py, lazily, with litellm): the HTTP transport every
OpenAI-compatible model request goes through. It enforces what a hostile or broken endpoint
must not be able to do:

- follow a redirect: a 3xx is refused, never followed, so a "local" endpoint answering 307
  cannot deliver the request body (the code under review) to another host;
- send an unbounded reply: the body is counted while it is read and reading stops at
  `MAX_REPLY_BYTES` (eight concurrent 54 MB replies once took 4 GB of memory);
- trickle: one deadline per request (the `timeout` the request was given), not per read; at
  the deadline the socket is shut down, whatever the server is still sending.

The deadline of the request on this thread is set by `deadline(seconds)` around the call."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx

MAX_REPLY_BYTES = 8 * 1024 * 1024  # a 4,096-token reply is ~20 KB: 8 in flight stay under 64 MB

_local = threading.local()


class TransportRefusal(httpx.TransportError):
    """The endpoint answered something reviewbot will not accept. `reviewbot_kind` is the
    LLMError kind llm.classify gives it."""

    reviewbot_kind = "unknown"


class DeadlineExceeded(httpx.ReadTimeout):
    reviewbot_kind = "timeout"


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Requests sent by this thread inside the block must be complete within `seconds`."""
    previous = getattr(_local, "deadline", None)
    _local.deadline = (time.monotonic() + seconds, seconds)
    try:
        yield
    finally:
        _local.deadline = previous


class GuardedTransport(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport | None = None, max_bytes: int = MAX_REPLY_BYTES) -> None:
        self.inner = inner or httpx.HTTPTransport()
        self.max_bytes = max_bytes

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        limit = getattr(_local, "deadline", None)
        if limit is not None:
            _shorten_timeouts(request, limit[0] - time.monotonic())
        response = self.inner.handle_request(request)
        if 300 <= response.status_code < 400:
            response.close()
            where = httpx.URL(response.headers.get("location", "")).host or "another address"
            raise TransportRefusal(
                f"the model endpoint answered a redirect ({response.status_code} to {where}); "
                "reviewbot does not follow redirects from a model endpoint: set api_base to the final URL",
                request=request)
        timer = _watchdog(response, limit)
        stream = _GuardedStream(response.stream, self.max_bytes, limit, timer, request)
        return httpx.Response(response.status_code, headers=response.headers, stream=stream,
                              extensions=response.extensions, request=request)

    def close(self) -> None:
        self.inner.close()


def _shorten_timeouts(request: httpx.Request, remaining: float) -> None:
    """No single connect/read/write wait may outlast the request's remaining time."""
    remaining = max(0.01, remaining)
    timeouts = dict(request.extensions.get("timeout") or {})
    for name in ("connect", "read", "write", "pool"):
        current = timeouts.get(name)
        timeouts[name] = remaining if current is None else min(float(current), remaining)
    request.extensions["timeout"] = timeouts


def _watchdog(response: httpx.Response, limit: tuple[float, float] | None) -> _Watchdog | None:
    if limit is None:
        return None
    stream: Any = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if not isinstance(sock, socket.socket):
        return None
    return _Watchdog(sock, limit[0] - time.monotonic())


class _Watchdog:
    """Shuts the socket down at the deadline: a read blocked on a trickling server returns."""

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self.fired = threading.Event()
        self._sock = sock
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


class _GuardedStream(httpx.SyncByteStream):
    def __init__(self, inner: Any, max_bytes: int, limit: tuple[float, float] | None,
                 timer: _Watchdog | None, request: httpx.Request) -> None:
        self.inner = inner
        self.max_bytes = max_bytes
        self.limit = limit
        self.timer = timer
        self.request = request

    def __iter__(self) -> Iterator[bytes]:
        seen = 0
        try:
            for part in self.inner:
                seen += len(part)
                self._check_deadline()
                if seen > self.max_bytes:
                    raise TransportRefusal(
                        f"the model endpoint's reply is larger than {self.max_bytes // (1024 * 1024)} MiB: "
                        "reading stopped", request=self.request)
                yield part
        except httpx.TransportError as exc:
            if isinstance(exc, TransportRefusal):
                raise
            self._check_deadline()
            raise
        self._check_deadline()

    def _check_deadline(self) -> None:
        if self.limit is None:
            return
        fired = self.timer is not None and self.timer.fired.is_set()
        if fired or time.monotonic() > self.limit[0]:
            raise DeadlineExceeded(
                f"no complete reply within the {self.limit[1]:g} s request deadline", request=self.request)

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        closer = getattr(self.inner, "close", None)
        if closer is not None:
            closer()


def client() -> httpx.Client:
    """The client litellm's OpenAI-compatible calls use (litellm.client_session)."""
    return httpx.Client(transport=GuardedTransport(), follow_redirects=False, trust_env=True)
