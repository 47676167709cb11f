"""Issue 9.2 (second half): the run's own secrets (the provider key, an api_key_env target, the
GitHub token) and their base64 and URL-encoded forms never leave the process: not in a request
to the model, a GitHub request, stdout, stderr, the outputs, the step summary or the audit log,
even when the diff carries them or the model endpoint echoes them in a reply or an error."""

from __future__ import annotations

import base64
import json
import os
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from fakes.github_server import FakeGitHub
from fakes.openai_server import FakeOpenAIServer, FakeReply
from test_action_e2e import BASE, HEAD, PR_FILES, Harness, chunk_files, config_yaml

from reviewbot.ownkeys import PLACEHOLDER as OWN_SECRET
from reviewbot.ownkeys import SCRUB, Scrubber

pytestmark = pytest.mark.block_network(allowed_hosts=[r"127\.0\.0\.1"])

GH_TOKEN = "ghs" + "_" + "Q9w8E7r6T5y4U3i2O1p0A9s8D7f6G5h4J3k2"
LLM_KEY = "sk-" + "gateway-" + "Zx81ksQp02LmNb7Yt4Rw"


def forms(secret: str) -> list[str]:
    """How a secret may travel: itself, URL-encoded, in a Basic header, base64 of itself."""
    return [
        secret,
        urllib.parse.quote(secret, safe=""),
        base64.b64encode(secret.encode()).decode().rstrip("="),
        base64.b64encode(f"x-access-token:{secret}".encode()).decode()[20:-4],
        base64.urlsafe_b64encode(f"ab{secret}".encode()).decode()[4:-4],
    ]


def leaked(text: str) -> list[str]:
    return [f for s in (GH_TOKEN, LLM_KEY) for f in forms(s) if f in text]


def seeded_files() -> list[dict[str, Any]]:
    """The PR's files with the run's secrets added to a hunk in several encodings."""
    basic = base64.b64encode(f"x-access-token:{GH_TOKEN}".encode()).decode()
    lines = [
        f"+GH = '{GH_TOKEN}'",
        f"+HEADER = 'Basic {basic}'",
        f"+KEY = {urllib.parse.quote(LLM_KEY, safe='')}",
        f"+RAW = {LLM_KEY}",
    ]
    seeded = {
        "sha": "2" * 40,
        "filename": "app/leak.py",
        "status": "added",
        "additions": len(lines),
        "deletions": 0,
        "changes": len(lines),
        "patch": f"@@ -0,0 +1,{len(lines)} @@\n" + "\n".join(lines),
    }
    return [*PR_FILES, seeded]


def echoing(request: dict[str, Any]) -> FakeReply:
    """An obeying model that also knows the key it was sent: it echoes both back."""
    files = chunk_files(request)
    said = f"{GH_TOKEN} {base64.b64encode(GH_TOKEN.encode()).decode()} {LLM_KEY}"
    if not files:
        return FakeReply.ok(f"Overview. {said}")
    return FakeReply.json(
        {
            "summary": said,
            "findings": [
                {
                    "path": files[0],
                    "line": 1,
                    "side": "RIGHT",
                    "severity": "high",
                    "category": "security",
                    "title": f"Leaked {GH_TOKEN}",
                    "body": f"The diff says {said}\n\n{request['messages'][-1]['content'][-3000:]}",
                }
            ],
        }
    )


def run_seeded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], llm: FakeOpenAIServer
) -> tuple[Harness, FakeGitHub, Any, str]:
    gh = FakeGitHub("octo", "demo", token=GH_TOKEN)
    gh.start()
    try:
        gh.add_pull(1, seeded_files(), base_sha=BASE, head_sha=HEAD, title=f"PR {GH_TOKEN}", body=LLM_KEY)
        cfg = config_yaml(llm.base_url).replace("FAKE_LLM_KEY", "MY_GATEWAY")
        gh.set_content(".reviewbot.yml", cfg + "audit:\n  include_prompts: true\n", ref=BASE)
        work = tmp_path / "checkout"
        work.mkdir()
        monkeypatch.chdir(work)
        h = Harness(gh, llm, tmp_path, monkeypatch, capsys)
        monkeypatch.setenv("MY_GATEWAY", LLM_KEY)
        audit = tmp_path / "audit.jsonl"
        capsys.readouterr()
        result = h.run("--audit-log", str(audit))
        err = capsys.readouterr().err
        return h, gh, result, err + "\n" + (audit.read_text(encoding="utf-8") if audit.exists() else "")
    finally:
        gh.stop()


