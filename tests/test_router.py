"""router: tier lists, compliance groups, which models may see a chunk, blocked reasons and
the per-tier chunk budget. Configs are built directly (the YAML loader is tested elsewhere)."""

from __future__ import annotations

from typing import Any

import pytest

from reviewbot.chunker import Chunk
from reviewbot.config import Config, Tier
from reviewbot.router import (
    LOCAL_BLOCKED,
    MIN_CHUNK_TOKENS,
    SYSTEM_PROMPT_TOKENS,
    Route,
    chunk_token_budget,
    compliance_group,
    model_allowed,
    route_chunks,
    summary_models,
    tier_models,
)

CLOUD_CHEAP = "openai/gpt-4.1-mini"
CLOUD_FRONTIER = "anthropic/claude-opus-4-1"
OLLAMA = "ollama_chat/qwen2.5-coder:7b"
GATEWAY = "openai/llama-3.1-70b"  # an OpenAI-protocol server on the LAN: local by its api_base


def config(**overrides: Any) -> Config:
    data: dict[str, Any] = {"models": {"cheap": [CLOUD_CHEAP], "frontier": [CLOUD_FRONTIER]}}
    data.update(overrides)
    return Config.model_validate(data)


def chunk(tier: Tier = "cheap", group: str = "", cid: str = "c001") -> Chunk:
    return Chunk(id=cid, tier=tier, group=group, files=("src/a.py",), text="...", tokens=10, risk=0)


# --- tier and summary lists -----------------------------------------------------------------


def test_tier_models_keep_failover_order() -> None:
    cfg = config(models={"cheap": ["a/1", "b/2", "c/3"], "frontier": ["d/4"]})
    assert tier_models(cfg, "cheap") == ("a/1", "b/2", "c/3")
    assert tier_models(cfg, "frontier") == ("d/4",)


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        ("cheap", (CLOUD_CHEAP,)),
        ("frontier", (CLOUD_FRONTIER,)),
        (["gemini/gemini-2.5-flash", CLOUD_CHEAP], ("gemini/gemini-2.5-flash", CLOUD_CHEAP)),
    ],
)
def test_summary_models(summary: str | list[str], expected: tuple[str, ...]) -> None:
    cfg = config(models={"cheap": [CLOUD_CHEAP], "frontier": [CLOUD_FRONTIER], "summary": summary})
    assert summary_models(cfg) == expected


def test_summary_models_respect_allowed_providers() -> None:
    cfg = config(
        models={"cheap": [CLOUD_CHEAP], "frontier": [CLOUD_FRONTIER], "summary": [CLOUD_FRONTIER, CLOUD_CHEAP]},
        allowed_providers=["openai"],
    )
    assert summary_models(cfg) == (CLOUD_CHEAP,)


# --- compliance groups -----------------------------------------------------------------------


def test_compliance_group_is_first_matching_rule() -> None:
    cfg = config(
        compliance=[
            {"paths": ["secret/**"], "allow": "local"},
            {"paths": ["secret/**", "payments/**"], "allow": ["anthropic"]},
        ]
    )
    assert compliance_group("secret/keys.py", cfg) == "rule1"
    assert compliance_group("payments/charge.py", cfg) == "rule2"
    assert compliance_group("src/app.py", cfg) == ""


def test_compliance_group_basename_pattern_matches_anywhere() -> None:
    cfg = config(compliance=[{"paths": ["*.sql"], "allow": "local"}])
    assert compliance_group("db/schema/users.sql", cfg) == "rule1"
    assert compliance_group("db/schema/users.py", cfg) == ""


def test_no_rules_means_no_group() -> None:
    assert compliance_group("anything/at/all.py", config()) == ""


# --- model_allowed ---------------------------------------------------------------------------


def test_allowed_providers_filters_every_model() -> None:
    cfg = config(allowed_providers=["anthropic", "ollama_chat"])
    assert model_allowed(CLOUD_FRONTIER, "", cfg)
    assert model_allowed(OLLAMA, "", cfg)
    assert not model_allowed(CLOUD_CHEAP, "", cfg)
    assert not model_allowed("gpt-4.1-mini", "", cfg)  # bare name: provider openai


def test_local_rule_admits_only_local_endpoints() -> None:
    cfg = config(
        compliance=[{"paths": ["**"], "allow": "local"}],
        endpoints={
            GATEWAY: {"api_base": "http://10.0.0.5:8000/v1"},
            "openai/gpt-4o": {"api_base": "https://gateway.example.com"},
        },
    )
    assert model_allowed(OLLAMA, "rule1", cfg)
    assert model_allowed(GATEWAY, "rule1", cfg)
    assert not model_allowed("openai/gpt-4o", "rule1", cfg)
    assert not model_allowed(CLOUD_FRONTIER, "rule1", cfg)
    assert model_allowed(CLOUD_FRONTIER, "", cfg)  # the rule binds its own group only


