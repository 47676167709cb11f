"""`reviewbot eval` end to end, as a team runs it: the command line, a fake OpenAI-compatible
server on 127.0.0.1 that answers from the labels, the reply cache and its offline replay,
policies from config files and --model, the formats, the exit codes."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import pytest
import yaml
from cliutil import run_cli
from fakes.openai_server import FakeOpenAIServer, FakeReply
from test_eval import CASES, LabelModel

from reviewbot.eval.cases import load_cases

MODEL = "openai/fake-small"
OTHER = "openai/fake-large"


class FromLabels:
    """The fake server's responder: every label the prompt shows is found (by LabelModel)."""

    def __init__(self, mode: str = "all") -> None:
        self.model = LabelModel(load_cases([CASES]), mode)
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, body: dict[str, Any]) -> FakeReply:
        self.bodies.append(body)
        text = body["messages"][-1]["content"]
        if "### " not in text:  # the overview request
            return FakeReply.ok("An overview.")
        reply = self.model.complete(types.SimpleNamespace(messages=body["messages"]))  # type: ignore[arg-type]
        return FakeReply.ok(reply.text)


def config(tmp: Path, name: str, base: str, **extra: Any) -> Path:
    data = {
        "models": {"cheap": [MODEL], "frontier": [MODEL], "summary": "cheap"},
        "endpoints": {m: {"api_base": base, "api_key_env": "FAKE_KEY", "timeout": 10} for m in (MODEL, OTHER)},
        "prices": {MODEL: {"input": 1.0, "output": 2.0}, OTHER: {"input": 10.0, "output": 20.0}},
        **extra,
    }
    path = tmp / f"{name}.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-fake-eval-key")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def test_eval_scores_a_run_and_replays_it_offline_from_the_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    responder = FromLabels()
    with FakeOpenAIServer(responder=responder) as server:
        routed = config(tmp_path, "routed", server.base_url)
        code, out, err = run_cli(
            capsys, ["eval", str(CASES), "--config", str(routed), "--cache", str(cache), "--format", "json"]
        )
        calls = len(server.chat_requests)
    assert code == 0, err
    first = json.loads(out)
    policy = first["policies"][0]
    assert policy["policy"] == "routed"
    assert (policy["found"], policy["labels"]) == (3, 3) and policy["recall"] == 1.0
    assert policy["precision"] == 1.0 and policy["false_alarms"] == 0
    assert calls > 0 and first["cache"] == {"hits": 0, "misses": calls}
    found = {c["id"]: [lb["found"] for lb in c["labels"]] for c in policy["cases"]}
    assert found == {"sql-login": [True, True], "tiny-a": [True], "tiny-clean": []}

    # Offline: no key, no server; every reply comes from the cache and the scores are the same.
    monkeypatch.delenv("FAKE_KEY")
    code, out, err = run_cli(
        capsys, ["eval", str(CASES), "--config", str(routed), "--cache", str(cache), "--offline", "--format", "json"]
    )
    assert code == 0, err
    again = json.loads(out)
    assert again["cache"] == {"hits": calls, "misses": 0}
    for key in ("found", "labels", "recall", "precision", "false_alarms", "cost_usd"):
        assert again["policies"][0][key] == policy[key], key


def test_each_config_and_model_is_a_policy_and_the_markdown_carries_the_chart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    responder = FromLabels()
    with FakeOpenAIServer(responder=responder) as server:
        a = config(tmp_path, "all-cheap", server.base_url)
        b = config(tmp_path, "routed", server.base_url)
        code, out, err = run_cli(
            capsys,
            [
                "eval",
                str(CASES),
                "--config",
                str(a),
                "--config",
                str(b),
                "--model",
                MODEL,
                "--model",
                OTHER,
                "--format",
                "markdown",
                "--no-progress",
            ],
        )
    assert code == 0, err
    for name in (f"all-cheap:{MODEL}", f"all-cheap:{OTHER}", f"routed:{MODEL}", f"routed:{OTHER}"):
        assert name in out
    assert "quadrantChart" in out and out.count("    P") >= 4
    models = {b["model"] for b in responder.bodies}
    assert models == {"fake-small", "fake-large"}


def test_a_model_that_finds_nothing_fails_the_recall_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAIServer(responder=FromLabels("none")) as server:
        cfg = config(tmp_path, "routed", server.base_url)
        code, out, err = run_cli(capsys, ["eval", str(CASES), "--config", str(cfg), "--min-recall", "0.5"])
    assert code == 1
    assert "recall 0% for policy routed is under --min-recall 50%" in err
    assert "missed  app/auth.py:18-19" in out  # the per-case detail names what was missed


def test_offline_without_a_recording_is_not_reviewed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = config(tmp_path, "routed", "http://127.0.0.1:9/v1")
    code, out, err = run_cli(
        capsys, ["eval", str(CASES), "--config", str(cfg), "--cache", str(tmp_path / "c"), "--offline"]
    )
    assert code == 3
    assert err.startswith("reviewbot: error: no case run produced a review; the first: not reviewed:")
    assert "not reviewed: not reviewed" not in out + err
    assert "reply cache: 0 hit(s), 6 miss(es)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--offline"], "--offline replays recorded replies: it needs --cache DIR"),
        (["--budget-usd", "-1"], "--budget-usd must be 0 or more"),
        (["--min-recall", "2"], "--min-recall is a fraction from 0 to 1"),
    ],
)
def test_bad_options_are_one_line_usage_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, ["eval", str(CASES), *args])
    assert code == 2 and err.startswith("reviewbot: error: ") and message in err
    assert "Traceback" not in err


def test_a_folder_without_cases_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, ["eval", str(tmp_path)])
    assert code == 2 and "no eval cases found" in err