def everything(h: Harness, gh: FakeGitHub, result: Any, extra: str) -> str:
    sent_to_model = [json.dumps(r.body) for r in h.llm.requests]
    sent_to_github = [json.dumps(r.body) for r in gh.requests if r.body is not None]
    return "\n".join(
        [*sent_to_model, *sent_to_github, result.stdout, result.step_summary, json.dumps(result.outputs), extra]
    )


def test_secrets_in_the_diff_and_echoed_by_the_model_go_nowhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOpenAIServer(responder=echoing) as llm:
        h, gh, result, extra = run_seeded(tmp_path, monkeypatch, capsys, llm)
    assert h.llm.requests, "the model was called"
    assert gh.requests_to("POST", "/repos/octo/demo/pulls/1/reviews"), "a review was posted"
    assert "Audit" in extra or "call_id" in extra, "the audit log was written"
    text = everything(h, gh, result, extra)
    assert OWN_SECRET in text  # scrubbed, not dropped: the finding is still there
    assert leaked(text) == []


def test_secrets_echoed_in_an_error_body_go_nowhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(request: dict[str, Any]) -> FakeReply:
        return FakeReply.error(400, f"Incorrect API key provided: {LLM_KEY}; token {GH_TOKEN}", "invalid_request_error")

    with FakeOpenAIServer(responder=refuse) as llm:
        h, gh, result, extra = run_seeded(tmp_path, monkeypatch, capsys, llm)
    assert result.code == 3  # nothing reviewed
    text = everything(h, gh, result, extra)
    assert "Incorrect API key provided" in text  # the error is reported ...
    assert leaked(text) == []  # ... without the key


def test_cli_report_and_errors_never_show_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cliutil import run_cli

    diff = tmp_path / "x.diff"
    diff.write_text(
        f"diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x\n+y = '{LLM_KEY}'\n", encoding="utf-8"
    )
    with FakeOpenAIServer(responder=echoing) as llm:
        cfg = tmp_path / "c.yml"
        cfg.write_text(config_yaml(llm.base_url).replace("FAKE_LLM_KEY", "MY_GATEWAY"), encoding="utf-8")
        monkeypatch.setenv("MY_GATEWAY", LLM_KEY)
        monkeypatch.setenv("GITHUB_TOKEN", GH_TOKEN)
        code, out, err = run_cli(
            capsys,
            ["review", str(diff), "--config", str(cfg), "--format", "json", "--audit-log", str(tmp_path / "a.jsonl")],
        )
        sent = [json.dumps(r.body) for r in llm.requests]
    assert code == 0, err
    assert OWN_SECRET in out
    assert leaked("\n".join([out, err, *sent, (tmp_path / "a.jsonl").read_text(encoding="utf-8")])) == []


def test_scrubber_forms() -> None:
    scrubber = Scrubber([GH_TOKEN, "short"])
    for prefix in ("", "a", "ab", "x-access-token:"):  # every byte alignment inside base64
        for suffix in ("", "z", "zz"):
            raw = f"{prefix}{GH_TOKEN}{suffix}".encode()
            for encoded in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
                out = scrubber(f"<{encoded}>")
                assert OWN_SECRET in out and leaked(out) == []
    assert scrubber(urllib.parse.quote_plus(f"t={GH_TOKEN}")).endswith(OWN_SECRET)
    assert scrubber("short and sweet") == "short and sweet"  # too short to be a key
    assert scrubber.deep({"a": [GH_TOKEN, 1], GH_TOKEN: None}) == {"a": [OWN_SECRET, 1], OWN_SECRET: None}
    assert Scrubber([])(GH_TOKEN) == GH_TOKEN


def test_scrub_reads_key_variables_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", LLM_KEY)
    monkeypatch.setenv("GH_TOKEN", GH_TOKEN)
    monkeypatch.setenv("HOME_DIRECTORY_NAME", "not-a-secret-at-all")
    SCRUB.add_env(os.environ)
    assert SCRUB(f"{LLM_KEY} {GH_TOKEN} not-a-secret-at-all") == f"{OWN_SECRET} {OWN_SECRET} not-a-secret-at-all"
