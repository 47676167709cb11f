"""Prices (config first, then litellm's bundled JSON map read without importing litellm), the
cost table with unknown prices kept unknown, the all-frontier counterfactual, the dry-run
output estimate and USD formatting."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reviewbot.config import PriceConfig
from reviewbot.cost import Price, Pricer, Usage, estimate_output_tokens, format_usd, summarize


def bundled_entry(key: str) -> dict[str, Any]:
    """Read litellm's map independently of cost.py, so expectations follow the installed file."""
    spec = importlib.util.find_spec("litellm")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / "model_prices_and_context_window_backup.json"
    entry: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))[key]
    return entry


# -- prices ---------------------------------------------------------------------------------


def test_config_prices_win_over_the_map() -> None:
    pricer = Pricer(
        {
            "openai/gpt-4.1-mini": PriceConfig(input=1.0, output=2.0, cached_input=0.5),
            "openai/qwen-local": PriceConfig(input=0, output=0),
        }
    )
    assert pricer.price("openai/gpt-4.1-mini") == Price(1.0, 2.0, 0.5)
    assert pricer.cost("openai/gpt-4.1-mini", 1_000_000, 500_000) == pytest.approx(2.0)
    assert pricer.cost("openai/qwen-local", 5000, 800) == 0.0  # priced free, not unknown


def test_bundled_openai_price_per_million() -> None:
    entry = bundled_entry("gpt-4.1-mini")
    price = Pricer().price("openai/gpt-4.1-mini")
    assert price is not None
    assert price.input_per_mtok == pytest.approx(entry["input_cost_per_token"] * 1e6)
    assert price.output_per_mtok == pytest.approx(entry["output_cost_per_token"] * 1e6)
    assert price.cached_input_per_mtok == pytest.approx(entry["cache_read_input_token_cost"] * 1e6)
    assert Pricer().price("gpt-4.1-mini") == price  # bare name, same entry
    assert Pricer().context_window("openai/gpt-4.1-mini") == entry["max_input_tokens"]
    assert Pricer().supports_response_schema("openai/gpt-4.1-mini") is bool(entry["supports_response_schema"])


def test_bundled_anthropic_price_under_its_bare_key() -> None:
    # litellm keys Anthropic models without the "anthropic/" prefix.
    entry = bundled_entry("claude-sonnet-4-5")
    price = Pricer().price("anthropic/claude-sonnet-4-5")
    assert price is not None
    assert price.input_per_mtok == pytest.approx(entry["input_cost_per_token"] * 1e6)
    assert price.output_per_mtok == pytest.approx(entry["output_cost_per_token"] * 1e6)
    assert Pricer().context_window("anthropic/claude-sonnet-4-5") == entry["max_input_tokens"]


def test_bare_key_is_used_only_for_its_own_provider() -> None:
    # OpenRouter resells gpt-4.1-mini at its own price: never borrow OpenAI's.
    assert Pricer().price("openrouter/gpt-4.1-mini") is None


def test_ollama_chat_uses_the_ollama_entry() -> None:
    entry = bundled_entry("ollama/llama3")
    price = Pricer().price("ollama_chat/llama3")
    assert price is not None and price.input_per_mtok == entry["input_cost_per_token"] * 1e6
    assert Pricer().context_window("ollama_chat/llama3") == entry["max_input_tokens"]


def test_unknown_model_is_unknown_not_free() -> None:
    pricer = Pricer()
    assert pricer.price("openai/my-llama-cpp-model") is None
    assert pricer.cost("openai/my-llama-cpp-model", 1000, 100) is None
    assert pricer.context_window("openai/my-llama-cpp-model") is None
    assert pricer.supports_response_schema("openai/my-llama-cpp-model") is False
    assert pricer.price("sample_spec") is None  # the map's documentation entry is not a model
    assert format_usd(pricer.cost("openai/my-llama-cpp-model", 1000, 100)) == "unknown"


def test_cached_tokens_at_the_cached_rate_else_the_input_rate() -> None:
    pricer = Pricer(
        {"a/cached": PriceConfig(input=10, output=20, cached_input=1), "a/plain": PriceConfig(input=10, output=20)}
    )
    # 1M input of which 400k cached, 100k output.
    assert pricer.cost("a/cached", 1_000_000, 100_000, 400_000) == pytest.approx(6 + 0.4 + 2)
    assert pricer.cost("a/plain", 1_000_000, 100_000, 400_000) == pytest.approx(10 + 2)
    # Cached tokens are part of the input: more cached than input is clamped.
    assert pricer.cost("a/cached", 100, 0, 1000) == pytest.approx(100 * 1 / 1e6)


