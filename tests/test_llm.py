"""LiteLLMClient against a real HTTP server on 127.0.0.1 (tests/fakes/openai_server.py): what
reaches the wire, how replies map to LLMResponse, how every failure maps to an LLMError kind,
and that no hidden SDK retry ever sends a second request. Plus the pure connection rules and
one hand-made VCR cassette replayed through the default OpenAI base URL."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import pytest
from fakes.openai_server import FakeOpenAIServer, FakeReply, unused_port

from reviewbot.config import EndpointConfig
from reviewbot.cost import Pricer
from reviewbot.errors import MissingKeyError
from reviewbot.llm import (
    LiteLLMClient,
    LLMError,
    LLMRequest,
    classify,
    endpoint_host,
    missing_keys,
    resolve_connection,
)

MESSAGES = ({"role": "system", "content": "You review code."}, {"role": "user", "content": "Review this diff."})


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def make_request(server: FakeOpenAIServer, model: str = "openai/gpt-4.1-mini", **kwargs: Any) -> LLMRequest:
    settings: dict[str, Any] = {"max_tokens": 256, "timeout": 10.0, "api_base": server.base_url, "api_key": "sk-test"}
    settings.update(kwargs)
    return LLMRequest(model=model, messages=MESSAGES, **settings)


def fail(request: LLMRequest) -> LLMError:
    with pytest.raises(LLMError) as info:
        LiteLLMClient().complete(request)
    return info.value


# -- clean completions ----------------------------------------------------------------------


def test_clean_completion_maps_text_usage_cost_and_latency(server: FakeOpenAIServer) -> None:
    content = '{"summary": "ok", "findings": []}'
    server.push(FakeReply.ok(content, prompt_tokens=1200, completion_tokens=80, cached_tokens=1024, delay=0.05))
    response = LiteLLMClient().complete(make_request(server))

    assert response.text == content
    assert (response.input_tokens, response.output_tokens, response.cached_tokens) == (1200, 80, 1024)
    assert response.finish_reason == "stop"
    assert response.latency_ms >= 50  # the server waited 50 ms before answering
    # litellm's reported cost for a mapped model agrees with our own price table.
    expected = Pricer().cost("openai/gpt-4.1-mini", 1200, 80, 1024)
    assert response.cost_usd is not None and expected is not None
    assert response.cost_usd == pytest.approx(expected)


def test_request_on_the_wire(server: FakeOpenAIServer) -> None:
    schema = {"type": "json_schema", "json_schema": {"name": "review", "schema": {"type": "object"}}}
    LiteLLMClient().complete(make_request(server, headers={"X-Team": "review"}, response_format=schema))

    (sent,) = server.chat_requests
    assert sent.path == "/v1/chat/completions"
    assert sent.body["model"] == "gpt-4.1-mini"  # provider prefix stripped by litellm
    assert sent.body["messages"] == [dict(m) for m in MESSAGES]
    assert sent.body["max_tokens"] == 256
    assert sent.body["response_format"] == schema
    assert sent.headers["x-team"] == "review"
    assert sent.headers["authorization"] == "REDACTED"
    assert sent.sent_key("sk-test")
    assert sent.headers["x-stainless-retry-count"] == "0"


def test_unmapped_model_has_unknown_cost_and_length_finish(server: FakeOpenAIServer) -> None:
    server.push(FakeReply.ok('{"summary": "trunc', finish_reason="length"))
    response = LiteLLMClient().complete(make_request(server, model="openai/qwen2.5-coder-local"))
    assert response.cost_usd is None  # litellm has no price: never reported as $0
    assert response.finish_reason == "length"
    assert response.text == '{"summary": "trunc'


def test_local_endpoint_without_key_never_sends_the_env_key(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-cloud-key")
    response = LiteLLMClient().complete(make_request(server, model="openai/qwen-local", api_key=None))
    assert response.text  # the default responder's reply
    (sent,) = server.chat_requests
    assert not sent.sent_key("sk-real-cloud-key")


def test_no_litellm_module_globals_are_set(server: FakeOpenAIServer) -> None:
    LiteLLMClient().complete(make_request(server))
    litellm = sys.modules["litellm"]
    assert litellm.api_base is None
    assert litellm.api_key is None
    assert not litellm.num_retries
    assert litellm.suppress_debug_info is True


# -- failures -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "kind", "status"),
    [
        (FakeReply.rate_limited(retry_after=7), "rate_limit", 429),
        (FakeReply.server_error(), "server", 500),
        (FakeReply.error(502, "Bad gateway", "server_error"), "server", 502),
        (FakeReply.unavailable(), "server", 503),
        (FakeReply.unauthorized(), "auth", 401),
        (FakeReply.error(403, "Project does not have access", "permission_error"), "auth", 403),
        (FakeReply.context_length(), "context", 400),
        (FakeReply.bad_request(), "bad_request", 400),
        (FakeReply.error(404, "The model does not exist", "invalid_request_error", "model_not_found"), "unknown", 404),
    ],
    ids=["429", "500", "502", "503", "401", "403", "context-400", "other-400", "404"],
)
def test_http_errors_are_classified_with_one_request(
    server: FakeOpenAIServer, reply: FakeReply, kind: str, status: int
) -> None:
    server.push(reply)
    error = fail(make_request(server))
    assert (error.kind, error.status) == (kind, status)
    assert reply.error_message.split(".")[0] in error.message
    assert not error.message.startswith("litellm.")
    # Exactly one HTTP request: no retry hidden in litellm or the OpenAI SDK.
    assert len(server.chat_requests) == 1


def test_rate_limit_carries_retry_after_seconds(server: FakeOpenAIServer) -> None:
    server.push(FakeReply.rate_limited(retry_after=7))
    assert fail(make_request(server)).retry_after == 7.0
    server.push(FakeReply.rate_limited(retry_after=None))
    assert fail(make_request(server)).retry_after is None


def test_rate_limit_retry_after_as_http_date(server: FakeOpenAIServer) -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    server.push(
        FakeReply.error(
            429, "Slow down", "requests", "rate_limit_exceeded", {"retry-after": format_datetime(when, usegmt=True)}
        )
    )
    retry_after = fail(make_request(server)).retry_after
    assert retry_after is not None and 25 <= retry_after <= 31


def test_retry_after_ms_wins(server: FakeOpenAIServer) -> None:
    server.push(
        FakeReply.error(
            429, "Slow down", "tokens", "rate_limit_exceeded", {"retry-after-ms": "1500", "retry-after": "2"}
        )
    )
    assert fail(make_request(server)).retry_after == 1.5


def test_timeout_gives_up_on_a_hanging_server(server: FakeOpenAIServer) -> None:
    server.push(FakeReply.hang(10))
    error = fail(make_request(server, timeout=0.3))
    assert error.kind == "timeout"  # a server that answered after its 10 s would be "ok"
    assert error.status is None  # litellm's 408 is made up, not the server's
    assert len(server.chat_requests) == 1


def test_connection_refused_is_connection_not_server() -> None:
    # litellm raises InternalServerError("Connection error.") for a refused connection.
    request = LLMRequest(
        model="openai/gpt-4.1-mini",
        messages=MESSAGES,
        max_tokens=16,
        timeout=5,
        api_base=f"http://127.0.0.1:{unused_port()}/v1",
        api_key="sk-test",
    )
    error = fail(request)
    assert error.kind == "connection"
    assert error.status is None
    assert "Connection refused" in error.message


def test_dropped_connection_is_connection(server: FakeOpenAIServer) -> None:
    server.push(FakeReply.drop())
    error = fail(make_request(server))
    assert error.kind == "connection"
    assert len(server.chat_requests) == 1


def test_key_echoed_by_the_provider_is_scrubbed(server: FakeOpenAIServer) -> None:
    key = "sk-proj-0123456789abcdef"
    server.push(FakeReply.error(401, f"Incorrect API key provided: {key}.", "invalid_request_error", "invalid_api_key"))
    error = fail(make_request(server, api_key=key))
    assert error.kind == "auth"
    assert key not in error.message and key not in str(error)


def test_classify_non_litellm_exceptions() -> None:
    assert classify(ConnectionRefusedError(111, "Connection refused")).kind == "connection"
    assert classify(TimeoutError("read timed out")).kind == "timeout"
    assert classify(ValueError("something odd")).kind == "unknown"
    wrapped = RuntimeError("outer")
    wrapped.__cause__ = ConnectionResetError(104, "Connection reset by peer")
    assert classify(wrapped).kind == "connection"


# -- the fake server itself -----------------------------------------------------------------


def test_two_fake_servers_run_side_by_side() -> None:
    with FakeOpenAIServer(FakeReply.ok("cloud")) as cloud, FakeOpenAIServer(FakeReply.ok("local")) as local:
        assert cloud.port != local.port
        client = LiteLLMClient()
        assert client.complete(make_request(local)).text == "local"
        assert client.complete(make_request(cloud)).text == "cloud"
        assert (len(cloud.chat_requests), len(local.chat_requests)) == (1, 1)


def test_fake_server_default_reply_is_a_valid_review(server: FakeOpenAIServer) -> None:
    response = LiteLLMClient().complete(make_request(server, model="openai/local"))
    reply = json.loads(response.text)
    assert reply["findings"] == [] and isinstance(reply["summary"], str)
    sent = server.chat_requests[0]
    assert response.input_tokens == len(json.dumps(sent.body["messages"])) // 4


# -- connection resolution (pure) -----------------------------------------------------------


def test_key_from_the_provider_variable() -> None:
    conn = resolve_connection("anthropic/claude-sonnet-4-5", {}, {"ANTHROPIC_API_KEY": "k-1"}, 120)
    assert (conn.api_base, conn.api_key, conn.key_env, conn.timeout) == (None, "k-1", "ANTHROPIC_API_KEY", 120)
    assert dict(conn.headers) == {}


def test_missing_key_error_names_the_variable() -> None:
    with pytest.raises(MissingKeyError) as info:
        resolve_connection("anthropic/claude-opus-4-1", {}, {"ANTHROPIC_API_KEY": ""}, 120)
    assert info.value.message == "no API key for anthropic/claude-opus-4-1: set ANTHROPIC_API_KEY"
    assert info.value.hint == "or run with --dry-run to see the plan without calling a model"


def test_endpoint_settings_come_first() -> None:
    endpoints = {
        "openai/gpt-4.1-mini": EndpointConfig(
            api_base="https://gateway.example.com/v1", api_key_env="GATEWAY_KEY", headers={"X-Team": "a"}, timeout=30
        )
    }
    env = {"GATEWAY_KEY": "gw", "OPENAI_API_KEY": "oa"}
    conn = resolve_connection("openai/gpt-4.1-mini", endpoints, env, 120)
    assert (conn.api_base, conn.api_key, conn.key_env, conn.timeout) == (
        "https://gateway.example.com/v1",
        "gw",
        "GATEWAY_KEY",
        30,
    )
    assert dict(conn.headers) == {"X-Team": "a"}
    assert missing_keys(["openai/gpt-4.1-mini"], endpoints, {"OPENAI_API_KEY": "oa"}) == [
        ("openai/gpt-4.1-mini", "GATEWAY_KEY")
    ]


def test_local_endpoints_need_no_key() -> None:
    endpoints = {"openai/qwen": EndpointConfig(api_base="http://127.0.0.1:8080/v1")}
    conn = resolve_connection("openai/qwen", endpoints, {}, 60)
    assert (conn.api_base, conn.api_key, conn.key_env) == ("http://127.0.0.1:8080/v1", None, None)
    ollama = resolve_connection("ollama_chat/qwen2.5-coder:14b", {}, {}, 60)
    assert (ollama.api_base, ollama.api_key) == (None, None)


def test_ollama_api_base_from_the_environment() -> None:
    env = {"OLLAMA_API_BASE": "http://10.0.0.5:11434"}
    assert resolve_connection("ollama_chat/llama3", {}, env, 60).api_base == "http://10.0.0.5:11434"
    assert resolve_connection("openai/gpt-4.1-mini", {}, {**env, "OPENAI_API_KEY": "k"}, 60).api_base is None


def test_missing_keys_in_order_each_model_once() -> None:
    models = [
        "anthropic/claude-sonnet-4-5",
        "openai/gpt-4.1-mini",
        "ollama/llama3",
        "anthropic/claude-sonnet-4-5",
        "gemini/gemini-2.5-flash",
    ]
    assert missing_keys(models, {}, {"OPENAI_API_KEY": "k"}) == [
        ("anthropic/claude-sonnet-4-5", "ANTHROPIC_API_KEY"),
        ("gemini/gemini-2.5-flash", "GEMINI_API_KEY"),
    ]


def test_endpoint_host_never_shows_credentials() -> None:
    assert endpoint_host("https://user:secret@gateway.example.com/v1", "openai/x") == "gateway.example.com"
    assert endpoint_host("http://127.0.0.1:11434", "ollama/llama3") == "127.0.0.1:11434"
    assert endpoint_host(None, "anthropic/claude-sonnet-4-5") == "anthropic"
    assert endpoint_host(None, "gpt-4.1-mini") == "openai"


# -- one cassette through the default OpenAI base URL ---------------------------------------


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    return {"filter_headers": ["authorization", "x-api-key"]}


@pytest.mark.vcr(record_mode="none")
def test_cassette_replay_through_litellm() -> None:
    """tests/cassettes/test_llm/test_cassette_replay_through_litellm.yaml is hand-made from
    OpenAI's documented response format; api_base is left to litellm's default."""
    request = LLMRequest(model="openai/gpt-4.1-mini", messages=MESSAGES, max_tokens=256, timeout=10, api_key="sk-test")
    response = LiteLLMClient().complete(request)
    assert response.text == '{"summary": "Adds a retry loop to the fetcher.", "findings": []}'
    assert (response.input_tokens, response.output_tokens, response.cached_tokens) == (1200, 80, 1024)
    assert response.finish_reason == "stop"
    expected = Pricer().cost("openai/gpt-4.1-mini", 1200, 80, 1024)
    assert response.cost_usd == pytest.approx(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("nan", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:01 GMT", 1.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
    ],
)
def test_retry_after_reads_seconds_and_http_dates_rounding_a_date_up(value: str, expected: float | None) -> None:
    from reviewbot.textutil import retry_after_seconds

    now = 1445412480.5  # 2015-10-21 07:28:00.5 GMT
    assert retry_after_seconds(value, now) == expected


def test_spend_labels_reach_the_gateway_as_litellm_proxy_metadata(server: FakeOpenAIServer) -> None:
    server.responder = lambda body: FakeReply.json({"findings": []})
    LiteLLMClient().complete(
        LLMRequest(
            model="openai/team-cheap",
            messages=({"role": "user", "content": "hi"},),
            max_tokens=10,
            timeout=5,
            api_base=server.base_url,
            api_key="sk-gw",
            labels={"repository": "acme/shop", "pr": "7", "tier": "cheap"},
        )
    )
    body = server.chat_requests[0].body
    assert body["metadata"] == {
        "repository": "acme/shop",
        "pr": "7",
        "tier": "cheap",
        "tags": ["repository:acme/shop", "pr:7", "tier:cheap"],
    }


def test_without_labels_the_body_has_no_metadata(server: FakeOpenAIServer) -> None:
    # A provider's own API may refuse an unknown or store-only `metadata` field.
    server.responder = lambda body: FakeReply.json({"findings": []})
    LiteLLMClient().complete(
        LLMRequest(
            model="openai/gpt-x",
            messages=({"role": "user", "content": "hi"},),
            max_tokens=10,
            timeout=5,
            api_base=server.base_url,
            api_key="sk-x",
        )
    )
    assert "metadata" not in server.chat_requests[0].body
