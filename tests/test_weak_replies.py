"""What a weak or cut-off model reply means (issue 10): a reply without "findings" is not a
clean review, a fragment or the prompt's own example is not a finding, an unusable reply
fails over to the next model of the tier, and a reply cut at the output limit is asked again
with more room or marked partially reviewed — never passed as a clean review."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from cliutil import run_cli
from fakes.openai_server import FakeOpenAIServer, FakeReply
from test_reviewer import FINDING, FakeLLM, chunk, make, reply

from reviewbot.findings import parse_reply
from reviewbot.router import Route


@pytest.mark.parametrize(
    "text",
    [
        '{"summary": "Looks fine."}',  # no findings key: not "no findings"
        '{"description": "The "}',  # a cut-off fragment
        '{"findings": [{"title": "It is the", "line": 3}]}',  # filler words only
        # The prompt's own example, copied back by a weak model.
        '{"summary": "What the chunk changes, 1-2 sentences.", "findings": [{"path": "path/to/file.py", "line": 31, '
        '"side": "RIGHT", "severity": "high", "category": "bug", "title": "Short sentence", "body": "Why, when, how to fix."}]}',
    ],
)
def test_these_replies_are_unusable(text: str) -> None:
    parsed = parse_reply(text)
    assert parsed.error and parsed.findings == ()


def test_a_real_finding_beside_a_fragment_is_kept_and_the_reply_usable() -> None:
    parsed = parse_reply('{"findings": [{"title": "The"}, {"title": "SQL built from user input", "line": 4}]}')
    assert parsed.error is None and [f.title for f in parsed.findings] == ["SQL built from user input"]


def test_an_empty_findings_list_is_a_clean_review() -> None:
    parsed = parse_reply('{"summary": "Renames a helper.", "findings": []}')
    assert parsed.error is None and parsed.findings == () and parsed.summary == "Renames a helper."


def test_a_cut_off_reply_is_asked_again_with_twice_the_room() -> None:
    client = FakeLLM({"m1": [reply([FINDING], finish="length"), reply([FINDING, {**FINDING, "line": 2}])]})
    outcome = make(client, max_output_tokens=1000).review([Route(chunk("c001"), ("m1",))])
    result = outcome.results[0]
    assert result.status == "reviewed" and len(result.findings) == 2
    assert [r.max_tokens for r in client.requests] == [1000, 2000]
    assert [c.outcome for c in outcome.calls] == ["cut-off", "ok"]


def test_cut_off_twice_is_partially_reviewed_with_what_it_found() -> None:
    client = FakeLLM({"m1": [reply([FINDING], finish="length"), reply([FINDING], finish="length")]})
    outcome = make(client, max_output_tokens=1000).review([Route(chunk("c001"), ("m1", "m2"))])
    result = outcome.results[0]
    assert result.status == "partial" and len(result.findings) == 1
    assert "partially reviewed" in (result.error or "") and "finish_reason=length" in (result.error or "")
    assert client.models_called() == ["m1", "m1"]


def test_what_an_unusable_reply_found_survives_the_failover() -> None:
    salvage = reply([], text='{"findings": [{"path": "app.py", "line": 1, "title": "bug here"}, {"title": ')
    client = FakeLLM(
        {"m1": [salvage, reply([], text="still nothing")], "m2": [reply([{**FINDING, "line": 2, "title": "another"}])]}
    )
    reviewer = make(
        client, tools={"parse": parse_reply}
    )  # the real parser: it salvages the complete finding before the cut
    outcome = reviewer.review([Route(chunk("c001"), ("m1", "m2"))])
    result = outcome.results[0]
    assert result.status == "reviewed" and result.model == "m2"
    assert sorted(f.title for f in result.findings) == ["another", "bug here"]


# --- end to end: every call answered 200, no reply usable -----------------------------------


def test_all_replies_unusable_is_exit_3_saying_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEAK_KEY", "sk-weak")
    diff = tmp_path / "c.diff"
    diff.write_text(
        "diff --git a/app/auth.py b/app/auth.py\nnew file mode 100644\n--- /dev/null\n+++ b/app/auth.py\n"
        "@@ -0,0 +1,2 @@\n+def login(u, p):\n+    return db.execute(f\"SELECT * FROM users WHERE u='{u}'\")\n",
        encoding="utf-8",
    )

    def weak(body: dict[str, Any]) -> FakeReply:
        return FakeReply.ok('{"summary": "The code handles login."}')

    with FakeOpenAIServer(responder=weak) as server:
        cfg = tmp_path / "cfg.yml"
        models = ["openai/weak-a", "openai/weak-b"]
        cfg.write_text(
            yaml.safe_dump(
                {
                    "models": {"cheap": models, "frontier": models, "summary": "cheap"},
                    "endpoints": {m: {"api_base": server.base_url, "api_key_env": "WEAK_KEY"} for m in models},
                    "prices": {m: {"input": 1, "output": 1} for m in models},
                    "review": {"instruction_files": []},
                }
            ),
            encoding="utf-8",
        )
        code, out, err = run_cli(capsys, ["review", str(diff), "--config", str(cfg)])
        asked = {r.body["model"] for r in server.chat_requests}
    assert code == 3
    assert asked == {"weak-a", "weak-b"}  # the unusable reply failed over to the second model
    assert "no reply was usable" in err and "every model call failed" not in err
    assert out.startswith("Not reviewed")


# --- JSON mode and rate limits (issue 10.5, 10.6) -------------------------------------------------

from reviewbot.llm import LLMError  # noqa: E402


def test_a_5xx_does_not_turn_json_mode_off() -> None:
    client = FakeLLM({"m1": [LLMError("server", "bad gateway", status=502), reply([FINDING]), reply([]), reply([])]})
    reviewer = make(client)
    reviewer.review([Route(chunk("c001"), ("m1",)), Route(chunk("c002"), ("m1",))])
    assert all(r.response_format == {"type": "json_schema"} for r in client.requests)


def test_only_an_answer_naming_the_format_steps_down_and_only_for_that_model() -> None:
    refused = LLMError("bad_request", "response_format json_schema is not supported by this server", status=400)
    client = FakeLLM({"m1": [refused, reply([FINDING])], "m2": [reply([])]})
    reviewer = make(client, concurrency=1)
    reviewer.review([Route(chunk("c001"), ("m1",)), Route(chunk("c002"), ("m2",))])
    formats = [(r.model, (r.response_format or {}).get("type")) for r in client.requests]
    assert formats == [("m1", "json_schema"), ("m1", "json_object_schema"), ("m2", "json_schema")]


def test_a_single_model_tier_waits_out_a_rate_limit_as_told() -> None:
    limited = LLMError("rate_limit", "slow down", status=429, retry_after=7)
    client = FakeLLM({"m1": [limited, limited, reply([FINDING])]})
    slept: list[float] = []
    reviewer = make(client, tools={"sleep": slept.append})
    outcome = reviewer.review([Route(chunk("c001"), ("m1",))])
    assert outcome.results[0].status == "reviewed" and slept == [7, 7]


def test_the_wait_is_bounded_and_a_tier_with_a_next_model_fails_over_at_once() -> None:
    limited = LLMError("rate_limit", "slow down", status=429, retry_after=50)
    client = FakeLLM({"m1": [limited, limited, limited]})
    slept: list[float] = []
    reviewer = make(client, tools={"sleep": slept.append})
    outcome = reviewer.review([Route(chunk("c001"), ("m1",))])
    assert outcome.results[0].status == "failed" and slept == [50]  # 50 + 50 would pass the 60 s bound
    client2 = FakeLLM({"m1": [limited], "m2": [reply([FINDING])]})
    slept.clear()
    reviewer2 = make(client2, tools={"sleep": slept.append})
    assert reviewer2.review([Route(chunk("c001"), ("m1", "m2"))]).results[0].model == "m2" and slept == []


# --- local servers get the schema in the form they take (issue 10.7) --------------------------

# llama-cpp-python 0.3's answer to OpenAI's json_schema form, as a real server gave it.
LLAMA_CPP_REFUSAL = (
    "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
    "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema', "
    "'ctx': {'expected': \"'text' or 'json_object'\"}}"
)


def test_a_llama_cpp_server_behind_the_openai_prefix_gets_the_schema_in_its_own_form(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    diff = tmp_path / "c.diff"
    diff.write_text(
        "diff --git a/app/util.py b/app/util.py\n--- a/app/util.py\n+++ b/app/util.py\n"
        "@@ -1,2 +1,2 @@\n def total(xs):\n-    return sum(xs)\n+    return sum(xs) + 1\n",
        encoding="utf-8",
    )

    def llama_cpp(body: dict[str, Any]) -> FakeReply:
        if (body.get("response_format") or {}).get("type") != "json_object":
            return FakeReply.error(500, LLAMA_CPP_REFUSAL, "internal_server_error")
        return FakeReply.json(
            {
                "summary": "Adds one to the total.",
                "findings": [
                    {
                        "path": "app/util.py",
                        "line": 2,
                        "severity": "medium",
                        "title": "Off-by-one in total",
                        "body": "total() now returns one more than the sum of its items.",
                    }
                ],
            }
        )

    with FakeOpenAIServer(responder=llama_cpp) as server:
        cfg = tmp_path / "cfg.yml"
        cfg.write_text(
            yaml.safe_dump(
                {
                    "models": {"cheap": ["openai/smollm2"], "frontier": ["openai/smollm2"], "summary": "cheap"},
                    "endpoints": {"openai/smollm2": {"api_base": server.base_url, "allow_insecure_http": True}},
                    "review": {"instruction_files": [], "concurrency": 1},
                }
            ),
            encoding="utf-8",
        )
        code, out, err = run_cli(capsys, ["review", str(diff), "--config", str(cfg)])
        formats = [r.body.get("response_format") for r in server.chat_requests]
    assert code == 0, err
    assert formats[0]["type"] == "json_schema"  # a local server is offered OpenAI's form first
    assert formats[1]["type"] == "json_object" and formats[1]["schema"]["required"]  # then llama.cpp's
    assert all(f == formats[1] for f in formats[1:])  # remembered for the rest of the run
    assert "Off-by-one in total" in out


def test_a_reasoning_models_thoughts_are_not_its_answer() -> None:
    # A draft `{"findings": []}` inside <think> must not pass for a clean review.
    thought = (
        '<think>Maybe {"findings": []}? No, look again.</think>\n{"summary": "Reads a list.", "findings": '
        '[{"path": "a.py", "line": 3, "title": "Index error on an empty list", "body": "x[0] raises"}]}'
    )
    parsed = parse_reply(thought)
    assert parsed.error is None and [f.title for f in parsed.findings] == ["Index error on an empty list"]
    cut = parse_reply('<think>The answer is {"findings": []} unless')
    assert cut.error and cut.findings == ()  # never closed: no answer yet, so the repair retry runs
