"""The README, `reviewbot --help`, the config schema and action.yml tell the same story:
every config snippet in the README validates, every action input and CLI option is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from reviewbot.cli import cli
from reviewbot.config import config_schema, load_config

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start:] if end == -1 else README[start:end]


def _yaml_blocks(text: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", text, flags=re.S)


CONFIG_SNIPPETS = _yaml_blocks(_section("Model freedom")) + _yaml_blocks(_section("Configuration: `.reviewbot.yml`"))


@pytest.mark.parametrize("snippet", CONFIG_SNIPPETS, ids=[f"snippet{i}" for i in range(len(CONFIG_SNIPPETS))])
def test_every_config_snippet_in_the_readme_validates(snippet: str) -> None:
    config = load_config(text=snippet)
    assert config.model_dump() is not None
    assert yaml.safe_load(snippet)  # not an empty block


def test_model_freedom_covers_each_recipe() -> None:
    text = _section("Model freedom")
    for word in (
        "OpenRouter",
        "LiteLLM proxy",
        "Ollama",
        "vLLM",
        "llama.cpp",
        "LM Studio",
        "Failover",
        "Budget",
        "Compliance",
        "Secret redaction",
        "Audit trail",
    ):
        assert word in text, word
    assert len(_yaml_blocks(text)) >= 8


def test_every_top_level_config_key_is_in_the_reference_table() -> None:
    table = _section("Configuration: `.reviewbot.yml`")
    schema = config_schema()
    for key in schema["properties"]:
        assert f"`{key}" in table, key


def test_action_inputs_and_outputs_are_documented() -> None:
    action = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
    section = _section("Use in GitHub Actions")
    for name in action["inputs"]:
        assert f"`{name}`" in section, f"action input {name} missing from the README"
    for name in action["outputs"]:
        assert f"`{name}`" in section, f"action output {name} missing from the README"
    env = action["runs"]["steps"][-1]["env"]
    # Every REVIEWBOT_* variable the action sets is an option of `reviewbot github`.
    github_help = CliRunner().invoke(cli, ["github", "--help"]).output
    for var in (v for v in env if v.startswith("REVIEWBOT_")):
        flag = "--" + var.removeprefix("REVIEWBOT_").lower().replace("_", "-")
        flag = {"--pr-number": "--pr"}.get(flag, flag)
        assert flag in github_help, f"{var} has no {flag} option"


def test_review_options_in_help_are_in_the_readme() -> None:
    help_text = CliRunner().invoke(cli, ["review", "--help"]).output
    options = set(re.findall(r"(--[a-z][a-z-]+)", help_text)) - {"--help"}
    section = _section("Using it locally")
    missing = sorted(o for o in options if o not in section)
    assert not missing, f"options not documented in the README: {missing}"


def test_quick_start_commands_exist() -> None:
    quick = _section("Quick start")
    assert "reviewbot review --diff examples/login-sql.diff --dry-run" in quick
    assert 'pip install ".[test]" && python -m pytest' in quick
    assert (REPO / "examples" / "login-sql.diff").is_file()
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert 'pip install ".[test]" && python -m pytest' in ci


def test_security_doc_cites_tests_that_exist() -> None:
    """docs/SECURITY.md backs each guarantee with a test: every one it names must exist."""
    root = Path(__file__).resolve().parents[1]
    text = (root / "docs" / "SECURITY.md").read_text(encoding="utf-8")
    cited = 0
    for paths in re.finditer(r"`(tests/[\w/]+\.py)(::\w+)?`((?:,\s*`::\w+`)*)", text):
        source = (root / paths[1]).read_text(encoding="utf-8")
        for name in re.findall(r"::(\w+)", (paths[2] or "") + paths[3]):
            assert f"def {name}(" in source, f"{paths[1]}::{name} is cited but does not exist"
            cited += 1
    assert cited >= 10
    assert "security advisory" in text.lower()
    assert "docs/SECURITY.md" in (root / "README.md").read_text(encoding="utf-8")
