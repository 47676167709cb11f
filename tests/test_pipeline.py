"""Pipeline decisions that are not a stage of their own: which requests carry the reply's
JSON Schema."""

from __future__ import annotations

import pytest

from reviewbot.pipeline import sends_reply_schema


@pytest.mark.parametrize("model", ["ollama/qwen2.5-coder:7b", "ollama_chat/llama3.1", "hosted_vllm/Qwen/Qwen2.5-Coder",
                                   "lm_studio/qwen2.5-coder", "llamafile/mistral"])
def test_local_servers_get_the_schema(model: str) -> None:
    # They turn it into constrained decoding, and their tokens cost nothing.
    assert sends_reply_schema(model)


@pytest.mark.parametrize("model", ["openai/gpt-5.4-mini", "anthropic/claude-opus-5-5", "gemini/gemini-2.5-flash",
                                   "openrouter/openai/gpt-5.5", "gpt-5.5"])
def test_hosted_apis_get_json_mode(model: str) -> None:
    # A schema would be billed as ~200 prompt tokens on every request.
    assert not sends_reply_schema(model)