def test_list_rule_matches_providers_or_exact_models() -> None:
    cfg = config(compliance=[{"paths": ["**"], "allow": ["anthropic", "openai/gpt-4.1"]}])
    assert model_allowed(CLOUD_FRONTIER, "rule1", cfg)
    assert model_allowed("openai/gpt-4.1", "rule1", cfg)
    assert not model_allowed(CLOUD_CHEAP, "rule1", cfg)  # same provider, other model


def test_allowed_providers_still_applies_inside_a_group() -> None:
    cfg = config(compliance=[{"paths": ["**"], "allow": ["anthropic", "openai"]}], allowed_providers=["openai"])
    assert model_allowed(CLOUD_CHEAP, "rule1", cfg)
    assert not model_allowed(CLOUD_FRONTIER, "rule1", cfg)


def test_a_rename_out_of_a_locked_folder_stays_locked_by_its_old_path() -> None:
    cfg = config(compliance=[{"paths": ["secure/**"], "allow": "local"}])
    group = compliance_group(("lib/crypto.py", "secure/crypto.py"), cfg)
    assert group == "rule1"
    assert not model_allowed(CLOUD_CHEAP, group, cfg)
    assert model_allowed(OLLAMA, group, cfg)


def test_paths_under_two_rules_must_satisfy_both() -> None:
    cfg = config(
        compliance=[
            {"paths": ["secure/**"], "allow": ["anthropic", "ollama_chat"]},
            {"paths": ["payments/**"], "allow": "local"},
        ]
    )
    group = compliance_group(("payments/keys.py", "secure/keys.py"), cfg)
    assert group == "rule1+rule2"
    assert model_allowed(OLLAMA, group, cfg)  # in rule 1's list and local
    assert not model_allowed(CLOUD_FRONTIER, group, cfg)  # rule 1 admits it, rule 2 does not
    blocked = route_chunks(
        [chunk(tier="frontier", group=group)],
        config(
            models={"cheap": [CLOUD_CHEAP], "frontier": [CLOUD_FRONTIER]},
            compliance=[{"paths": ["secure/**"], "allow": ["anthropic"]}, {"paths": ["payments/**"], "allow": "local"}],
        ),
    )
    assert blocked[0].models == () and blocked[0].blocked == LOCAL_BLOCKED


def test_unknown_group_fails_closed() -> None:
    assert not model_allowed(CLOUD_CHEAP, "rule7", config())


# --- route_chunks -----------------------------------------------------------------------------


def test_ungrouped_chunks_get_their_tier_list() -> None:
    cfg = config(models={"cheap": [CLOUD_CHEAP, "gemini/gemini-2.5-flash"], "frontier": [CLOUD_FRONTIER]})
    routes = route_chunks([chunk("cheap", cid="c1"), chunk("frontier", cid="c2")], cfg)
    assert [r.models for r in routes] == [(CLOUD_CHEAP, "gemini/gemini-2.5-flash"), (CLOUD_FRONTIER,)]
    assert all(r.blocked is None for r in routes)


def test_local_rule_falls_back_to_a_local_model_of_the_other_tier() -> None:
    cfg = config(
        models={"cheap": [OLLAMA, CLOUD_CHEAP], "frontier": [CLOUD_FRONTIER]},
        compliance=[{"paths": ["internal/**"], "allow": "local"}],
    )
    (route,) = route_chunks([chunk("frontier", group="rule1")], cfg)
    assert route == Route(chunk("frontier", group="rule1"), (OLLAMA,))


def test_local_rule_orders_own_tier_first() -> None:
    cfg = config(
        models={"cheap": [OLLAMA], "frontier": [GATEWAY, CLOUD_FRONTIER]},
        endpoints={GATEWAY: {"api_base": "http://127.0.0.1:8080/v1"}},
        compliance=[{"paths": ["internal/**"], "allow": "local"}],
    )
    frontier, cheap = route_chunks([chunk("frontier", "rule1", "c1"), chunk("cheap", "rule1", "c2")], cfg)
    assert frontier.models == (GATEWAY, OLLAMA)
    assert cheap.models == (OLLAMA, GATEWAY)


def test_local_rule_with_only_cloud_models_is_blocked() -> None:
    cfg = config(compliance=[{"paths": ["internal/**"], "allow": "local"}])
    routes = route_chunks(
        [chunk("cheap", "rule1", "c1"), chunk("frontier", "rule1", "c2"), chunk("cheap", "", "c3")], cfg
    )
    assert [(r.models, r.blocked) for r in routes] == [((), LOCAL_BLOCKED), ((), LOCAL_BLOCKED), ((CLOUD_CHEAP,), None)]
    assert LOCAL_BLOCKED == "local-only, no local model available"


