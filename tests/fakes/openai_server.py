"""A real HTTP server on 127.0.0.1 that speaks the OpenAI Chat Completions format, for tests.

Usage::

    from fakes.openai_server import FakeOpenAIServer, FakeReply

    with FakeOpenAIServer(FakeReply.rate_limited(retry_after=7), FakeReply.ok("hi")) as server:
        server.base_url          # "http://127.0.0.1:<port>/v1": use as api_base, model "openai/<name>"
        ...                      # first request gets a 429, the second "hi", later ones the responder
        server.requests          # tuple of RecordedRequest(method, path, headers, body), in order

API:
- ``FakeOpenAIServer(*replies, responder=default_responder)``: queued ``FakeReply``s answer the
  first requests in order; when the queue is empty ``responder(request_json) -> FakeReply`` answers.
  ``push(*replies)`` queues more; ``responder`` can be reassigned. ``start()``/``stop()`` or use it as
  a context manager. Several instances can run at once (e.g. a "cloud" and a "local" server).
- Routes: ``POST /v1/chat/completions`` and ``POST /chat/completions``; anything else is a 404 in
  OpenAI's error shape. ``stream`` is not supported (the reviewer never streams).
- ``FakeReply`` constructors: ``ok(content, ...)``, ``json(obj, ...)``, ``error(status, message,
  type, code)``, ``rate_limited(retry_after)``, ``server_error()``, ``unavailable()``,
  ``unauthorized()``, ``context_length()``, ``bad_request(message)``, ``slow(seconds, content)``,
  ``hang(seconds)`` (no answer until the client gives up), ``drop()`` (close the connection with
  no response).
- ``default_responder`` answers a valid reviewbot reply ``{"summary": ..., "findings": []}`` with
  usage estimated from the request size (``len(json.dumps(messages)) // 4`` prompt tokens).
- ``RecordedRequest.headers`` has lower-case names; ``authorization`` and ``x-api-key`` are replaced
  by ``"REDACTED"`` so a recorded key can never leak into an assertion message or a log;
  ``RecordedRequest.sent_key(key)`` tells whether a given key was sent (compared by sha256).
- ``unused_port()`` returns a loopback port nothing listens on (connection refused).

pytest-recording's ``--block-network`` blocks loopback too: mark tests that use this server with
``@pytest.mark.block_network(allowed_hosts=["127\\.0\\.0\\.1"])`` (or run with ``--allowed-hosts``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

_REDACTED_HEADERS = frozenset({"authorization", "x-api-key", "api-key"})
_CHAT_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})


@dataclass(frozen=True)
class FakeReply:
    """One scripted answer. ``status`` 200 answers a completion; other statuses answer an error
    body ``{"error": {"message", "type", "code"}}``. Token counts left as None are computed from
    the request and the content."""

    content: str = ""
    status: int = 200
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int = 0
    finish_reason: str = "stop"
    error_message: str = ""
    error_type: str = ""
    error_code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    disconnect: bool = False  # close the connection without answering

    @classmethod
    def ok(cls, content: str, **kwargs: Any) -> FakeReply:
        return cls(content=content, **kwargs)

    @classmethod
    def json(cls, obj: Any, **kwargs: Any) -> FakeReply:
        return cls(content=json.dumps(obj), **kwargs)

    @classmethod
    def error(
        cls, status: int, message: str, type: str, code: str | None = None, headers: dict[str, str] | None = None
    ) -> FakeReply:
        return cls(status=status, error_message=message, error_type=type, error_code=code, headers=dict(headers or {}))

    @classmethod
    def rate_limited(cls, retry_after: float | None = None) -> FakeReply:
        headers = {} if retry_after is None else {"retry-after": f"{retry_after:g}"}
        return cls.error(429, "Rate limit reached for requests", "requests", "rate_limit_exceeded", headers)

    @classmethod
    def server_error(cls) -> FakeReply:
        return cls.error(500, "The server had an error while processing your request.", "server_error")

    @classmethod
    def unavailable(cls) -> FakeReply:
        return cls.error(503, "The engine is currently overloaded, please try again later.", "server_error")

    @classmethod
    def unauthorized(cls) -> FakeReply:
        return cls.error(
            401,
            "Incorrect API key provided: sk-test. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            "invalid_api_key",
        )

    @classmethod
    def context_length(cls) -> FakeReply:
        return cls.error(
            400,
            "This model's maximum context length is 8192 tokens. However, your "
            "messages resulted in 12000 tokens. Please reduce the length of the "
            "messages.",
            "invalid_request_error",
            "context_length_exceeded",
        )

    @classmethod
    def bad_request(cls, message: str = "Invalid parameter: 'response_format'.") -> FakeReply:
        return cls.error(400, message, "invalid_request_error", None)

    @classmethod
    def slow(cls, seconds: float, content: str = "", **kwargs: Any) -> FakeReply:
        return cls(content=content, delay=seconds, **kwargs)

    @classmethod
    def hang(cls, seconds: float = 30.0) -> FakeReply:
        """Answer nothing for `seconds` (released early when the server stops)."""
        return cls(delay=seconds, disconnect=True)

    @classmethod
    def drop(cls) -> FakeReply:
        """Close the connection without sending a response."""
        return cls(disconnect=True)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names, keys redacted
    body: Any  # parsed JSON, or the raw text when it is not JSON
    key_digest: str | None = None  # sha256 of the bearer token / x-api-key, never the key itself

    def sent_key(self, key: str) -> bool:
        """Whether this request carried `key` (as `Authorization: Bearer` or `x-api-key`)."""
        return self.key_digest == _digest(key)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _key_digest(headers: Any) -> str | None:
    auth = headers.get("authorization") or ""
    key = auth[7:] if auth.lower().startswith("bearer ") else headers.get("x-api-key")
    return _digest(key) if key else None


Responder = Callable[[dict[str, Any]], FakeReply]


def estimate_prompt_tokens(request_json: dict[str, Any]) -> int:
    """About four characters per token: the usual rule of thumb, good enough for a fake."""
    return max(1, len(json.dumps(request_json.get("messages", []))) // 4)


def default_responder(request_json: dict[str, Any]) -> FakeReply:
    """A valid reviewbot reply with no findings."""
    return FakeReply.json({"summary": "The change looks fine.", "findings": []})


def completion_body(reply: FakeReply, request_json: dict[str, Any], completion_id: str) -> dict[str, Any]:
    """The documented Chat Completions response object."""
    prompt = reply.prompt_tokens if reply.prompt_tokens is not None else estimate_prompt_tokens(request_json)
    completion = reply.completion_tokens if reply.completion_tokens is not None else max(1, len(reply.content) // 4)
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request_json.get("model", "fake-model"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content, "refusal": None},
                "logprobs": None,
                "finish_reason": reply.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": reply.cached_tokens},
        },
    }


def error_body(reply: FakeReply) -> dict[str, Any]:
    return {
        "error": {"message": reply.error_message, "type": reply.error_type, "param": None, "code": reply.error_code}
    }


def unused_port() -> int:
    """A loopback port with nothing listening: connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length).decode("utf-8", errors="replace")
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw
        headers = {k.lower(): ("REDACTED" if k.lower() in _REDACTED_HEADERS else v) for k, v in self.headers.items()}
        owner = self.server.owner
        owner._record(RecordedRequest("POST", self.path, headers, body, _key_digest(self.headers)))
        if self.path not in _CHAT_PATHS:
            self._send_json(
                404,
                {
                    "error": {
                        "message": f"Invalid URL (POST {self.path})",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": None,
                    }
                },
            )
            return
        request_json = body if isinstance(body, dict) else {}
        reply = owner._next_reply(request_json)
        if reply.delay:
            owner._stopping.wait(reply.delay)
        if reply.disconnect:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if reply.status == 200:
            payload = completion_body(reply, request_json, owner._next_id())
        else:
            payload = error_body(reply)
        self._send_json(reply.status, payload, reply.headers)

    def do_GET(self) -> None:
        self.server.owner._record(RecordedRequest("GET", self.path, {}, None))
        self._send_json(
            404,
            {
                "error": {
                    "message": f"Invalid URL (GET {self.path})",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                }
            },
        )

    def _send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a hanging handler must not block stop()
    owner: FakeOpenAIServer


