"""Attack round 5: each test asserts the safe behaviour and FAILED on main when it was written.
Every test names the class of problem it shows and where the cause is. This round plays a weak
or hostile model (replies on the less-travelled paths, usage numbers, timeouts) and a careless
local user (the CLI, prompt templates).

The CLI tests run `reviewbot` in-process (tests/cliutil.py) against the fake OpenAI-compatible
server on 127.0.0.1 (tests/fakes/openai_server.py); the reviewer tests use test_reviewer's
recording fake LLM; the GitHub test reuses the harness of test_action_e2e."""
# ruff: noqa: F811 — the harness's fixtures are imported from test_action_e2e and used by name

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from cliutil import run_cli
from fakes.github_server import FakeGitHub
from fakes.openai_server import FakeOpenAIServer, FakeReply
from test_action_e2e import (  # noqa: F401  (fixtures)
    AUTH,
    BASE,
    BOT,
    HEAD,
    Harness,
    config_yaml,
    gh,
    h,
    llm,
)
from test_reviewer import FakeLLM, Guard, chunk, make, reply

from reviewbot.budget import BudgetGuard
from reviewbot.findings import parse_reply
from reviewbot.llm import LLMError
from reviewbot.router import Route

REPO = Path(__file__).resolve().parents[1]

ONE_FILE_DIFF = (
    "diff --git a/app/auth.py b/app/auth.py\nnew file mode 100644\n--- /dev/null\n+++ b/app/auth.py\n"
    "@@ -0,0 +1,3 @@\n+def login(u, p):\n+    return db.execute(f\"SELECT * FROM users WHERE u='{u}'\")\n+    # end\n"
)
SQL = {
    "path": "app/auth.py",
    "line": 2,
    "side": "RIGHT",
    "severity": "high",
    "category": "security",
    "title": "SQL built with an f-string",
    "body": "u is interpolated into the query: use a parameterised query.",
}


