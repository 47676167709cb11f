"""Shared test setup: no real keys or GitHub variables leak in from the environment, and
the shared diff corpus beside the repository is found (or its tests are skipped)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from shareddata import missing

SHARED_DIFFS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "diffs"
REPO = Path(__file__).resolve().parents[1]

_LEAKY_PREFIXES = ("GITHUB_", "RUNNER_", "INPUT_")
_LEAKY_NAMES = {
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "OPENROUTER_API_KEY",
    "OLLAMA_API_BASE",
    "MISTRAL_API_KEY",
    "GROQ_API_KEY",
    "AZURE_API_KEY",
    "CI",
}


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name in _LEAKY_NAMES or name.startswith(_LEAKY_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    monkeypatch.setenv("LITELLM_LOG", "CRITICAL")
    yield
    from reviewbot.ownkeys import SCRUB

    SCRUB.forget()  # one test's run secrets are not the next one's


@pytest.fixture
def shared_diffs() -> Path:
    if not SHARED_DIFFS.is_dir():
        missing("../shared/data/diffs")
    return SHARED_DIFFS
