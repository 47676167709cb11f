"""reviewbot/config/: loading `.reviewbot.yml` (the cases under tests/config_cases/), one-line errors,
the committed JSON Schema, default models per provider key, overrides and `config show`."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewbot.config import (
    DEFAULT_MODELS,
    Config,
    ModelsConfig,
    config_schema,
    config_schema_json,
    config_to_yaml,
    load_config,
    override,
    resolve_models,
)
from reviewbot.errors import EXIT_USAGE, ConfigError

REPO = Path(__file__).resolve().parents[1]
CASES = Path(__file__).resolve().parent / "config_cases"
VALID = sorted((CASES / "valid").glob("*.yml"))
INVALID = sorted((CASES / "invalid").glob("*.yml"))


def _directives(path: Path, name: str) -> list[str]:
    prefix = f"# {name}: "
    lines = path.read_bytes().decode("utf-8", "replace").lstrip("\ufeff").splitlines()
    return [line[len(prefix) :] for line in lines if line.startswith(prefix)]


def _value_at(config: Config, dotted: str) -> Any:
    node: Any = config.model_dump(mode="json")
    for bracket, plain in re.findall(r"\[([^\]]+)\]|([^.\[\]]+)", dotted):
        key: Any = bracket or plain
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def _assert_one_line(err: ConfigError) -> None:
    assert err.message and len(err.message.splitlines()) == 1, err.message
    assert err.hint is None or len(err.hint.splitlines()) == 1, err.hint
    assert err.exit_code == EXIT_USAGE


# --- the case files ----------------------------------------------------------------------


def test_every_case_states_what_it_checks() -> None:
    assert VALID and INVALID
    for path in INVALID:
        assert _directives(path, "error"), f"{path.name} has no '# error:' line"


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_valid_case_loads(path: Path) -> None:
    config = load_config(path)
    for expectation in _directives(path, "expect"):
        dotted, _, raw = expectation.partition(" = ")
        assert _value_at(config, dotted) == yaml.safe_load(raw), expectation


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_case_is_one_line_config_error(path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    err = caught.value
    _assert_one_line(err)
    assert err.message.startswith(f"{path}: "), "the message names the file"
    for expected in _directives(path, "error"):
        assert expected in err.message
    for absent in _directives(path, "absent"):
        assert absent not in err.message and absent not in (err.hint or "")


def test_full_example_round_trips_through_config_show() -> None:
    config = load_config(CASES / "valid" / "full-example.yml")
    assert config.review.concurrency == 8
    assert config.compliance[0].paths == ["secure/**", "**/*.pem"]
    assert config.allowed_providers == ["openai", "anthropic", "ollama"]
    assert load_config(text=config_to_yaml(config)) == config


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n", "\n\n   \n"])
def test_nothing_configured_means_defaults(text: str) -> None:
    assert load_config(text=text) == Config()


def test_unknown_key_hint_lists_the_allowed_keys() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(text="budget: {max_dollars: 1}")
    assert caught.value.hint == "allowed keys here: max_usd, max_input_tokens, max_usd_per_pr, on_exceed"


def test_wrong_value_hint_is_the_field_description() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(text="review: {max_inline_comments: -1}")
    assert caught.value.hint is not None
    assert caught.value.hint.startswith("review.max_inline_comments: Inline comments per GitHub review")


def test_text_is_named_by_the_path_given_with_it() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(".reviewbot.yml", text="review: {fail_on: sometimes}")
    assert caught.value.message.startswith(".reviewbot.yml: review.fail_on: ")
    with pytest.raises(ConfigError) as caught:
        load_config(text="review: {fail_on: sometimes}")
    assert caught.value.message.startswith("config text: review.fail_on: ")


def test_pydantic_input_values_are_not_chained_into_tracebacks() -> None:
    # --debug prints the traceback; pydantic's own error would repeat the pasted key.
    with pytest.raises(ConfigError) as caught:
        load_config(text="endpoints: {x: {api_key_env: sk-secret-value}}")
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


# --- finding the file ------------------------------------------------------------------------


def test_no_file_in_the_current_directory_means_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_config() == Config()


@pytest.mark.parametrize("name", [".reviewbot.yml", ".reviewbot.yaml"])
def test_the_file_in_the_current_directory_is_found(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / name).write_text("review: {fail_on: high}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert load_config().review.fail_on == "high"


def test_both_spellings_present_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".reviewbot.yml").write_text("review: {fail_on: high}\n", encoding="utf-8")
    (tmp_path / ".reviewbot.yaml").write_text("review: {fail_on: low}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"both \.reviewbot\.yml and \.reviewbot\.yaml exist"):
        load_config()


def test_an_explicit_path_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "missing.yml")
    assert caught.value.message == f"{tmp_path / 'missing.yml'}: no such file"


def test_a_directory_is_not_a_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    _assert_one_line(caught.value)
    assert caught.value.message.startswith(f"{tmp_path}: cannot read")


# --- default models --------------------------------------------------------------------------

PROVIDER_ENV = [
    ("ANTHROPIC_API_KEY", "anthropic"),
    ("OPENAI_API_KEY", "openai"),
    ("GEMINI_API_KEY", "gemini"),
    ("OPENROUTER_API_KEY", "openrouter"),
    ("OLLAMA_API_BASE", "ollama"),
]


@pytest.mark.parametrize(("variable", "provider"), PROVIDER_ENV)
def test_defaults_follow_the_key_that_is_set(variable: str, provider: str) -> None:
    config, notes = resolve_models(Config(), {variable: "http://127.0.0.1:11434", "UNRELATED": "x"})
    cheap, frontier = DEFAULT_MODELS[provider]
    assert (config.models.cheap, config.models.frontier) == ([cheap], [frontier])
    assert notes == [
        f"models not configured: using {cheap} (cheap) and {frontier} (frontier) because {variable} is set"
    ]


def test_the_first_key_in_order_wins() -> None:
    env = {"OLLAMA_API_BASE": "http://127.0.0.1:11434", "GEMINI_API_KEY": "g", "OPENAI_API_KEY": "o"}
    config, notes = resolve_models(Config(), env)
    assert config.models.cheap == [DEFAULT_MODELS["openai"][0]]
    assert "because OPENAI_API_KEY is set" in notes[0]
    config, _ = resolve_models(Config(), {**env, "ANTHROPIC_API_KEY": "a"})
    assert config.models.frontier == [DEFAULT_MODELS["anthropic"][1]]


@pytest.mark.parametrize("env", [{}, {"ANTHROPIC_API_KEY": ""}, {"MISTRAL_API_KEY": "m"}])
def test_no_key_falls_back_to_openai_and_says_so(env: dict[str, str]) -> None:
    config, notes = resolve_models(Config(), env)
    assert (config.models.cheap, config.models.frontier) == (
        [DEFAULT_MODELS["openai"][0]],
        [DEFAULT_MODELS["openai"][1]],
    )
    assert len(notes) == 1 and "no provider key was found" in notes[0]
    assert "ANTHROPIC_API_KEY, OPENAI_API_KEY, GEMINI_API_KEY, OPENROUTER_API_KEY, OLLAMA_API_BASE" in notes[0]


def test_ollama_defaults_get_an_endpoint_and_zero_prices() -> None:
    config, _ = resolve_models(Config(), {"OLLAMA_API_BASE": "http://192.168.1.20:11434"})
    for model in DEFAULT_MODELS["ollama"]:
        assert config.endpoints[model].api_base == "http://192.168.1.20:11434"
        assert (config.prices[model].input, config.prices[model].output) == (0, 0)


def test_ollama_defaults_keep_the_users_endpoint_and_price() -> None:
    cheap = DEFAULT_MODELS["ollama"][0]
    text = f"endpoints: {{'{cheap}': {{api_base: 'http://gpu-box:11434'}}}}\nprices: {{'{cheap}': {{input: 0.01, output: 0.02}}}}"
    config, _ = resolve_models(load_config(text=text), {"OLLAMA_API_BASE": "http://127.0.0.1:11434"})
    assert config.endpoints[cheap].api_base == "http://gpu-box:11434"
    assert config.prices[cheap].output == 0.02


def test_only_the_empty_tier_is_filled() -> None:
    start = Config(models=ModelsConfig(cheap=["mistral/mistral-small-latest"]))
    config, notes = resolve_models(start, {"ANTHROPIC_API_KEY": "a"})
    assert config.models.cheap == ["mistral/mistral-small-latest"]
    assert config.models.frontier == [DEFAULT_MODELS["anthropic"][1]]
    assert notes == [
        f"models.frontier not configured: using {DEFAULT_MODELS['anthropic'][1]} (frontier) because ANTHROPIC_API_KEY is set"
    ]


@pytest.mark.parametrize(
    "text",
    [
        "models: {cheap: [ollama_chat/llama3.1:8b]}",
        "models: {frontier: [openai/smollm2]}\nendpoints: {openai/smollm2: {api_base: 'http://127.0.0.1:8080/v1'}}",
    ],
)
def test_a_tier_left_out_beside_local_models_takes_them_never_a_cloud_default(text: str) -> None:
    # The llama.cpp recipe once set only one tier: risky files went to a cloud model.
    start = load_config(text=text)
    config, notes = resolve_models(start, {"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o"})
    assert config.models.cheap == config.models.frontier == (start.models.cheap or start.models.frontier)
    assert len(notes) == 1 and "same local models" in notes[0] and "nothing leaves this machine" in notes[0]


def test_configured_models_are_left_alone() -> None:
    start = Config(models=ModelsConfig(cheap=["a/x"], frontier=["b/y"]))
    assert resolve_models(start, {"ANTHROPIC_API_KEY": "a"}) == (start, [])


def test_defaults_respect_allowed_providers() -> None:
    start = load_config(text="allowed_providers: [gemini, ollama]")
    config, notes = resolve_models(start, {"ANTHROPIC_API_KEY": "a", "GEMINI_API_KEY": "g"})
    assert config.models.cheap == [DEFAULT_MODELS["gemini"][0]]
    assert "ANTHROPIC_API_KEY is set but allowed_providers excludes anthropic" in notes[0]


def test_no_default_for_the_allowed_providers_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"allowed_providers \['mistral'\] has no default models"):
        resolve_models(load_config(text="allowed_providers: [mistral]"), {"MISTRAL_API_KEY": "m"})


def _bundled_price_map() -> dict[str, Any]:
    # Located without importing litellm (seconds and ~200 MB): find_spec does not run it.
    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        pytest.skip("litellm is not installed")
    path = Path(spec.origin).parent / "model_prices_and_context_window_backup.json"
    return dict(json.loads(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize("provider", ["anthropic", "openai", "gemini", "openrouter"])
def test_default_models_are_current_chat_models_in_litellms_price_map(provider: str) -> None:
    prices = _bundled_price_map()
    for model in DEFAULT_MODELS[provider]:
        # OpenRouter models are not in the map; the model behind one must be.
        name = model.removeprefix("openrouter/")
        entry = prices.get(name) or prices.get(name.split("/", 1)[1])
        assert entry is not None, f"{model} is not in litellm's bundled price map"
        assert entry["mode"] == "chat" and entry.get("supports_response_schema") is True, model
        assert not entry.get("deprecation_date"), f"{model} is scheduled for retirement on {entry['deprecation_date']}"
    cheap, frontier = (
        prices.get(m.removeprefix("openrouter/")) or prices[m.split("/", 1)[1].removeprefix("openai/")]
        for m in DEFAULT_MODELS[provider]
    )
    assert cheap["input_cost_per_token"] < frontier["input_cost_per_token"]


# --- overrides -----------------------------------------------------------------------------


def test_override_sets_values_by_dotted_path() -> None:
    start = load_config(CASES / "valid" / "full-example.yml")
    changed = override(start, {"models.cheap": ["x/y"], "budget.max_usd": 0.5, "review.fail_on": "high"})
    assert (changed.models.cheap, changed.budget.max_usd, changed.review.fail_on) == (["x/y"], 0.5, "high")
    assert changed.models.frontier == start.models.frontier, "untouched keys stay"
    assert start.models.cheap == ["openai/gpt-4.1-mini"], "the original is not modified"
    assert override(start, **{"review.fail_on": "low"}).review.fail_on == "low"


def test_override_reaches_model_keys_with_brackets() -> None:
    changed = override(Config(), {"endpoints[openai/gpt-5.4-mini].api_base": "http://127.0.0.1:4000"})
    assert changed.endpoints["openai/gpt-5.4-mini"].api_base == "http://127.0.0.1:4000"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"budget.max_usd": -1}, "overrides: budget.max_usd: Input should be greater than or equal to 0"),
        ({"review.fail_on": "hgih"}, "overrides: review.fail_on: Input should be"),
        ({"review.concurrency": "8"}, "overrides: review.concurrency: expected an integer, got a string"),
        ({"reveiw.fail_on": "high"}, "overrides: unknown key 'reveiw' (did you mean 'review'?)"),
        ({"models.summary": "chepa"}, "overrides: models.summary: must be 'cheap' or 'frontier'"),
        ({"ignore.extra": 1}, "override 'ignore.extra': ignore is not a section"),
        ({"review..fail_on": 1}, "override 'review..fail_on': not a key path"),
    ],
)
def test_bad_override_is_a_config_error(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        override(Config(), changes)
    _assert_one_line(caught.value)
    assert caught.value.message.startswith(message)


# --- schema and `config show` ----------------------------------------------------------------


def test_committed_schema_is_in_sync() -> None:
    committed = (REPO / "reviewbot.schema.json").read_text(encoding="utf-8")
    assert committed == config_schema_json(), (
        "reviewbot.schema.json is stale; regenerate it with `reviewbot config schema > reviewbot.schema.json`"
    )


def test_schema_is_closed_and_documented() -> None:
    schema = config_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] and schema["description"]
    objects = [schema, *schema["$defs"].values()]
    assert all(obj["additionalProperties"] is False for obj in objects)
    assert list(schema["properties"]) == list(Config.model_fields)
    summary = schema["$defs"]["ModelsConfig"]["properties"]["summary"]
    assert {"type": "string", "enum": ["cheap", "frontier"]} in summary["anyOf"]
    assert schema["properties"]["endpoints"]["propertyNames"]["pattern"]


def test_config_show_uses_schema_order_and_round_trips() -> None:
    config = load_config(CASES / "valid" / "summary-model-list.yml")
    shown = config_to_yaml(config)
    assert list(yaml.safe_load(shown)) == list(Config.model_fields)
    assert load_config(text=shown) == config


def test_config_show_masks_header_values_and_url_passwords() -> None:
    text = """