def test_pricing_never_imports_litellm() -> None:
    code = (
        "import sys\n"
        "from reviewbot.cost import Pricer\n"
        "p = Pricer()\n"
        "assert p.price('openai/gpt-4.1-mini') is not None\n"
        "assert p.context_window('anthropic/claude-sonnet-4-5')\n"
        "assert p.supports_response_schema('openai/gpt-4.1-mini')\n"
        "import reviewbot.llm\n"  # importing the edge module must not import litellm either
        "print('litellm' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


# -- the cost table -------------------------------------------------------------------------

PRICES = {
    "cheap/m": PriceConfig(input=1, output=2),
    "front/m": PriceConfig(input=10, output=20, cached_input=5),
}


def test_summarize_rows_tiers_totals_and_saving() -> None:
    pricer = Pricer(PRICES)
    usages = [
        Usage("cheap/m", "cheap", 1_000_000, 100_000),
        Usage("cheap/m", "cheap", 500_000, 50_000, requests=2),
        Usage("front/m", "frontier", 200_000, 20_000, cached_tokens=100_000),
    ]
    summary = summarize(usages, pricer, "front/m")

    cheap, front = summary.rows
    assert (cheap.model, cheap.tier, cheap.requests) == ("cheap/m", "cheap", 3)
    assert (cheap.input_tokens, cheap.output_tokens, cheap.cached_tokens) == (1_500_000, 150_000, 0)
    assert cheap.usd == pytest.approx(1.5 + 0.3)
    assert front.usd == pytest.approx(1.0 + 0.5 + 0.4)
    assert dict(summary.tiers) == pytest.approx({"cheap": 1.8, "frontier": 1.9})
    assert summary.total_usd == pytest.approx(3.7)
    assert summary.known_usd == pytest.approx(3.7)
    # All tokens at the frontier price: cheap 1.5M in + 150k out, frontier as above.
    all_frontier = 15 + 3 + 1.9
    assert summary.all_frontier_model == "front/m"
    assert summary.all_frontier_usd == pytest.approx(all_frontier)
    assert summary.saving_pct == round((1 - 3.7 / all_frontier) * 100, 1)
    assert summary.estimated is False


def test_summarize_with_an_unknown_price() -> None:
    pricer = Pricer(PRICES)
    usages = [
        Usage("cheap/m", "cheap", 1_000_000, 0),
        Usage("local/unpriced", "cheap", 50_000, 5_000),
        Usage("front/m", "frontier", 100_000, 10_000),
    ]
    summary = summarize(usages, pricer, "front/m", estimated=True)
    by_model = {r.model: r.usd for r in summary.rows}
    assert by_model["local/unpriced"] is None
    assert by_model["cheap/m"] == pytest.approx(1.0)
    assert dict(summary.tiers)["cheap"] is None  # one unknown part makes the tier unknown
    assert dict(summary.tiers)["frontier"] == pytest.approx(1.2)
    assert summary.total_usd is None
    assert summary.known_usd == pytest.approx(2.2)
    assert summary.all_frontier_usd is not None  # the counterfactual needs only the frontier price
    assert summary.saving_pct is None
    assert summary.estimated is True


def test_provider_reported_cost_wins_even_without_a_price() -> None:
    summary = summarize(
        [Usage("local/unpriced", "cheap", 1000, 100, usd=0.25), Usage("cheap/m", "cheap", 1_000_000, 0, usd=0.5)],
        Pricer(PRICES),
        None,
    )
    assert [r.usd for r in summary.rows] == [0.25, 0.5]
    assert summary.total_usd == pytest.approx(0.75)
    assert (summary.all_frontier_usd, summary.saving_pct) == (None, None)


def test_unknown_frontier_price_leaves_the_counterfactual_unknown() -> None:
    summary = summarize([Usage("cheap/m", "cheap", 1000, 100)], Pricer(PRICES), "front/unpriced")
    assert summary.all_frontier_model == "front/unpriced"
    assert (summary.all_frontier_usd, summary.saving_pct) == (None, None)


def test_a_model_serving_two_tiers_is_one_row() -> None:
    summary = summarize(
        [Usage("front/m", "frontier", 1000, 10), Usage("front/m", "cheap", 2000, 20)], Pricer(PRICES), "front/m"
    )
    (row,) = summary.rows
    assert (row.tier, row.requests, row.input_tokens) == ("frontier+cheap", 2, 3000)
    assert [t for t, _ in summary.tiers] == ["frontier", "cheap"]
    assert summary.saving_pct == 0.0


def test_empty_run() -> None:
    summary = summarize([], Pricer(PRICES), "front/m")
    assert (summary.rows, summary.tiers, summary.total_usd, summary.known_usd) == ((), (), 0.0, 0.0)
    assert isinstance(summary.total_usd, float)
    assert summary.saving_pct is None  # nothing to compare against


# -- estimates and formatting ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("input_tokens", "cap", "expected"),
    [
        (10_000, 4096, 1500),  # 15% of the input
        (100, 4096, 256),  # the floor
        (100_000, 4096, 4096),  # the cap
        (100, 100, 100),  # the cap wins over the floor
    ],
)
def test_estimate_output_tokens(input_tokens: int, cap: int, expected: int) -> None:
    assert estimate_output_tokens(input_tokens, cap) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "unknown"),
        (0.0, "$0.0000"),
        (0.00301, "$0.0030"),
        (0.98765, "$0.9877"),
        (1.5, "$1.50"),
        (1234.567, "$1,234.57"),
    ],
)
def test_format_usd(value: float | None, text: str) -> None:
    assert format_usd(value) == text
