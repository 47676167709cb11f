"""Edge: the HTTP transport under litellm's OpenAI-compatible clients (OpenAI, gateways, local
servers). litellm builds those clients with `follow_redirects=True`; here a redirect is
never followed (a "local" endpoint answering 307 must not deliver the code elsewhere), a
reply body is capped while it is read (not after: eight concurrent 54 MB replies reached 4 GB),
and a request has one deadline for the whole body, not one per read (a trickling server held a
5 s request for 70 s). Installed once, when litellm is first imported."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx

MAX_REPLY_BYTES = 8 * 1024 * 1024  # a review reply is a few KB; 8 MB is far beyond any real one
REDIRECTS = frozenset({301, 302, 303, 307, 308})


class ReplyTooLarge(httpx.ReadError):
    pass


class _Guarded(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, request: httpx.Request, deadline: float | None, limit: int) -> None:
        self._inner, self._request, self._deadline, self._limit = inner, request, deadline, limit

    def __iter__(self) -> Iterator[bytes]:
        seen = 0
        for chunk in self._inner:
            seen += len(chunk)
            if seen > self._limit:
                raise ReplyTooLarge(f"reply larger than {self._limit:,} bytes: not read further", request=self._request)
            if self._deadline is not None and time.monotonic() > self._deadline:
                raise httpx.ReadTimeout("the reply did not finish within the request's timeout", request=self._request)
            yield chunk

    def close(self) -> None:
        self._inner.close()


class GuardedTransport(httpx.HTTPTransport):
    def __init__(self, *args: Any, limit: int = MAX_REPLY_BYTES, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limit = limit

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout") or {}
        total = timeout.get("read") if isinstance(timeout, dict) else None
        deadline = time.monotonic() + total if isinstance(total, (int, float)) else None
        response = super().handle_request(request)
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > self.limit:
            response.close()
            raise ReplyTooLarge(f"reply of {int(length):,} bytes is larger than {self.limit:,}", request=request)
        if response.status_code in REDIRECTS:
            # Answered as it is: the SDK reports the status; the body is not sent anywhere else.
            return response
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _Guarded(response.stream, request, deadline, self.limit)
        return response


def guarded_client() -> httpx.Client:
    return httpx.Client(transport=GuardedTransport(), follow_redirects=False)
