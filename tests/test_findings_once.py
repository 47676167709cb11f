"""Every finding once, and inline only where the model looked: a file split across chunks,
cited from both, is one finding (the most severe copy); a path the model saw only as text in
another file's chunk becomes a general finding, never an inline comment on a file it did not
review."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from cliutil import run_cli
from fakes.openai_server import FakeOpenAIServer, FakeReply

MODEL = "openai/fake-once"


def config(tmp: Path, base: str, **review: Any) -> Path:
    path = tmp / "cfg.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "models": {"cheap": [MODEL], "frontier": [MODEL], "summary": "cheap"},
                "endpoints": {MODEL: {"api_base": base, "api_key_env": "ONCE_KEY"}},
                "prices": {MODEL: {"input": 1, "output": 1}},
                "risk": {"escalate_paths": ["secure/**"]},
                "review": {"instruction_files": [], **review},
            }
        ),
        encoding="utf-8",
    )
    return path


def long_file_diff(path: str, lines: int) -> str:
    body = "".join(
        f"+value_{i} = compute({i})  # a line long enough to cost a few tokens\n" for i in range(1, lines + 1)
    )
    return f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{lines} @@\n{body}"


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONCE_KEY", "sk-once")


def review(tmp: Path, capsys: pytest.CaptureFixture[str], diff: str, answer: Any, **cfg: Any) -> dict[str, Any]:
    (tmp / "c.diff").write_text(diff, encoding="utf-8")
    with FakeOpenAIServer(responder=answer) as server:
        code, out, err = run_cli(
            capsys,
            ["review", str(tmp / "c.diff"), "--config", str(config(tmp, server.base_url, **cfg)), "--format", "json"],
        )
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def test_a_line_cited_from_two_chunks_is_one_finding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    severities = iter(["low", "high", *["low"] * 50])
    replies = []

    def answer(body: dict[str, Any]) -> FakeReply:
        if "<diff>" not in body["messages"][-1]["content"]:
            return FakeReply.ok("An overview.")
        replies.append(body)
        return FakeReply.json(
            {
                "summary": "s",
                "findings": [
                    {
                        "path": "app/big.py",
                        "line": 3,
                        "side": "RIGHT",
                        "severity": next(severities),
                        "category": "bug",
                        "title": "compute() is called with an unchecked value",
                        "body": "It can raise.",
                    }
                ],
            }
        )

    report = review(tmp_path, capsys, long_file_diff("app/big.py", 400), answer, max_chunk_tokens=1000)
    assert len(report["chunks"]) >= 2  # the file really was split
    [finding] = report["findings"]
    assert finding["line"] == 3 and finding["placement"] == "inline" and finding["severity"] == "high"
    assert len(replies) == len(report["chunks"])
    assert (
        f"{len(replies) - 1} duplicate finding(s) merged: the same problem on the same line, cited from more than one chunk"
        in report["notes"]
    ), report["notes"]


def test_a_path_outside_the_chunk_is_never_inline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    diff = long_file_diff("app/a.py", 3) + long_file_diff("secure/b.py", 3)

    def answer(body: dict[str, Any]) -> FakeReply:
        text = body["messages"][-1]["content"]
        if "<diff>" not in text:
            return FakeReply.ok("An overview.")
        # Every chunk's reply cites secure/b.py, also the chunk that only holds app/a.py.
        return FakeReply.json(
            {
                "summary": "s",
                "findings": [
                    {
                        "path": "secure/b.py",
                        "line": 2,
                        "side": "RIGHT",
                        "severity": "medium",
                        "category": "security",
                        "title": "Seen in " + ("b" if "### secure/b.py" in text else "a"),
                        "body": "Details.",
                    }
                ],
            }
        )

    report = review(tmp_path, capsys, diff, answer)
    assert len(report["chunks"]) == 2
    by_title = {f["title"]: f for f in report["findings"]}
    assert by_title["Seen in b"]["placement"] == "inline" and by_title["Seen in b"]["path"] == "secure/b.py"
    seen_in_a = by_title["Seen in a"]
    assert seen_in_a["placement"] == "general" and seen_in_a["path"] is None
    assert "secure/b.py was not in the part of the diff this model reviewed" in seen_in_a["anchor_note"]