class FakeOpenAIServer:
    """See the module docstring. Thread-safe: the server answers requests concurrently."""

    def __init__(self, *replies: FakeReply, responder: Responder = default_responder) -> None:
        self.responder = responder
        self._queue: deque[FakeReply] = deque(replies)
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> FakeOpenAIServer:
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.owner = self
        self._httpd = httpd
        # A short poll interval keeps stop() (and so every test teardown) fast.
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases hanging handlers
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses --------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the fake server is not running")
        port: int = self._httpd.server_address[1]
        return port

    @property
    def base_url(self) -> str:
        """The api_base for litellm's `openai/` provider (includes /v1)."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting and recording ------------------------------------------------------------
    def push(self, *replies: FakeReply) -> None:
        with self._lock:
            self._queue.extend(replies)

    @property
    def requests(self) -> tuple[RecordedRequest, ...]:
        with self._lock:
            return tuple(self._requests)

    @property
    def chat_requests(self) -> tuple[RecordedRequest, ...]:
        return tuple(r for r in self.requests if r.path in _CHAT_PATHS)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_reply(self, request_json: dict[str, Any]) -> FakeReply:
        with self._lock:
            queued = self._queue.popleft() if self._queue else None
        return queued if queued is not None else self.responder(request_json)

    def _next_id(self) -> str:
        return f"chatcmpl-fake{next(self._ids):04d}"