def test_list_rule_never_falls_back_to_the_other_tier() -> None:
    cfg = config(
        models={"cheap": [CLOUD_FRONTIER], "frontier": [CLOUD_CHEAP]},
        compliance=[{"paths": ["x/**"], "allow": ["anthropic"]}],
    )
    (route,) = route_chunks([chunk("frontier", "rule1")], cfg)
    assert route.models == ()
    assert route.blocked == "no allowed model (compliance rule 1)"


def test_allowed_providers_block_reason() -> None:
    cfg = config(allowed_providers=["mistral"])
    (route,) = route_chunks([chunk("cheap")], cfg)
    assert (route.models, route.blocked) == ((), "no allowed model (allowed_providers)")


def test_block_reason_names_rule_and_allowed_providers() -> None:
    cfg = config(
        allowed_providers=["mistral"],
        compliance=[{"paths": ["a/**"], "allow": "local"}, {"paths": ["b/**"], "allow": ["openai"]}],
    )
    (route,) = route_chunks([chunk("cheap", "rule2")], cfg)
    assert route.blocked == "no allowed model (compliance rule 2 / allowed_providers)"


def test_empty_tier_is_blocked_with_its_own_reason() -> None:
    cfg = config(models={"cheap": [CLOUD_CHEAP], "frontier": []})
    (route,) = route_chunks([chunk("frontier")], cfg)
    assert route.blocked == "no model configured for the frontier tier (models.frontier)"


def test_routes_only_ever_list_allowed_models() -> None:
    models = [OLLAMA, CLOUD_CHEAP, CLOUD_FRONTIER, GATEWAY, "mistral/mistral-large"]
    rules: list[Any] = ["local", ["anthropic"], ["openai", OLLAMA], ["local", "mistral"]]
    for allow in rules:
        for providers in (None, ["openai", "ollama_chat"], ["anthropic"]):
            cfg = config(
                models={"cheap": models[:3], "frontier": models[2:]},
                allowed_providers=providers,
                compliance=[{"paths": ["g/**"], "allow": allow}],
                endpoints={GATEWAY: {"api_base": "http://192.168.1.20:8000"}},
            )
            for route in route_chunks(
                [chunk(t, g, f"{t}{g}") for t in ("cheap", "frontier") for g in ("", "rule1")], cfg
            ):
                assert all(model_allowed(m, route.chunk.group, cfg) for m in route.models)
                assert (route.blocked is None) == bool(route.models)


# --- chunk_token_budget --------------------------------------------------------------------


def test_chunk_budget_fits_the_smallest_window() -> None:
    cfg = config(
        models={"cheap": [OLLAMA, CLOUD_CHEAP], "frontier": [CLOUD_FRONTIER]},
        review={"max_chunk_tokens": 20_000, "max_output_tokens": 1000},
    )
    windows = {OLLAMA: 8192, CLOUD_CHEAP: 1_000_000, CLOUD_FRONTIER: 200_000}
    assert chunk_token_budget(cfg, "cheap", windows.get) == 8192 - SYSTEM_PROMPT_TOKENS - 1000
    assert chunk_token_budget(cfg, "frontier", windows.get) == 20_000


def test_endpoint_max_input_tokens_overrides_the_known_window() -> None:
    cfg = config(
        models={"cheap": [OLLAMA], "frontier": [CLOUD_FRONTIER]},
        endpoints={OLLAMA: {"max_input_tokens": 6000}},
        review={"max_output_tokens": 1000},
    )
    assert chunk_token_budget(cfg, "cheap", lambda m: 128_000) == 6000 - SYSTEM_PROMPT_TOKENS - 1000


def test_unknown_windows_keep_max_chunk_tokens() -> None:
    cfg = config(review={"max_chunk_tokens": 3000})
    assert chunk_token_budget(cfg, "cheap", lambda m: None) == 3000


def test_chunk_budget_has_a_floor() -> None:
    cfg = config(models={"cheap": [OLLAMA], "frontier": []}, review={"max_output_tokens": 4096})
    assert chunk_token_budget(cfg, "cheap", lambda m: 4096) == MIN_CHUNK_TOKENS


def test_provider_family_names_cover_every_prefix() -> None:
    from reviewbot.providers import provider_matches

    assert provider_matches("ollama_chat/qwen2.5-coder:7b", "ollama")
    assert provider_matches("ollama/llama3", "ollama")
    assert provider_matches("ollama_chat/qwen", "ollama_chat")
    assert not provider_matches("openai/gpt-5.5", "ollama")
    cfg = Config.model_validate({"allowed_providers": ["ollama"]})
    assert model_allowed("ollama_chat/qwen2.5-coder:7b", "", cfg)
    assert not model_allowed("openai/gpt-5.5", "", cfg)