def _write_config(path: Path, cfg: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def _json_report(out: str) -> dict[str, Any]:
    report = json.loads(out)
    assert isinstance(report, dict)
    return report


# --- 1. The configured price is not what the run is charged -----------------------------------
# Class: "the cost table and the budget lie". README: `prices.<model>` "overrides litellm's
# price map" and "Prices come from the config's `prices`, then litellm's bundled price map".
# cost.Pricer does so, but calling.ModelCaller.call() takes `response.cost_usd` first, which
# llm/client._to_response() reads from litellm's `_hidden_params["response_cost"]`: litellm's own
# price map. For any model litellm knows (openai/gpt-4o-mini here, or a self-hosted model served
# under a known name with `prices: {input: 0, output: 0}`), the configured price is ignored for
# what was spent: the cost table, the budget guard (budget.max_usd is settled at litellm's price,
# so a team that configured a higher negotiated/gateway price overspends its cap) and the
# all-frontier comparison (priced with the config) disagree.


def test_the_configured_price_is_what_the_run_is_charged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRICED_KEY", "sk-priced")
    diff = tmp_path / "c.diff"
    diff.write_text(ONE_FILE_DIFF, encoding="utf-8")
    model = "openai/gpt-4o-mini"  # in litellm's bundled price map at $0.15 / $0.60 per million

    def respond(body: dict[str, Any]) -> FakeReply:
        content = json.dumps({"summary": "Adds login.", "findings": []})
        return FakeReply.ok(content, prompt_tokens=1000, completion_tokens=1000)

    with FakeOpenAIServer(responder=respond) as server:
        cfg = _write_config(
            tmp_path / "cfg.yml",
            {
                "models": {"cheap": [model], "frontier": [model], "summary": "cheap"},
                "endpoints": {model: {"api_base": server.base_url, "api_key_env": "PRICED_KEY"}},
                "prices": {model: {"input": 100.0, "output": 100.0}},  # the team's own price
                "review": {"instruction_files": []},
            },
        )
        code, out, err = run_cli(capsys, ["review", str(diff), "--config", str(cfg), "--format", "json"])
    assert code == 0, err
    report = _json_report(out)
    expected = (1000 * 100.0 + 1000 * 100.0) / 1_000_000  # $0.20 at the configured price
    (row,) = report["cost"]["rows"]
    assert row["usd"] == pytest.approx(expected), "the cost table used litellm's price, not the configured one"
    assert report["budget"]["spent_usd"] == pytest.approx(expected), "budget.max_usd is settled at another price"


# --- 2. A timed-out request is free for the budget guard --------------------------------------
# Class: "budget.max_usd does not hold under retries and failover". A request that timed out
# (or whose connection dropped) may have been generated and billed: calling.ModelCaller.call()
# records its cost as unknown (usd None, test_reviewer::test_an_answered_error_costs_nothing_and_
# a_timeout_stays_unknown) but settles the guard with `self.guard.settle(reservation, 0.0, 0)`:
# $0. BudgetGuard.settle()'s own contract is that "an unknown actual cost keeps the estimate:
# charging $0 for a call we could not price would let the cap drift". With a slow provider every
# retry (attempts_per_model) and every failover is sent for free, so a run can be billed many
# times its cap.


def test_a_timed_out_request_keeps_its_reservation_against_the_cap() -> None:
    timeout = LLMError("timeout", "no answer in 5 s")
    client = FakeLLM({"m1": [timeout] * 8, "m2": [timeout] * 8})
    guard = BudgetGuard(max_usd=0.01, max_input_tokens=None)
    reviewer = make(client, guard=guard, price=0.006, concurrency=1, attempts_per_model=2, cooldown_after=10)
    reviewer.review([Route(chunk("c001"), ("m1", "m2")), Route(chunk("c002"), ("m1", "m2"))])
    # Each request reserves $0.006 of a $0.01 cap: one timed-out request may have cost that much,
    # so a second one cannot be afforded.
    assert len(client.requests) == 1, f"{len(client.requests)} requests of $0.006 each sent under a $0.01 cap"
    assert guard.spent_usd == pytest.approx(0.006)


# --- 3. A duplicate "findings" key silently drops what the model found ------------------------
# Class: "something a model found is silently dropped; a clean review". jsonscan.Scanner._object()
# keeps the LAST value of a repeated key (`out[key] = v`), as json.loads does. A weak model that
# writes its findings and then closes with the schema's empty default (`"findings": []` again,
# a copy of the format it was asked for) is read as {"findings": []}: no error, no repair, no
# failover, and the chunk is a clean review. findings._extract() does not look inside the
# object it accepted, so the real findings are never seen.


def test_a_repeated_findings_key_does_not_drop_the_findings() -> None:
    text = '{"summary": "Adds login.", "findings": [' + json.dumps(SQL) + '], "findings": []}'
    parsed = parse_reply(text)
    clean = not parsed.findings and parsed.error is None
    assert not clean, "read as a clean review: the high finding before the repeated key is lost"


# --- 4. A split chunk forgets that its reply asked for a second look --------------------------
# Class: "a model's request is silently dropped" (review.cascade). reviewer._split_and_review()
# builds the chunk's ChunkResult from its halves' findings and summaries but not their
# `second_look` (needs_frontier): a cheap chunk too long for the cheap model's window is halved,
# the cheap model asks for a frontier review of a half, and cascade.second_looks() never sees it.


def test_a_split_chunk_keeps_the_second_look_its_halves_asked_for() -> None:
    text = "### a.py\n@@ -1 +1 @@\n" + "x" * 400 + "\n@@ -9 +9 @@\n" + "y" * 400 + "\n"
    ask = reply([], text='{"summary": "Touches crypto.", "findings": [], "needs_frontier": "custom crypto"}')
    plain = reply([], text='{"summary": "Renames.", "findings": []}')
    client = FakeLLM({"big": [ask, plain]})
    reviewer = make(client, windows={"small": 300, "big": 450}, tools={"parse": parse_reply})
    outcome = reviewer.review([Route(chunk("c001", text=text), ("small", "big"))])
    assert client.models_called() == ["big", "big"]  # split in two
    (result,) = outcome.results
    assert result.second_look == "custom crypto", "the request for a frontier review was dropped"


# --- 5. The all-frontier comparison prices a call with no usage at $0 -------------------------
# Class: "the cost table lies" (all-frontier comparison). A reply whose usage is missing or
# absurd (llm/client._to_response(): usage_reported False) is charged at its worst-case estimate
# (calling.ModelCaller.call()), but its CallRecord keeps input_tokens = output_tokens = 0, and
# cost._all_frontier() prices those zero tokens on the frontier model: $0. The review's spend is
# then compared with a counterfactual that left that request out: the "all-frontier" cost can
# come out below what the cheap tier actually spent, and the saving negative.


def test_a_call_without_usage_is_in_the_all_frontier_comparison(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("K", "sk-k")
    diff = tmp_path / "c.diff"
    diff.write_text(
        "diff --git a/docs/notes.md b/docs/notes.md\n--- a/docs/notes.md\n+++ b/docs/notes.md\n"
        "@@ -1,2 +1,2 @@\n # Notes\n-old words\n+new words\n",
        encoding="utf-8",
    )

    def respond(body: dict[str, Any]) -> FakeReply:
        # prompt_tokens -1: a broken usage block, not believed (usage_reported False)
        return FakeReply.ok(json.dumps({"summary": "Edits notes.", "findings": []}), prompt_tokens=-1)

    cheap, frontier = "openai/weak-cheap", "openai/weak-frontier"
    with FakeOpenAIServer(responder=respond) as server:
        cfg = _write_config(
            tmp_path / "cfg.yml",
            {
                "models": {"cheap": [cheap], "frontier": [frontier], "summary": "cheap"},
                "endpoints": {m: {"api_base": server.base_url, "api_key_env": "K"} for m in (cheap, frontier)},
                "prices": {cheap: {"input": 1.0, "output": 1.0}, frontier: {"input": 10.0, "output": 10.0}},
                "review": {"instruction_files": []},
            },
        )
        code, out, err = run_cli(capsys, ["review", str(diff), "--config", str(cfg), "--format", "json"])
    assert code == 0, err
    cost = _json_report(out)["cost"]
    assert cost["total_usd"] and cost["total_usd"] > 0  # the worst case was charged
    # The frontier model costs 10x the cheap one: the same requests cannot be cheaper there.
    assert cost["all_frontier_usd"] is not None and cost["all_frontier_usd"] >= cost["total_usd"], (
        cost["all_frontier_usd"],
        cost["total_usd"],
        cost["saving_pct"],
    )


# --- 6. A prompt template that fails at render time is an "internal error" ---------------------
# Class: "a user's mistake reported as reviewbot's bug, with the wrong exit code". PromptSet._render()
# (prompts.py) turns jinja2.TemplateError into a ConfigError (exit 2), but a template's own
# runtime error ({{ 1/0 }}, {{ x|int }} on a word, "a" * 10**10) is a plain Python exception:
# cli.py reports "internal error ... please report it" with exit 4. In the Action the templates
# come from the base branch: the run dies as if reviewbot were broken.


def test_a_template_that_fails_at_render_time_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-unused")
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "system.j2").write_text("You review code.\n{{ 1 / 0 }}\n", encoding="utf-8")
    diff = tmp_path / "c.diff"
    diff.write_text(ONE_FILE_DIFF, encoding="utf-8")
    cfg = _write_config(
        tmp_path / "cfg.yml",
        {
            "models": {"cheap": ["openai/gpt-4o-mini"], "frontier": ["openai/gpt-4o"]},
            "prompts_dir": str(prompts),
            "review": {"instruction_files": []},
        },
    )
    code, _, err = run_cli(capsys, ["review", str(diff), "--config", str(cfg), "--dry-run"])
    assert code == 2, err
    assert "internal error" not in err and "system.j2" in err


# --- 7. The declared Jinja2 floor allows sandbox escapes ----------------------------------------
# Class: "a template from the repository reads the runner's environment". Templates may come from
# the reviewed repository (prompts.py: SandboxedEnvironment "templates may come from the reviewed
# repository"), so the sandbox is the only wall. pyproject.toml declares "Jinja2>=3.1"; Jinja2
# 3.1.0-3.1.5 have published sandbox escapes (CVE-2024-56201, CVE-2024-56326 str.format via a
# stored reference, CVE-2025-27516 the |attr filter). requirements.lock pins 3.1.6 for the
# Action, but `pip install reviewbot` into an environment that has an older Jinja2 keeps it.


def test_the_declared_jinja2_floor_has_the_sandbox_fixes() -> None:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    m = re.search(r'"Jinja2\s*>=\s*([0-9.]+)', text, re.I)
    assert m is not None, "Jinja2 is not declared with a floor"
    floor = tuple(int(p) for p in m.group(1).split("."))
    assert floor + (0,) * (3 - len(floor)) >= (3, 1, 6), f"Jinja2>={m.group(1)} allows known sandbox escapes"


# --- 8. A thread answer of unknown cost is posted as $0 and left out of the PR's cap ------------
# Class: "the cost table lies / a spend cap does not hold". conversation._answer()
# (github/conversation.py) sums `c.usd or 0.0` over the answer's calls: a call of unknown cost
# (a model with no price, or a timeout) becomes $0. The thread then says "Answered by … · $0.0000"
# (README: a model with no known price is reported as unknown, "never as $0"), and the summary
# state's total_usd — what budget.max_usd_per_pr is checked against — is not raised, so answers
# of an unpriced model are never counted against the PR's cap.


def test_a_thread_answer_of_unknown_cost_is_not_posted_as_free(h: Harness, gh: FakeGitHub, llm: Any) -> None:
    unpriced = (
        "models:\n  cheap: [openai/fake-cheap]\n  frontier: [openai/fake-frontier]\n"
        "endpoints:\n"
        f'  openai/fake-cheap: {{api_base: "{llm.base_url}", api_key_env: FAKE_LLM_KEY}}\n'
        f'  openai/fake-frontier: {{api_base: "{llm.base_url}", api_key_env: FAKE_LLM_KEY}}\n'
        "prices:\n  openai/fake-cheap: {input: 1.0, output: 2.0}\n"  # the frontier model has no price
    )
    gh.set_content(".reviewbot.yml", unpriced, ref=BASE)
    assert h.run().code == 0
    root = next(c for c in gh.review_comments(1) if AUTH["title"] in c["body"] and c["user"]["login"] == BOT)
    reply_to = gh.add_review_comment(
        1,
        "/reviewbot is this reachable from the login form?",
        path=root["path"],
        line=root["line"],
        user="alice",
        in_reply_to=root["id"],
        association="MEMBER",
    )
    h.llm.responder = lambda body: FakeReply.ok("Yes: the login form passes username straight through.")
    event = {
        "name": "pull_request_review_comment",
        "payload": {
            "action": "created",
            "pull_request": {"number": 1, "head": {"sha": HEAD}, "base": {"sha": BASE}},
            "comment": {**reply_to, "user": {"login": "alice", "type": "User"}},
        },
    }
    assert h.run(event=event).code == 0
    answers = [
        c["body"] for c in gh.review_comments(1) if c["user"]["login"] == BOT and "login form passes" in c["body"]
    ]
    assert answers, "the question was not answered"
    assert "$0.0000" not in answers[-1], "an answer of unknown cost is posted as free"


# --- 9. A budget refusal after an unusable reply drops what that reply found --------------------
# Class: "something a model found is silently dropped" (repair retry + failover + budget).
# Reviewer._review_chunk() (reviewer.py) keeps `salvage`, the best unusable reply, so that its
# findings survive a failover; but when the next model's request is refused by the budget guard
# it returns `ChunkResult(chunk.id, "skipped", None, error=error)` without the salvage. A model
# that answers a critical finding in a reply cut short of valid JSON (the repair retry refused by
# the cap too) ends as "skipped: the budget would be exceeded": the finding is in no report,
# comment or summary.


def test_a_budget_refusal_after_an_unusable_reply_keeps_its_findings() -> None:
    cut = reply(
        [],
        text='{"summary": "Adds login.", "findings": [{"path": "app.py", "line": 1, "severity": "critical", '
        '"title": "SQL injection in login", "body": "u is interpolated into the query."}, {"title": ',
    )
    client = FakeLLM({"m1": [cut]})
    guard = Guard(cap=0.0015)  # one request of $0.001 fits; the repair retry and the failover do not
    reviewer = make(client, guard=guard, price=0.001, tools={"parse": parse_reply})
    outcome = reviewer.review([Route(chunk("c001"), ("m1", "m2"))])
    assert client.models_called() == ["m1"]
    (result,) = outcome.results
    assert [f.title for f in result.findings] == ["SQL injection in login"], result


# --- 10. The SARIF of a run that reviewed nothing is a clean bill of health --------------------
# Class: "nothing reviewed is a green result" (SARIF). render/sarif.render_sarif() writes the
# findings only: no `invocations` (executionSuccessful), no toolExecutionNotifications. When every
# model call failed (exit 3; the text and markdown reports open with "Not reviewed"), the SARIF is
# identical to the one of a clean review: uploaded with `if: always()` (the usual way, so that
# findings show even when --fail-on fails the job), code scanning reads "no results" and closes
# every open reviewbot alert as fixed.


def test_the_sarif_of_a_run_that_reviewed_nothing_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("K", "sk-k")
    diff = tmp_path / "c.diff"
    diff.write_text(ONE_FILE_DIFF, encoding="utf-8")
    models = ["openai/down-a", "openai/down-b"]
    with FakeOpenAIServer(responder=lambda body: FakeReply.server_error()) as server:
        cfg = _write_config(
            tmp_path / "cfg.yml",
            {
                "models": {"cheap": models, "frontier": models, "summary": "cheap"},
                "endpoints": {m: {"api_base": server.base_url, "api_key_env": "K"} for m in models},
                "prices": {m: {"input": 1.0, "output": 1.0} for m in models},
                "review": {"instruction_files": []},
            },
        )
        code, out, err = run_cli(
            capsys, ["review", str(diff), "--config", str(cfg), "--format", "sarif", "-o", "-", "--no-progress"]
        )
    assert code == 3, err
    (run,) = json.loads(out)["runs"]
    invocations = run.get("invocations") or []
    failed = any(i.get("executionSuccessful") is False for i in invocations)
    notified = any(i.get("toolExecutionNotifications") for i in invocations)
    assert failed or notified, "a run that reviewed nothing reads as a clean SARIF result"


# --- 11. A PR whose every patch GitHub left out is a green check --------------------------------
# Class: "nothing reviewed is a green result" (Action). GitHub's files API omits `patch` for a
# file whose diff is too large (and for binaries). diff/github.py marks such a file
# patch_missing, ignore._skip_reason_by_shape() skips it ("GitHub sent no patch (binary or too
# large)"), so no chunk is planned; report.not_reviewed_reason() returns None when there are no
# chunks ("nothing needed review"), and publish() ends green. The summary comment itself opens
# with "⛔ Not reviewed", yet the check passes: a PR author who makes each changed file large
# enough (one long minified line holding the payload) gets a green check without any review,
# whatever `fail_on` says.


def test_a_pr_whose_patches_github_left_out_is_not_green(h: Harness, gh: FakeGitHub, llm: Any) -> None:
    gh.set_content(".reviewbot.yml", config_yaml(llm.base_url, extra="review:\n  fail_on: high\n"), ref=BASE)
    assert any(item["additions"] > 0 for item in gh.pulls[1].files)  # changed text files, not binaries
    # too large: GitHub sends no patch (copies: the harness's PR_FILES are shared by every test)
    gh.pulls[1].files = [{k: v for k, v in item.items() if k != "patch"} for item in gh.pulls[1].files]
    result = h.run()
    assert "Not reviewed" in h.summary()["body"]
    assert result.code != 0, "nothing was reviewed, yet the check is green"
