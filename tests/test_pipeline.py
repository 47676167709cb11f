"""Pipeline decisions that are not a stage of their own: which requests carry the reply's
JSON Schema."""

from __future__ import annotations

import pytest

from reviewbot.pipeline import sends_reply_schema


@pytest.mark.parametrize(
    "model",
    [
        "ollama/qwen2.5-coder:7b",
        "ollama_chat/llama3.1",
        "hosted_vllm/Qwen/Qwen2.5-Coder",
        "lm_studio/qwen2.5-coder",
        "llamafile/mistral",
    ],
)
def test_local_servers_get_the_schema(model: str) -> None:
    # They turn it into constrained decoding, and their tokens cost nothing.
    assert sends_reply_schema(model)


@pytest.mark.parametrize(
    "model",
    [
        "openai/gpt-5.4-mini",
        "anthropic/claude-opus-5-5",
        "gemini/gemini-2.5-flash",
        "openrouter/openai/gpt-5.5",
        "gpt-5.5",
    ],
)
def test_hosted_apis_get_json_mode(model: str) -> None:
    # A schema would be billed as ~200 prompt tokens on every request.
    assert not sends_reply_schema(model)


@pytest.mark.parametrize(
    "api_base",
    [
        "http://127.0.0.1:8080/v1",
        "http://localhost:11434",
        "http://10.0.0.5:8000/v1",
        "http://host.docker.internal:1234/v1",
        "http://gpu-box.local:8000/v1",
    ],
)
def test_an_openai_compatible_server_on_this_machine_or_network_gets_the_schema(api_base: str) -> None:
    # llama.cpp, vLLM or LM Studio behind `openai/<name>`: the provider prefix says nothing.
    assert sends_reply_schema("openai/qwen2.5-coder", api_base)


def test_a_hosted_gateway_behind_the_openai_prefix_gets_json_mode() -> None:
    assert not sends_reply_schema("openai/gpt-5.4-mini", "https://gateway.example.com/v1")