endpoints:
  openai/gpt-5.4-mini:
    api_base: http://user:hunter2@127.0.0.1:4000/v1
    api_key_env: GATEWAY_KEY
    headers: {Authorization: Bearer sk-live-123, X-Api-Key: k-456, X-Title: reviewbot}
"""
    shown = config_to_yaml(load_config(text=text))
    for secret in ("hunter2", "sk-live-123", "k-456"):
        assert secret not in shown
    endpoint = yaml.safe_load(shown)["endpoints"]["openai/gpt-5.4-mini"]
    assert endpoint["api_base"] == "http://user:***@127.0.0.1:4000/v1"
    assert endpoint["headers"] == {"Authorization": "***", "X-Api-Key": "***", "X-Title": "reviewbot"}
    assert endpoint["api_key_env"] == "GATEWAY_KEY"


def test_importing_config_pulls_in_no_heavy_library() -> None:
    code = "import sys, reviewbot.config; print(sorted(m for m in ('litellm', 'github', 'openai') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# --- anything YAML can say is a Config or a ConfigError --------------------------------------

_KNOWN_KEYS = sorted(
    {
        name
        for model in (Config, *(f.annotation for f in Config.model_fields.values()))
        if isinstance(model, type)
        for name in getattr(model, "model_fields", {})
    }
    | {"cheap", "frontier", "summary", "api_base", "input", "output", "paths", "allow", "reveiw"}
)
_keys = st.one_of(st.sampled_from(_KNOWN_KEYS), st.text(max_size=12), st.integers(-3, 3), st.booleans(), st.none())
_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(["cheap", "frontier", "local", "high", "none", "openai/gpt-5.4-mini", "a b", "(", "**/*.py"]),
)
_values = st.recursive(
    _leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4), max_leaves=20
)
_sections = st.fixed_dictionaries({}, optional={name: _values for name in Config.model_fields})
_documents = st.one_of(_sections, st.dictionaries(_keys, _values, max_size=5), _values)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_documents)
def test_any_yaml_document_is_a_config_or_a_config_error(document: object) -> None:
    text = yaml.safe_dump(document, allow_unicode=True)
    try:
        config = load_config(text=text)
    except ConfigError as err:
        _assert_one_line(err)
        assert err.message.startswith("config text: ")
    else:
        assert load_config(text=config_to_yaml(config)).review == config.review


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_any_text_is_a_config_or_a_config_error(text: str) -> None:
    try:
        load_config(text=text)
    except ConfigError as err:
        _assert_one_line(err)


# --- keys go only where they belong (issue 9.3) --------------------------------------------------


@pytest.mark.parametrize("name", ["GITHUB_TOKEN", "GH_TOKEN", "ACTIONS_RUNTIME_TOKEN", "RUNNER_TEMP"])
def test_api_key_env_may_not_name_the_github_token_or_a_runner_secret(name: str) -> None:
    from reviewbot.config import load_config
    from reviewbot.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        load_config("x.yml", text=f"endpoints:\n  openai/m: {{api_key_env: {name}}}\n")
    assert "api_key_env" in err.value.message and name in err.value.message
    assert "Value error" not in err.value.message


def test_a_key_variable_holding_the_github_token_is_refused_at_run_time() -> None:
    from reviewbot.config import check_key_sources, load_config
    from reviewbot.errors import ConfigError

    cfg = load_config("x.yml", text="endpoints:\n  openai/m: {api_key_env: MY_KEY}\n")
    check_key_sources(cfg, {"GITHUB_TOKEN": "ghs_token_value_1234", "MY_KEY": "sk-other"})
    with pytest.raises(ConfigError) as err:
        check_key_sources(cfg, {"GITHUB_TOKEN": "ghs_token_value_1234", "MY_KEY": "ghs_token_value_1234"})
    assert err.value.message.startswith("endpoints.openai/m.api_key_env: MY_KEY holds the GitHub token")


def test_a_key_is_not_sent_over_plain_http_to_another_host_without_opting_in() -> None:
    from reviewbot.config import check_transport, load_config
    from reviewbot.errors import ConfigError

    env = {"GW_KEY": "sk-gateway"}
    remote = load_config(
        "x.yml", text="endpoints:\n  openai/m: {api_base: 'http://10.1.2.3:4000/v1', api_key_env: GW_KEY}\n"
    )
    with pytest.raises(ConfigError) as err:
        check_transport(remote, env)
    assert err.value.message.startswith(
        "endpoints.openai/m.api_base: http://10.1.2.3:4000/v1 is plain http to 10.1.2.3"
    )
    assert check_transport(remote, {}) == []  # no key, nothing to protect
    opted = load_config(
        "x.yml",
        text="endpoints:\n  openai/m: {api_base: 'http://10.1.2.3:4000/v1', api_key_env: GW_KEY,"
        " allow_insecure_http: true}\n",
    )
    assert check_transport(opted, env) == [
        "the key for openai/m is sent over plain http to 10.1.2.3 (allow_insecure_http)"
    ]
    for base in ("http://127.0.0.1:8080/v1", "http://localhost:11434", "https://gw.example.com/v1"):
        ok = load_config("x.yml", text=f"endpoints:\n  openai/m: {{api_base: '{base}', api_key_env: GW_KEY}}\n")
        assert check_transport(ok, env) == []
